package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// LocalPathProvisioner is the provisioner name of podkit's local-path
// StorageClasses: volumes that are directories on the host, like k3s'
// rancher.io/local-path. A claim whose data source is another claim gets
// a copy of that claim's directory (volume cloning); claims with other data
// sources are left Pending (see PersistentVolumeClaimBinderController).
const LocalPathProvisioner = "podkit.io/local-path"

// DefaultLocalPathClass is the StorageClass LocalPathDefaultClass creates.
const DefaultLocalPathClass = "local-path"

// LocalPathOptions configure the local-path provisioner.
type LocalPathOptions struct {
	// Root is the directory volumes are made under, one directory per
	// claim named <volume>_<namespace>_<claim> (default
	// $TMPDIR/podkit-local-path). The node agents must see it at the same
	// path: in podkit all nodes of one orchestrator share the host.
	Root string
	// NoDefaultClass keeps LocalPathDefaultClass from creating the
	// "local-path" StorageClass.
	NoDefaultClass bool
}

func (o LocalPathOptions) withDefaults() LocalPathOptions {
	if o.Root == "" {
		o.Root = filepath.Join(os.TempDir(), "podkit-local-path")
	}
	return o
}

// provision makes a volume for the claim in a directory under the root, and
// binds it. With a selected node (WaitForFirstConsumer) the volume is a
// local volume with node affinity to that node; without (Immediate), a
// hostPath volume any node may use. A claim with a data source gets a copy
// of its source claim's directory (see cloneSourceOf), or stays Pending.
func (r *claimBinder) provision(ctx context.Context, claim *objects.PersistentVolumeClaim, sc *objects.StorageClass, node string) error {
	name := "pvc-" + claim.UID
	dir := filepath.Join(r.lp.Root, fmt.Sprintf("%s_%s_%s", name, claim.Namespace, claim.Name))
	if ref := dataSourceOf(claim); ref != nil {
		src, wait, err := r.cloneSourceOf(ctx, claim, ref)
		if err != nil {
			return err
		}
		if wait != "" {
			return r.pending(ctx, claim, EventWarning, "ProvisioningFailed", wait)
		}
		if err := r.cloneInto(ctx, dir, src); err != nil {
			if ctx.Err() != nil || errors.Is(err, store.ErrNotFound) {
				return err // retried: the source may be gone, which the next try reports
			}
			return r.provisionFailed(ctx, claim, fmt.Errorf("clone claim %s: %w", src.claim.Name, err))
		}
	} else {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return r.provisionFailed(ctx, claim, err)
		}
		// Any user a container runs as may write, as with k3s' local-path.
		if err := os.Chmod(dir, 0o777); err != nil {
			return r.provisionFailed(ctx, claim, err)
		}
	}
	reclaim := objects.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	pv := &objects.PersistentVolume{
		ObjectMeta: objects.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: LocalPathProvisioner},
		},
		Spec: objects.PersistentVolumeSpec{
			Capacity:                      objects.ResourceList{objects.ResourceStorage: claim.Spec.Resources.Requests[objects.ResourceStorage]},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              sc.Name,
			VolumeMode:                    claim.Spec.VolumeMode,
			MountOptions:                  sc.MountOptions,
			ClaimRef:                      &objects.ObjectReference{Kind: kindPVC, APIVersion: "v1", Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID},
		},
	}
	if node != "" {
		pv.Spec.Local = &objects.LocalVolumeSource{Path: dir}
		pv.Spec.NodeAffinity = &objects.VolumeNodeAffinity{Required: &objects.NodeSelector{NodeSelectorTerms: []objects.NodeSelectorTerm{{
			MatchFields: []objects.NodeSelectorRequirement{{Key: "metadata.name", Operator: objects.NodeSelectorOpIn, Values: []string{node}}},
		}}}}
	} else {
		dirType := objects.HostPathDirectoryOrCreate
		pv.Spec.HostPath = &objects.HostPathVolumeSource{Path: dir, Type: &dirType}
	}
	if _, ok := pv.Spec.Capacity[objects.ResourceStorage]; !ok {
		return r.provisionFailed(ctx, claim, errors.New("the claim requests no storage"))
	}
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(kindPV, objects.Key{Name: name}); errors.Is(err, store.ErrNotFound) {
			if err := r.c.AdmitCreate(tx, pv); err != nil {
				return err
			}
			if err := tx.Create(pv); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		return bindInTx(tx, claim, name)
	})
	if err != nil {
		if errors.Is(err, objects.ErrInvalid) {
			return r.provisionFailed(ctx, claim, err)
		}
		return err
	}
	r.rec.Event(ctx, claim, EventNormal, "ProvisioningSucceeded", fmt.Sprintf("Successfully provisioned volume %s", name))
	return nil
}

func (r *claimBinder) provisionFailed(ctx context.Context, claim *objects.PersistentVolumeClaim, err error) error {
	r.rec.Event(ctx, claim, EventWarning, "ProvisioningFailed", "failed to provision volume with StorageClass: "+err.Error())
	return Terminal(fmt.Errorf("provision a volume for claim %s/%s: %w", claim.Namespace, claim.Name, err))
}

// remove deletes a provisioned volume's directory; only a directory under
// the root.
func (o LocalPathOptions) remove(pv *objects.PersistentVolume) error {
	if pv.Spec.Local == nil && pv.Spec.HostPath == nil {
		return nil
	}
	dir, err := o.volumeDir(pv)
	if err != nil {
		return fmt.Errorf("refusing to delete %w", err)
	}
	return os.RemoveAll(dir)
}

// volumeDir returns the directory of a local-path volume, which must be
// one directly under the root.
func (o LocalPathOptions) volumeDir(pv *objects.PersistentVolume) (string, error) {
	var dir string
	switch {
	case pv.Spec.Local != nil:
		dir = pv.Spec.Local.Path
	case pv.Spec.HostPath != nil:
		dir = pv.Spec.HostPath.Path
	}
	rel, err := filepath.Rel(o.Root, filepath.Clean(dir))
	if dir == "" || err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.ContainsRune(rel, filepath.Separator) {
		return "", fmt.Errorf("volume %s: %q is not a volume directory under %s", pv.Name, dir, o.Root)
	}
	return dir, nil
}

// LocalPathDefaultClass returns a Runnable, for Manager.AddRunnable, that
// creates at start the StorageClass "local-path" (provisioner
// podkit.io/local-path, WaitForFirstConsumer, reclaim Delete) marked as
// the default class, unless a default class exists already, a class of
// that name exists, or lp.NoDefaultClass is set. Claims that name no class
// then get local volumes, as on k3s.
func LocalPathDefaultClass(m *Manager, lp LocalPathOptions) Runnable {
	return RunnableFunc(func(ctx context.Context) error {
		if !lp.NoDefaultClass {
			if err := ensureDefaultClass(ctx, m); err != nil && ctx.Err() == nil {
				return fmt.Errorf("create the default StorageClass: %w", err)
			}
		}
		<-ctx.Done()
		return nil
	})
}

func ensureDefaultClass(ctx context.Context, m *Manager) error {
	c := m.Client()
	return c.Txn(ctx, func(tx store.Tx) error {
		classes, err := tx.List(kindStorageClass, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, o := range classes {
			if o.GetObjectMeta().Name == DefaultLocalPathClass || o.GetObjectMeta().Annotations[objects.AnnotationIsDefaultStorageClass] == "true" {
				return nil
			}
		}
		wait := objects.VolumeBindingWaitForFirstConsumer
		del := objects.PersistentVolumeReclaimDelete
		sc := &objects.StorageClass{
			ObjectMeta: objects.ObjectMeta{
				Name:        DefaultLocalPathClass,
				Annotations: map[string]string{objects.AnnotationIsDefaultStorageClass: "true"},
			},
			Provisioner: LocalPathProvisioner, ReclaimPolicy: &del, VolumeBindingMode: &wait,
		}
		if err := c.AdmitCreate(tx, sc); err != nil {
			return err
		}
		return tx.Create(sc)
	})
}
