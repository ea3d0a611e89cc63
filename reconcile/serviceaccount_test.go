package reconcile

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func hasDefaultServiceAccount(namespace string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get(kindServiceAccount, objects.Key{Namespace: namespace, Name: objects.DefaultServiceAccountName})
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	}
}

// Every namespace gets its "default" ServiceAccount, again when it is
// deleted, and none once the namespace is terminating.
func TestServiceAccountController(t *testing.T) {
	e := newEnv(t, withControllers(func(m *Manager) error { return m.Add(ServiceAccountController(m)) }))
	e.waitFor("default's default account", hasDefaultServiceAccount("default"))
	e.createNamespace("team")
	e.waitFor("team's default account", hasDefaultServiceAccount("team"))

	e.delete(kindServiceAccount, objects.Key{Namespace: "team", Name: objects.DefaultServiceAccountName}, "")
	e.waitFor("team's default account made again", hasDefaultServiceAccount("team"))

	// Another account is left alone.
	e.create(&objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Namespace: "team", Name: "builder"}})
	e.delete(kindServiceAccount, objects.Key{Namespace: "team", Name: "builder"}, "")
	_, err := e.get(kindServiceAccount, objects.Key{Namespace: "team", Name: "builder"})
	require.ErrorIs(t, err, store.ErrNotFound)

	// A namespace being deleted gets none back (its finalizer keeps it:
	// no garbage collector runs here to empty it).
	e.delete(kindNamespace, objects.Key{Name: "team"}, "")
	e.delete(kindServiceAccount, objects.Key{Namespace: "team", Name: objects.DefaultServiceAccountName}, "")
	e.createNamespace("later") // reconciled after team's deletion was seen
	e.waitFor("later's default account", hasDefaultServiceAccount("later"))
	_, err = e.get(kindServiceAccount, objects.Key{Namespace: "team", Name: objects.DefaultServiceAccountName})
	require.ErrorIs(t, err, store.ErrNotFound, "a terminating namespace gets no new account")
}
