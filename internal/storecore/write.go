package storecore

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Stamp is what one commit writes into every object it stores.
type Stamp struct {
	// ResourceVersion is the commit's revision as a decimal string; one
	// string shared by every object of the commit.
	ResourceVersion string
	// Now is the time of the commit, for creationTimestamp and
	// deletionTimestamp.
	Now objects.Time
}

// Op says what a backend does with the result of a write.
type Op int

// Ops.
const (
	// OpNone: nothing changed; no write, no event, no new revision.
	OpNone Op = iota
	// OpPut: store Result.Obj in place of the old object (a Modified event).
	OpPut
	// OpRemove: remove the object; Result.Obj is its last state, stamped
	// with the commit's revision (a Deleted event).
	OpRemove
)

// Result is what an update or delete leads to. Obj is never modified
// afterwards; it may share memory with the old stored object, which is
// never modified either.
type Result struct {
	Op  Op
	Obj objects.Object
}

// CheckCreate checks the metadata of a new object and returns the key it is
// stored under. The name is empty when the backend must generate one from
// metadata.generateName (see GenerateName).
func (k *Kind) CheckCreate(in objects.Object) (objects.Key, error) {
	m := in.GetObjectMeta()
	errs := k.checkTypeMeta(in)
	if m.Name == "" && m.GenerateName == "" {
		errs = append(errs, objects.Required(objects.NewPath("metadata", "name"), "name or generateName is required"))
	}
	if k.Info.Namespaced && m.Namespace == "" {
		errs = append(errs, objects.Required(objects.NewPath("metadata", "namespace"), ""))
	}
	if m.ResourceVersion != "" {
		errs = append(errs, objects.Invalid(objects.NewPath("metadata", "resourceVersion"), m.ResourceVersion,
			"must be empty when creating an object"))
	}
	if err := errs.ToError(k.Info.Kind, nameOf(m)); err != nil {
		return objects.Key{}, err
	}
	return k.KeyOf(m), nil
}

// NewStored returns the copy of in to store under key: server fields set as
// Kubernetes sets them on create (uid, resourceVersion, generation 1,
// creationTimestamp, no deletion fields, apiVersion and kind), then
// completed by the kind's store.CreatePreparer, if it has one (which, for
// the built-in kinds but Node, resets the status). A kind without one
// keeps the status as given. With adopt, the copy is in itself (see
// store.Adopter). Hand it back to the caller with StampCreated.
func (k *Kind) NewStored(in objects.Object, key objects.Key, uid string, st Stamp, adopt bool) objects.Object {
	n := in
	if !adopt {
		n = in.DeepCopyObject()
	}
	tm := n.GetTypeMeta()
	tm.APIVersion, tm.Kind = k.Info.APIVersion, k.Info.Kind
	m := n.GetObjectMeta()
	m.Name, m.Namespace = key.Name, key.Namespace
	m.UID = uid
	m.ResourceVersion = st.ResourceVersion
	m.Generation = 1
	m.CreationTimestamp = st.Now
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	if p, ok := n.(store.CreatePreparer); ok {
		p.PrepareForCreate()
	}
	return n
}

// StampCreated gives in what NewStored made of it, so the caller of Create
// sees what was stored: the server fields, then, when the kind prepares
// itself, the same preparation, which depends only on the object (see
// store.CreatePreparer): cheaper than a copy of the whole object.
func StampCreated(in, stored objects.Object) {
	if in == stored { // adopted
		return
	}
	*in.GetTypeMeta() = *stored.GetTypeMeta()
	im, sm := in.GetObjectMeta(), stored.GetObjectMeta()
	im.Name, im.Namespace, im.UID = sm.Name, sm.Namespace, sm.UID
	im.ResourceVersion, im.Generation, im.CreationTimestamp = sm.ResourceVersion, sm.Generation, sm.CreationTimestamp
	im.DeletionTimestamp, im.DeletionGracePeriodSeconds = nil, nil
	if p, ok := in.(store.CreatePreparer); ok {
		p.PrepareForCreate()
	}
}

// CopyInto makes dst, an object of the same Go type as src, a deep copy of
// src: how an Update or Delete hands the stored state back to its caller.
func CopyInto(dst, src objects.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src.DeepCopyObject()).Elem())
}

// PrepareUpdate decides what replacing old by in does. From in it takes
// metadata and every top-level field but the status; it keeps the status
// and the server fields (uid, creationTimestamp, deletion fields) of old.
//
// Generation increases when any top-level field other than metadata and
// status changes: for kinds with a spec that is the spec; for kinds without
// one (ConfigMap, Secret) it is their data; unless the kind is a
// store.GenerationKeeper that says the change keeps it. An update that changes nothing
// is OpNone. Removing the last finalizer of an object being deleted with no
// grace period pending removes it.
//
// The stored object is in with the server fields and old's status: hand
// it back to the caller with StampUpdated.
func (k *Kind) PrepareUpdate(old, in objects.Object, st Stamp) (Result, error) {
	return k.prepareUpdate(old, in, st, false, false)
}

// PrepareUpdateWithStatus is PrepareUpdate taking the status from in too:
// Update and UpdateStatus in one write. Kinds without a Status field reject
// it (objects.ErrInvalid). Hand the result back with StampUpdated.
func (k *Kind) PrepareUpdateWithStatus(old, in objects.Object, st Stamp) (Result, error) {
	if k.status == nil {
		return Result{}, objects.ErrorList{objects.Forbidden(objects.NewPath("status"),
			fmt.Sprintf("%s has no status; use Update", k.Info.Kind))}.ToError(k.Info.Kind, old.GetObjectMeta().Name)
	}
	return k.prepareUpdate(old, in, st, true, false)
}

// PrepareAdoptWithStatus is PrepareUpdateWithStatus storing in itself,
// given the server fields, rather than a copy (see store.StatusAdopter).
// When the result is OpNone, old stays stored: hand it back with
// StampUpdated, as after PrepareUpdateWithStatus.
func (k *Kind) PrepareAdoptWithStatus(old, in objects.Object, st Stamp) (Result, error) {
	if k.status == nil {
		return k.PrepareUpdateWithStatus(old, in, st) // rejected
	}
	return k.prepareUpdate(old, in, st, true, true)
}

func (k *Kind) prepareUpdate(old, in objects.Object, st Stamp, withStatus, adopt bool) (Result, error) {
	om, im := old.GetObjectMeta(), in.GetObjectMeta()
	if err := k.checkTypeMeta(in).ToError(k.Info.Kind, om.Name); err != nil {
		return Result{}, err
	}
	if err := k.checkPreconditions(om, im.UID, im.ResourceVersion); err != nil {
		return Result{}, err
	}
	if om.DeletionTimestamp != nil {
		var added []string
		for _, f := range im.Finalizers {
			if !slices.Contains(om.Finalizers, f) {
				added = append(added, f)
			}
		}
		if len(added) > 0 {
			return Result{}, objects.ErrorList{objects.Forbidden(objects.NewPath("metadata", "finalizers"),
				fmt.Sprintf("no new finalizers can be added if the object is being deleted, found new finalizers %q", added)),
			}.ToError(k.Info.Kind, om.Name)
		}
	}
	// Compared before copying: a caller that built in from a stored object
	// shares its unchanged parts, which compare at once.
	contentChanged := !k.contentEqual(old, in)
	statusChanged := withStatus && !k.statusEqual(old, in)
	n := in
	if !adopt {
		n = k.copyForStore(old, in, !withStatus)
	}
	tm := n.GetTypeMeta()
	tm.APIVersion, tm.Kind = k.Info.APIVersion, k.Info.Kind
	nm := n.GetObjectMeta()
	nm.Name, nm.Namespace, nm.UID = om.Name, om.Namespace, om.UID
	nm.CreationTimestamp = om.CreationTimestamp
	nm.DeletionTimestamp, nm.DeletionGracePeriodSeconds = om.DeletionTimestamp, om.DeletionGracePeriodSeconds
	nm.Generation = om.Generation
	if contentChanged {
		if gk, ok := in.(store.GenerationKeeper); !ok || !gk.KeepsGeneration(old) {
			nm.Generation++
		}
	}
	nm.ResourceVersion = om.ResourceVersion
	if !contentChanged && !statusChanged && SemanticEqual(nm, om) {
		return Result{Op: OpNone, Obj: old}, nil
	}
	nm.ResourceVersion = st.ResourceVersion
	if nm.DeletionTimestamp != nil && len(nm.Finalizers) == 0 && grace(nm) == 0 {
		return Result{Op: OpRemove, Obj: n}, nil
	}
	return Result{Op: OpPut, Obj: n}, nil
}

// StampUpdated gives in, the object an update was prepared from, what was
// stored (stored, from PrepareUpdate or PrepareUpdateWithStatus), so the
// caller sees it: the result is in except for the server fields and, after
// PrepareUpdate, the status, which only those differ in. It costs a copy of
// the status rather than of the whole object.
func (k *Kind) StampUpdated(in, stored objects.Object, withStatus bool) {
	if k.statusCopy == nil && !withStatus && k.status != nil {
		CopyInto(in, stored)
		return
	}
	*in.GetTypeMeta() = *stored.GetTypeMeta()
	im, sm := in.GetObjectMeta(), stored.GetObjectMeta()
	im.Name, im.Namespace, im.UID = sm.Name, sm.Namespace, sm.UID
	im.ResourceVersion, im.Generation, im.CreationTimestamp = sm.ResourceVersion, sm.Generation, sm.CreationTimestamp
	im.DeletionTimestamp, im.DeletionGracePeriodSeconds = nil, nil
	if sm.DeletionTimestamp != nil {
		t := *sm.DeletionTimestamp
		im.DeletionTimestamp = &t
	}
	if sm.DeletionGracePeriodSeconds != nil {
		g := *sm.DeletionGracePeriodSeconds
		im.DeletionGracePeriodSeconds = &g
	}
	if !withStatus && k.status != nil {
		k.statusCopy(k.statusOf(stored).Addr(), k.statusOf(in).Addr())
	}
}

// PrepareUpdateStatus decides what writing the status of in over old does:
// only the status changes.
func (k *Kind) PrepareUpdateStatus(old, in objects.Object, st Stamp) (Result, error) {
	om, im := old.GetObjectMeta(), in.GetObjectMeta()
	if k.status == nil {
		return Result{}, objects.ErrorList{objects.Forbidden(objects.NewPath("status"),
			fmt.Sprintf("%s has no status; use Update", k.Info.Kind))}.ToError(k.Info.Kind, om.Name)
	}
	if err := k.checkTypeMeta(in).ToError(k.Info.Kind, om.Name); err != nil {
		return Result{}, err
	}
	if err := k.checkPreconditions(om, im.UID, im.ResourceVersion); err != nil {
		return Result{}, err
	}
	if k.statusEqual(in, old) {
		return Result{Op: OpNone, Obj: old}, nil
	}
	n := k.shallowCopy(old)
	if k.statusCopy != nil {
		k.statusCopy(k.statusOf(in).Addr(), k.statusOf(n).Addr())
	} else {
		k.statusOf(n).Set(k.statusOf(in.DeepCopyObject()))
	}
	n.GetObjectMeta().ResourceVersion = st.ResourceVersion
	return Result{Op: OpPut, Obj: n}, nil
}

// PrepareDelete decides what deleting old does, as Kubernetes does it: the
// propagation policy adds its finalizer; the grace period applies only to
// an object that is a store.GracefulDeleter and says so (a pod bound to a
// node and not terminated), any other has none; an object left with
// finalizers or a positive grace period is kept with deletionTimestamp
// (now + grace) and deletionGracePeriodSeconds, and its generation
// increased the first time; otherwise it is removed. Deleting an object
// already being deleted may shorten its grace period, and removes it when
// the grace period becomes 0 and no finalizer is left.
func (k *Kind) PrepareDelete(old objects.Object, opts store.DeleteOptions, st Stamp) (Result, error) {
	om := old.GetObjectMeta()
	if p := opts.Preconditions; p != nil {
		if p.UID != "" && p.UID != om.UID {
			return Result{}, k.conflict(om.Name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", p.UID, om.UID))
		}
		if p.ResourceVersion != "" && p.ResourceVersion != om.ResourceVersion {
			return Result{}, k.conflict(om.Name, fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", p.ResourceVersion, om.ResourceVersion))
		}
	}
	var errs objects.ErrorList
	var g int64
	if opts.GracePeriodSeconds != nil {
		if g = *opts.GracePeriodSeconds; g < 0 {
			errs = append(errs, objects.Invalid(objects.NewPath("gracePeriodSeconds"), g, "must be greater than or equal to 0"))
		}
	}
	fin := om.Finalizers
	switch opts.PropagationPolicy {
	case "":
	case store.DeletePropagationBackground:
		fin = without(fin, objects.FinalizerForeground, objects.FinalizerOrphan)
	case store.DeletePropagationForeground:
		fin = with(without(fin, objects.FinalizerOrphan), objects.FinalizerForeground)
	case store.DeletePropagationOrphan:
		fin = with(without(fin, objects.FinalizerForeground), objects.FinalizerOrphan)
	default:
		errs = append(errs, objects.NotSupported(objects.NewPath("propagationPolicy"), string(opts.PropagationPolicy),
			[]string{string(store.DeletePropagationBackground), string(store.DeletePropagationForeground), string(store.DeletePropagationOrphan)}))
	}
	if err := errs.ToError(k.Info.Kind, om.Name); err != nil {
		return Result{}, err
	}
	if gd, ok := old.(store.GracefulDeleter); !ok || !gd.GracefulDelete() {
		g = 0
	}

	ts, newGrace := st.Now, g
	if om.DeletionTimestamp != nil {
		cur := grace(om)
		ts, newGrace = *om.DeletionTimestamp, cur
		if opts.GracePeriodSeconds != nil && g < cur {
			// Shorten the pending grace period, counted from the first request.
			ts, newGrace = objects.NewTime(ts.Add(time.Duration(g-cur)*time.Second)), g
		}
		if (len(fin) > 0 || newGrace > 0) && newGrace == cur && slices.Equal(fin, om.Finalizers) {
			return Result{Op: OpNone, Obj: old}, nil
		}
	} else {
		ts = objects.NewTime(ts.Add(time.Duration(g) * time.Second))
	}

	n := k.shallowCopy(old)
	nm := n.GetObjectMeta()
	nm.ResourceVersion = st.ResourceVersion
	if len(fin) == 0 && newGrace == 0 {
		return Result{Op: OpRemove, Obj: n}, nil
	}
	if om.DeletionTimestamp == nil && nm.Generation > 0 {
		// Its controllers see that it is going, as Kubernetes marks it.
		nm.Generation++
	}
	nm.Finalizers = fin
	nm.DeletionTimestamp = &ts
	nm.DeletionGracePeriodSeconds = &newGrace
	return Result{Op: OpPut, Obj: n}, nil
}

// GenerateName returns base followed by five random characters from the
// alphabet Kubernetes uses (no vowels, no look-alikes), base cut so that the
// name fits in 63 characters.
func GenerateName(base string, r *rand.Rand) string {
	const (
		alphabet  = "bcdfghjklmnpqrstvwxz2456789"
		randomLen = 5
		maxBase   = 63 - randomLen
	)
	if len(base) > maxBase {
		base = base[:maxBase]
	}
	b := make([]byte, len(base)+randomLen)
	copy(b, base)
	for i := len(base); i < len(b); i++ {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func (k *Kind) checkTypeMeta(in objects.Object) objects.ErrorList {
	var errs objects.ErrorList
	tm := in.GetTypeMeta()
	if tm.Kind != "" && tm.Kind != k.Info.Kind {
		errs = append(errs, objects.Invalid(objects.NewPath("kind"), tm.Kind, fmt.Sprintf("a %T is a %s", in, k.Info.Kind)))
	}
	if tm.APIVersion != "" && tm.APIVersion != k.Info.APIVersion {
		errs = append(errs, objects.Invalid(objects.NewPath("apiVersion"), tm.APIVersion, fmt.Sprintf("%s is served as %s", k.Info.Kind, k.Info.APIVersion)))
	}
	return errs
}

func (k *Kind) checkPreconditions(om *objects.ObjectMeta, uid, rv string) error {
	if uid != "" && uid != om.UID {
		return k.conflict(om.Name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", uid, om.UID))
	}
	if rv != "" && rv != om.ResourceVersion {
		return k.Conflict(om.Name)
	}
	return nil
}

func (k *Kind) statusOf(obj objects.Object) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByIndex(k.status)
}

func (k *Kind) statusEqual(a, b objects.Object) bool {
	return reflect.DeepEqual(k.statusOf(a).Addr().Interface(), k.statusOf(b).Addr().Interface())
}

func (k *Kind) contentEqual(a, b objects.Object) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for _, ix := range k.content {
		// Compare through pointers: boxing a large struct would copy it.
		if !SemanticEqual(va.FieldByIndex(ix).Addr().Interface(), vb.FieldByIndex(ix).Addr().Interface()) {
			return false
		}
	}
	return true
}

// shallowCopy returns a new object sharing everything with obj, for writes
// that change a few fields of a stored object, which is never modified.
func (k *Kind) shallowCopy(obj objects.Object) objects.Object {
	n := k.Info.New()
	reflect.ValueOf(n).Elem().Set(reflect.ValueOf(obj).Elem())
	return n
}

func grace(m *objects.ObjectMeta) int64 {
	if m.DeletionGracePeriodSeconds == nil {
		return 0
	}
	return *m.DeletionGracePeriodSeconds
}

// without returns fin less the given finalizers; fin itself is never changed.
func without(fin []string, drop ...string) []string {
	if !slices.ContainsFunc(fin, func(f string) bool { return slices.Contains(drop, f) }) {
		return fin
	}
	out := make([]string, 0, len(fin))
	for _, f := range fin {
		if !slices.Contains(drop, f) {
			out = append(out, f)
		}
	}
	return out
}

// with returns fin plus f; fin itself is never changed.
func with(fin []string, f string) []string {
	if slices.Contains(fin, f) {
		return fin
	}
	return append(slices.Clip(fin), f)
}

func nameOf(m *objects.ObjectMeta) string {
	if m.Name == "" {
		return m.GenerateName
	}
	return m.Name
}
