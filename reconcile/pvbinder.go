package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const (
	kindPV           = "PersistentVolume"
	kindStorageClass = "StorageClass"
)

// Annotations of claims and volumes, as Kubernetes' volume controller
// writes and reads them.
const (
	// AnnotationSelectedNode is set on a WaitForFirstConsumer claim by the
	// scheduler when it binds the first pod using it: the node the volume
	// must be reachable from. The binder waits for it.
	AnnotationSelectedNode = "volume.kubernetes.io/selected-node"
	annBindCompleted       = "pv.kubernetes.io/bind-completed"
	annBoundByController   = "pv.kubernetes.io/bound-by-controller"
	annProvisionedBy       = "pv.kubernetes.io/provisioned-by"
	annStorageProvisioner  = "volume.kubernetes.io/storage-provisioner"
)

// PersistentVolumeClaimBinderController returns the claim binder, for
// Manager.Add, with the local-path provisioner lp.
//
// It binds each PersistentVolumeClaim to a PersistentVolume, as Kubernetes'
// persistent volume controller does: a claim naming a volume
// (spec.volumeName) gets it; otherwise the smallest available volume of
// the claim's StorageClass (its own, or the default class when it names
// none, which is then written into the claim; "" for volumes without a
// class) with at least the requested storage, every requested access mode,
// the same volume mode and labels matching the claim's selector. Binding
// sets the volume's claimRef and the claim's volumeName, and both phases
// to Bound, in one transaction. When no volume fits and the class's
// provisioner is the local-path one, a volume is provisioned for the
// claim.
//
// A claim of a WaitForFirstConsumer class waits until the scheduler has
// chosen a node for the first pod using it and written it into the
// claim's volume.kubernetes.io/selected-node annotation; then only volumes
// whose node affinity admits that node fit, and a provisioned volume is
// made on that node.
//
// A bound claim asking for more storage than its local-path volume has
// (podkit's Orchestrator lets it grow only when its class sets
// allowVolumeExpansion, as Kubernetes' admission does) has the volume's
// capacity, and its own status.capacity and status.allocatedResources,
// set to the new size at once, with a VolumeResizeSuccessful event: a
// directory has nothing to resize.
//
// A claim with a data source (spec.dataSource or spec.dataSourceRef) binds
// only to a volume made or reserved for it (claimRef naming it), never to
// a free one, whose data would not be the source's. The local-path
// provisioner clones: when the source is a PersistentVolumeClaim of the
// same namespace, the new volume's directory is a copy of the source
// volume's (contents, directories, symbolic links, modes, times, and
// owners where podkit runs as root), made once the source is Bound,
// provided the clone asks for at least the source's storage and the same
// volume mode and the source volume is a local-path one (its class may
// differ, as Kubernetes allows for the same driver). Until then the claim
// stays Pending with a ProvisioningFailed event saying why, worded as
// Kubernetes' CSI external-provisioner words it, and is reconciled again
// when the source claim is created, bound or deleted. The copy is of the
// files as they are while it runs, not a snapshot: stop writers for a
// consistent clone. Any other data source (a VolumeSnapshot, a volume
// populator's kind) cannot be provisioned by podkit: the claim stays
// Pending, with an event saying so, rather than getting an empty volume.
func PersistentVolumeClaimBinderController(m *Manager, lp LocalPathOptions) Controller {
	r := &claimBinder{c: m.Client(), clock: m.Clock(), rec: m.Recorder(), lp: lp.withDefaults()}
	return Controller{
		Name: "persistentvolumeclaim-binder",
		For:  kindPVC,
		Watches: []Watch{
			{Kind: kindPV, Map: r.claimsOfVolume},
			{Kind: kindStorageClass, Map: r.pendingClaims},
			{Kind: kindPVC, Map: r.clonesOf, Changed: sourceClaimChanged},
		},
		Reconciler: r,
		Workers:    2,
	}
}

type claimBinder struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
	lp    LocalPathOptions
}

// claimsOfVolume maps a volume to the claim it is bound to and the clones
// waiting for that claim's volume, or, when it is free, to every claim
// waiting for a volume.
func (r *claimBinder) claimsOfVolume(obj objects.Object) []Request {
	pv := obj.(*objects.PersistentVolume)
	if ref := pv.Spec.ClaimRef; ref != nil {
		return append([]Request{{Namespace: ref.Namespace, Name: ref.Name}}, r.clonesOfClaim(ref.Namespace, ref.Name)...)
	}
	return r.pendingClaims(obj)
}

func (r *claimBinder) pendingClaims(objects.Object) []Request {
	inf := r.c.m.currentRun().informer(kindPVC)
	if inf == nil {
		return nil
	}
	claims, _ := inf.List(store.ListOptions{}, func(o objects.Object) bool {
		return o.(*objects.PersistentVolumeClaim).Spec.VolumeName == ""
	})
	reqs := make([]Request, len(claims))
	for i, o := range claims {
		reqs[i] = RequestFor(o)
	}
	return reqs
}

func (r *claimBinder) Reconcile(ctx context.Context, req Request) (Result, error) {
	claim, err := Get[*objects.PersistentVolumeClaim](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if claim.IsDeleting() {
		return Result{}, nil
	}
	if claim.Spec.VolumeName != "" {
		return Result{}, r.syncBound(ctx, claim)
	}
	class, err := r.claimClass(ctx, claim)
	if err != nil {
		return Result{}, err
	}
	var sc *objects.StorageClass
	if class != "" {
		if sc, err = Get[*objects.StorageClass](ctx, r.c, objects.Key{Name: class}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return Result{}, err
		}
	}
	node := claim.Annotations[AnnotationSelectedNode]
	delayed := sc != nil && sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == objects.VolumeBindingWaitForFirstConsumer
	if delayed && node == "" {
		return Result{}, r.pending(ctx, claim, EventNormal, "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
	}
	var nodeObj *objects.Node
	if delayed {
		if nodeObj, err = Get[*objects.Node](ctx, r.c, objects.Key{Name: node}); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Result{}, r.pending(ctx, claim, EventWarning, "ProvisioningFailed", fmt.Sprintf("selected node %q does not exist", node))
			}
			return Result{}, err
		}
	}
	pvs, err := List[*objects.PersistentVolume](ctx, r.c, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	if pv := matchVolume(claim, class, pvs, nodeObj); pv != nil {
		return Result{}, r.bind(ctx, claim, pv)
	}
	switch {
	case sc != nil && sc.Provisioner == LocalPathProvisioner:
		return Result{}, r.provision(ctx, claim, sc, node)
	case sc != nil && sc.Provisioner != noProvisioner:
		return Result{}, r.pending(ctx, claim, EventNormal, "ExternalProvisioning",
			fmt.Sprintf("Waiting for a volume to be created either by the external provisioner '%s' or manually by the system administrator", sc.Provisioner))
	case class == "":
		return Result{}, r.pending(ctx, claim, EventNormal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set")
	case sc == nil:
		return Result{}, r.pending(ctx, claim, EventWarning, "ProvisioningFailed", fmt.Sprintf("storageclass.storage.k8s.io %q not found", class))
	}
	return Result{}, r.pending(ctx, claim, EventNormal, "FailedBinding", "no persistent volumes available for this claim")
}

// noProvisioner is the provisioner of classes of pre-made volumes only.
const noProvisioner = "kubernetes.io/no-provisioner"

// claimClass returns the claim's class name, writing the default class into
// a claim that names none, as Kubernetes does (retroactively too).
func (r *claimBinder) claimClass(ctx context.Context, claim *objects.PersistentVolumeClaim) (string, error) {
	if claim.Spec.StorageClassName != nil {
		return *claim.Spec.StorageClassName, nil
	}
	classes, err := List[*objects.StorageClass](ctx, r.c, store.ListOptions{})
	if err != nil {
		return "", err
	}
	var def *objects.StorageClass
	for _, c := range classes {
		// Several defaults: the newest wins, as in Kubernetes.
		if c.Annotations[objects.AnnotationIsDefaultStorageClass] == "true" &&
			(def == nil || c.CreationTimestamp.After(def.CreationTimestamp.Time) ||
				(c.CreationTimestamp.Time.Equal(def.CreationTimestamp.Time) && c.Name < def.Name)) {
			def = c
		}
	}
	if def == nil {
		return "", nil
	}
	name := def.Name
	claim.Spec.StorageClassName = &name
	if err := r.c.Update(ctx, claim); err != nil {
		return "", err
	}
	return name, nil
}

// matchVolume returns the volume a claim binds to: one bound in advance to
// it, else the smallest that fits, except for a claim with a data source.
func matchVolume(claim *objects.PersistentVolumeClaim, class string, pvs []*objects.PersistentVolume, node *objects.Node) *objects.PersistentVolume {
	populated := dataSourceOf(claim) != nil
	want := claim.Spec.Resources.Requests[objects.ResourceStorage]
	sel := objects.Everything()
	if claim.Spec.Selector != nil {
		s, err := objects.LabelSelectorAsSelector(claim.Spec.Selector)
		if err != nil {
			return nil
		}
		sel = s
	}
	var best *objects.PersistentVolume
	for _, pv := range pvs {
		if pv.IsDeleting() || pv.Spec.StorageClassName != class {
			continue
		}
		if ref := pv.Spec.ClaimRef; ref != nil {
			if ref.Namespace != claim.Namespace || ref.Name != claim.Name || (ref.UID != "" && ref.UID != claim.UID) {
				continue
			}
		} else if populated {
			continue
		}
		have := pv.Spec.Capacity[objects.ResourceStorage]
		if have.Cmp(want) < 0 || volumeMode(pv.Spec.VolumeMode) != volumeMode(claim.Spec.VolumeMode) || !sel.Matches(pv.Labels) {
			continue
		}
		if slices.ContainsFunc(claim.Spec.AccessModes, func(m objects.PersistentVolumeAccessMode) bool { return !slices.Contains(pv.Spec.AccessModes, m) }) {
			continue
		}
		if node != nil {
			if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil && !nodeMatchesSelector(node, na.Required) {
				continue
			}
		}
		if pv.Spec.ClaimRef != nil {
			return pv // bound in advance to this claim
		}
		if best == nil {
			best = pv
			continue
		}
		bc := best.Spec.Capacity[objects.ResourceStorage]
		if c := have.Cmp(bc); c < 0 || (c == 0 && pv.Name < best.Name) {
			best = pv
		}
	}
	return best
}

func volumeMode(m *objects.PersistentVolumeMode) objects.PersistentVolumeMode {
	if m == nil {
		return objects.PersistentVolumeFilesystem
	}
	return *m
}

// bind binds claim and volume to each other in one transaction, after
// checking that both are still as read.
func (r *claimBinder) bind(ctx context.Context, claim *objects.PersistentVolumeClaim, pv *objects.PersistentVolume) error {
	err := r.c.Txn(ctx, func(tx store.Tx) error { return bindInTx(tx, claim, pv.Name) })
	if err != nil {
		return err
	}
	r.rec.Event(ctx, claim, EventNormal, "Bound", fmt.Sprintf("Successfully bound to volume %s", pv.Name))
	return nil
}

func bindInTx(tx store.Tx, claim *objects.PersistentVolumeClaim, volume string) error {
	o, err := tx.Get(kindPV, objects.Key{Name: volume})
	if err != nil {
		return err
	}
	pv := o.(*objects.PersistentVolume)
	if ref := pv.Spec.ClaimRef; pv.IsDeleting() || (ref != nil && (ref.Namespace != claim.Namespace || ref.Name != claim.Name || (ref.UID != "" && ref.UID != claim.UID))) {
		return fmt.Errorf("bind claim %s/%s: volume %s was taken: %w", claim.Namespace, claim.Name, volume, store.ErrConflict)
	}
	o, err = tx.Get(kindPVC, claim.Key())
	if err != nil {
		return err
	}
	c := o.(*objects.PersistentVolumeClaim)
	if c.UID != claim.UID || c.IsDeleting() || (c.Spec.VolumeName != "" && c.Spec.VolumeName != volume) {
		return fmt.Errorf("bind claim %s/%s: the claim changed: %w", claim.Namespace, claim.Name, store.ErrConflict)
	}
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID == "" {
		pv.Spec.ClaimRef = &objects.ObjectReference{Kind: kindPVC, APIVersion: "v1", Namespace: c.Namespace, Name: c.Name, UID: c.UID}
		setAnnotation(&pv.ObjectMeta, annBoundByController, "yes")
		if err := tx.Update(pv); err != nil {
			return err
		}
	}
	if pv.Status.Phase != objects.VolumeBound {
		pv.Status.Phase, pv.Status.Message, pv.Status.Reason = objects.VolumeBound, "", ""
		if err := tx.UpdateStatus(pv); err != nil {
			return err
		}
	}
	if c.Spec.VolumeName != volume || c.Annotations[annBindCompleted] != "yes" {
		if c.Spec.VolumeName == "" {
			setAnnotation(&c.ObjectMeta, annBoundByController, "yes")
		}
		c.Spec.VolumeName = volume
		setAnnotation(&c.ObjectMeta, annBindCompleted, "yes")
		if err := tx.Update(c); err != nil {
			return err
		}
	}
	st := objects.PersistentVolumeClaimStatus{
		Phase: objects.ClaimBound, AccessModes: slices.Clone(pv.Spec.AccessModes),
		Capacity:   objects.ResourceList{objects.ResourceStorage: pv.Spec.Capacity[objects.ResourceStorage]},
		Conditions: c.Status.Conditions,
	}
	if !reflect.DeepEqual(st, c.Status) {
		c.Status = st
		if err := tx.UpdateStatus(c); err != nil {
			return err
		}
	}
	copyInto(claim, c)
	return nil
}

// syncBound completes or checks the binding of a claim that names its
// volume.
func (r *claimBinder) syncBound(ctx context.Context, claim *objects.PersistentVolumeClaim) error {
	pv, err := Get[*objects.PersistentVolume](ctx, r.c, objects.Key{Name: claim.Spec.VolumeName})
	if errors.Is(err, store.ErrNotFound) {
		if claim.Status.Phase == objects.ClaimBound || claim.Status.Phase == objects.ClaimLost {
			if claim.Status.Phase != objects.ClaimLost {
				r.rec.Event(ctx, claim, EventWarning, "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
			}
			return r.setClaimPhase(ctx, claim, objects.ClaimLost)
		}
		return r.pending(ctx, claim, EventNormal, "FailedBinding", fmt.Sprintf("volume %q not found", claim.Spec.VolumeName))
	}
	if err != nil {
		return err
	}
	if ref := pv.Spec.ClaimRef; ref != nil && ref.UID == claim.UID && pv.Status.Phase == objects.VolumeBound &&
		claim.Status.Phase == objects.ClaimBound && claim.Annotations[annBindCompleted] == "yes" {
		return r.expand(ctx, claim, pv)
	}
	if ref := pv.Spec.ClaimRef; ref != nil && (ref.Namespace != claim.Namespace || ref.Name != claim.Name || (ref.UID != "" && ref.UID != claim.UID)) {
		return r.pending(ctx, claim, EventWarning, "FailedBinding", fmt.Sprintf("volume %q already bound to a different claim.", pv.Name))
	}
	return r.c.Txn(ctx, func(tx store.Tx) error { return bindInTx(tx, claim, pv.Name) })
}

// expand grows the volume of a bound claim that asks for more storage than
// its volume has, when podkit's local-path provisioner made the volume
// (admission let the claim grow only if its class allows expansion): a
// directory has no size to change, so the volume's capacity and the
// claim's status.capacity and status.allocatedResources take the new size
// at once, as Kubernetes reports an expansion that needs no step on the
// node. Other volumes are an external resizer's, which podkit has not.
func (r *claimBinder) expand(ctx context.Context, claim *objects.PersistentVolumeClaim, pv *objects.PersistentVolume) error {
	want := claim.Spec.Resources.Requests.Name(objects.ResourceStorage, objects.BinarySI)
	if want.Cmp(pv.Spec.Capacity.Name(objects.ResourceStorage, objects.BinarySI)) <= 0 || pv.Annotations[annProvisionedBy] != LocalPathProvisioner {
		return nil
	}
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		o, err := tx.Get(kindPV, objects.Key{Name: pv.Name})
		if err != nil {
			return err
		}
		v := o.(*objects.PersistentVolume)
		v.Spec.Capacity = objects.ResourceList{objects.ResourceStorage: want}
		if err := tx.Update(v); err != nil {
			return err
		}
		if o, err = tx.Get(kindPVC, claim.Key()); err != nil {
			return err
		}
		c := o.(*objects.PersistentVolumeClaim)
		if c.UID != claim.UID {
			return store.ErrConflict
		}
		c.Status.Capacity = objects.ResourceList{objects.ResourceStorage: want}
		c.Status.AllocatedResources = objects.ResourceList{objects.ResourceStorage: want}
		return tx.UpdateStatus(c)
	})
	if err != nil {
		return err
	}
	r.rec.Event(ctx, claim, EventNormal, "VolumeResizeSuccessful", fmt.Sprintf("volume %s expanded to %s", pv.Name, want.String()))
	return nil
}

func (r *claimBinder) setClaimPhase(ctx context.Context, claim *objects.PersistentVolumeClaim, phase objects.PersistentVolumeClaimPhase) error {
	if claim.Status.Phase == phase {
		return nil
	}
	claim.Status.Phase = phase
	return r.c.UpdateStatus(ctx, claim)
}

// pending records why a claim waits, and keeps its phase Pending.
func (r *claimBinder) pending(ctx context.Context, claim *objects.PersistentVolumeClaim, eventType, reason, message string) error {
	if claim.Status.Phase == objects.ClaimPending || claim.Status.Phase == "" {
		r.rec.Event(ctx, claim, eventType, reason, message)
	}
	return r.setClaimPhase(ctx, claim, objects.ClaimPending)
}

func setAnnotation(m *objects.ObjectMeta, k, v string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[k] = v
}

// PersistentVolumeController returns the volume controller, for
// Manager.Add: it keeps each PersistentVolume's phase (Available, Bound,
// Released) and reclaims a volume whose claim is gone by its
// persistentVolumeReclaimPolicy: Retain keeps it Released for an
// administrator; Delete removes it, and for a volume of the local-path
// provisioner lp its directory; a volume no podkit provisioner made cannot
// be deleted and turns Failed, as in Kubernetes.
func PersistentVolumeController(m *Manager, lp LocalPathOptions) Controller {
	r := &volumeReconciler{c: m.Client(), rec: m.Recorder(), lp: lp.withDefaults()}
	return Controller{
		Name:       "persistentvolume",
		For:        kindPV,
		Watches:    []Watch{{Kind: kindPVC, Map: volumeOfClaim}},
		Reconciler: r,
		Workers:    2,
	}
}

type volumeReconciler struct {
	c   *Client
	rec EventRecorder
	lp  LocalPathOptions
}

func volumeOfClaim(obj objects.Object) []Request {
	if v := obj.(*objects.PersistentVolumeClaim).Spec.VolumeName; v != "" {
		return []Request{{Name: v}}
	}
	return nil
}

func (r *volumeReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	pv, err := Get[*objects.PersistentVolume](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil || pv.IsDeleting() {
		return Result{}, err
	}
	ref := pv.Spec.ClaimRef
	if ref == nil {
		return Result{}, r.setPhase(ctx, pv, objects.VolumeAvailable, "", "")
	}
	claim, err := Get[*objects.PersistentVolumeClaim](ctx, r.c, objects.Key{Namespace: ref.Namespace, Name: ref.Name})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Result{}, err
	}
	switch {
	case err == nil && (ref.UID == "" || ref.UID == claim.UID):
		if claim.Spec.VolumeName == pv.Name {
			return Result{}, r.setPhase(ctx, pv, objects.VolumeBound, "", "")
		}
		if ref.UID == "" {
			return Result{}, r.setPhase(ctx, pv, objects.VolumeAvailable, "", "") // reserved for the claim
		}
		return Result{}, nil // the binder is binding it
	case ref.UID == "":
		return Result{}, r.setPhase(ctx, pv, objects.VolumeAvailable, "", "") // reserved for a claim to come
	}
	// The claim is gone: release and reclaim.
	if pv.Status.Phase != objects.VolumeReleased && pv.Status.Phase != objects.VolumeFailed {
		if err := r.setPhase(ctx, pv, objects.VolumeReleased, "", ""); err != nil {
			return Result{}, err
		}
	}
	switch pv.Spec.PersistentVolumeReclaimPolicy {
	case objects.PersistentVolumeReclaimDelete:
		if pv.Annotations[annProvisionedBy] != LocalPathProvisioner {
			return Result{}, r.fail(ctx, pv, "VolumeFailedDelete", "error getting deleter volume plugin for volume \""+pv.Name+"\": no deletable volume plugin matched")
		}
		if err := r.lp.remove(pv); err != nil {
			return Result{}, r.fail(ctx, pv, "VolumeFailedDelete", err.Error())
		}
		_, err := r.c.Delete(ctx, kindPV, pv.Key(), store.DeleteOptions{Preconditions: &store.Preconditions{UID: pv.UID}})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Result{}, err
		}
		r.rec.Event(ctx, pv, EventNormal, "VolumeDelete", "Deleted volume "+pv.Name)
	case objects.PersistentVolumeReclaimRecycle:
		return Result{}, r.fail(ctx, pv, "VolumeFailedRecycle", "Recycle is not supported by podkit; use Delete or Retain")
	}
	return Result{}, nil
}

func (r *volumeReconciler) fail(ctx context.Context, pv *objects.PersistentVolume, reason, message string) error {
	if pv.Status.Phase != objects.VolumeFailed {
		r.rec.Event(ctx, pv, EventWarning, reason, message)
	}
	return r.setPhase(ctx, pv, objects.VolumeFailed, reason, message)
}

func (r *volumeReconciler) setPhase(ctx context.Context, pv *objects.PersistentVolume, phase objects.PersistentVolumePhase, reason, message string) error {
	if pv.Status.Phase == phase && pv.Status.Reason == reason && pv.Status.Message == message {
		return nil
	}
	pv.Status.Phase, pv.Status.Reason, pv.Status.Message = phase, reason, message
	return r.c.UpdateStatus(ctx, pv)
}
