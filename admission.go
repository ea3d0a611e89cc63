package podkit

import (
	"errors"
	"fmt"

	"github.com/podkit/podkit/network/ingress"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// admitServiceAccount gives a new pod that names no service account the
// namespace's "default" one, refuses one that names an account that does
// not exist, and gives a pod without imagePullSecrets its account's, as
// Kubernetes' ServiceAccount admission plugin does. A pod whose namespace
// has no "default" account yet (the ServiceAccount controller makes it
// once Run has started) is admitted without one, where Kubernetes would
// refuse it until the account exists.
func admitServiceAccount(tx store.ReadTx, p *objects.Pod) error {
	if p.Spec.ServiceAccountName == "" {
		p.Spec.ServiceAccountName = objects.DefaultServiceAccountName
	}
	obj, err := tx.Get(KindServiceAccount, objects.Key{Namespace: p.Namespace, Name: p.Spec.ServiceAccountName})
	switch {
	case errors.Is(err, store.ErrNotFound) && p.Spec.ServiceAccountName == objects.DefaultServiceAccountName:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("pods %q is forbidden: error looking up service account %s/%s: serviceaccount %q not found: %w",
			objectName(&p.ObjectMeta), p.Namespace, p.Spec.ServiceAccountName, p.Spec.ServiceAccountName, ErrForbidden)
	case err != nil:
		return err
	}
	if sa := obj.(*objects.ServiceAccount); len(p.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		p.Spec.ImagePullSecrets = append([]objects.LocalObjectReference(nil), sa.ImagePullSecrets...)
	}
	return nil
}

// admitRuntimeClass does what Kubernetes' RuntimeClass admission does for
// a new pod: a pod naming a RuntimeClass that does not exist is refused;
// one naming a class gets its overhead and its scheduling (node selector
// and tolerations) merged in; a pod that sets an overhead of its own that
// is not its class's is refused (objects.ApplyRuntimeClass).
func admitRuntimeClass(tx store.ReadTx, p *objects.Pod) error {
	var rc *objects.RuntimeClass
	if name := p.Spec.RuntimeClassName; name != nil {
		obj, err := tx.Get(KindRuntimeClass, objects.Key{Name: *name})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("pods %q is forbidden: pod rejected: RuntimeClass %q not found: %w", objectName(&p.ObjectMeta), *name, ErrForbidden)
		case err != nil:
			return err
		}
		rc = obj.(*objects.RuntimeClass)
	}
	if err := objects.ApplyRuntimeClass(p, rc); err != nil {
		return fmt.Errorf("pods %q is forbidden: %v: %w", objectName(&p.ObjectMeta), err, ErrForbidden)
	}
	return nil
}

// admitPodPriority resolves a new pod's priority from its PriorityClass (or
// the global default class), as Kubernetes' Priority admission plugin does,
// and refuses a class that does not exist.
func admitPodPriority(tx store.ReadTx, p *objects.Pod) error {
	if p.Spec.PriorityClassName == "" {
		// Read for every pod created: peek rather than copy every class.
		classes, err := store.PeekList(tx, KindPriorityClass, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, obj := range classes {
			if pc := obj.(*objects.PriorityClass); pc.GlobalDefault {
				p.Spec.PriorityClassName = pc.Name
				return setPriority(p, pc)
			}
		}
		if p.Spec.Priority == nil {
			zero := int32(0)
			p.Spec.Priority = &zero
		}
		return nil
	}
	obj, err := tx.Get(KindPriorityClass, objects.Key{Name: p.Spec.PriorityClassName})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("pods %q is forbidden: no PriorityClass with name %s was found: %w",
			objectName(&p.ObjectMeta), p.Spec.PriorityClassName, ErrForbidden)
	}
	if err != nil {
		return err
	}
	return setPriority(p, obj.(*objects.PriorityClass))
}

func setPriority(p *objects.Pod, pc *objects.PriorityClass) error {
	if p.Spec.Priority != nil && *p.Spec.Priority != pc.Value {
		return fmt.Errorf("pods %q is forbidden: the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name: %w",
			objectName(&p.ObjectMeta), *p.Spec.Priority, pc.Value, ErrForbidden)
	}
	v := pc.Value
	p.Spec.Priority = &v
	if p.Spec.PreemptionPolicy == nil && pc.PreemptionPolicy != nil {
		pol := *pc.PreemptionPolicy
		p.Spec.PreemptionPolicy = &pol
	}
	return nil
}

// admitIngressClass gives a new Ingress that names no class, by field or
// by the kubernetes.io/ingress.class annotation, the default IngressClass
// (ingressclass.kubernetes.io/is-default-class: "true"), the newest when
// several are, as Kubernetes' DefaultIngressClass admission does: the
// Ingress keeps its class when the default changes later.
func admitIngressClass(tx store.ReadTx, ing *objects.Ingress) error {
	if ing.Spec.IngressClassName != nil {
		return nil
	}
	if _, ok := ing.Annotations[ingress.AnnotationIngressClass]; ok {
		return nil
	}
	classes, err := store.PeekList(tx, KindIngressClass, store.ListOptions{})
	if err != nil {
		return err
	}
	var def *objects.IngressClass
	for _, obj := range classes { // sorted by name
		ic := obj.(*objects.IngressClass)
		if ic.Annotations[objects.AnnotationIsDefaultIngressClass] == "true" &&
			(def == nil || ic.CreationTimestamp.After(def.CreationTimestamp.Time)) {
			def = ic
		}
	}
	if def != nil {
		name := def.Name
		ing.Spec.IngressClassName = &name
	}
	return nil
}

// admitClaimResize refuses to grow a bound claim unless its class allows
// expansion, as Kubernetes' PersistentVolumeClaimResize admission plugin
// does: only a claim of a class with allowVolumeExpansion may grow.
func admitClaimResize(tx store.Tx, claim, old *objects.PersistentVolumeClaim) error {
	if old.Status.Phase != objects.ClaimBound {
		return nil
	}
	now, before := claim.Spec.Resources.Requests.Name(objects.ResourceStorage, objects.BinarySI), old.Spec.Resources.Requests.Name(objects.ResourceStorage, objects.BinarySI)
	if now.Cmp(before) <= 0 {
		return nil
	}
	class, oldClass := claimClass(claim), claimClass(old)
	allowed := false
	if class != "" && class == oldClass {
		if o, err := tx.Get(KindStorageClass, objects.Key{Name: class}); err == nil {
			sc := o.(*objects.StorageClass)
			allowed = sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if !allowed {
		return fmt.Errorf("persistentvolumeclaims %q is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize: %w",
			claim.Name, ErrForbidden)
	}
	return nil
}

func claimClass(c *objects.PersistentVolumeClaim) string {
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return ""
}
