package reconcile

import (
	"context"
	"errors"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindServiceAccount = "ServiceAccount"

// ServiceAccountController gives every namespace that is not terminating
// its "default" ServiceAccount, and makes it again when it is deleted, as
// Kubernetes' serviceaccounts controller does.
func ServiceAccountController(m *Manager) Controller {
	c := m.Client()
	return Controller{
		Name: "serviceaccount",
		For:  kindNamespace,
		Watches: []Watch{{Kind: kindServiceAccount, Map: func(obj objects.Object) []Request {
			if m := obj.GetObjectMeta(); m.Name == objects.DefaultServiceAccountName {
				return []Request{{Name: m.Namespace}}
			}
			return nil
		}}},
		Reconciler: ReconcilerFunc(func(ctx context.Context, req Request) (Result, error) {
			return Result{}, ensureDefaultServiceAccount(ctx, c, req.Name)
		}),
	}
}

func ensureDefaultServiceAccount(ctx context.Context, c *Client, namespace string) error {
	ns, err := c.Get(ctx, kindNamespace, objects.Key{Name: namespace})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || ns.GetObjectMeta().IsDeleting() || ns.(*objects.Namespace).Status.Phase == objects.NamespaceTerminating {
		return err
	}
	_, err = c.Get(ctx, kindServiceAccount, objects.Key{Namespace: namespace, Name: objects.DefaultServiceAccountName})
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	sa := &objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: objects.DefaultServiceAccountName}}
	err = c.Create(ctx, sa)
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil
	}
	return err
}
