package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const (
	kindStatefulSet = "StatefulSet"
	kindPVC         = "PersistentVolumeClaim"
)

// StatefulSetController returns the StatefulSet controller, for
// Manager.Add.
//
// It gives each StatefulSet pods with stable names <set>-<ordinal>
// (ordinals from spec.ordinals.start), labelled with their name
// (statefulset.kubernetes.io/pod-name), ordinal (apps.kubernetes.io/pod-index)
// and revision (controller-revision-hash: the name of its
// ControllerRevision), with hostname <pod> and subdomain spec.serviceName
// so that the headless Service gives them DNS names. Each pod gets one
// PersistentVolumeClaim per volumeClaimTemplate, named
// <template>-<set>-<ordinal>, created before the pod and kept when the pod
// is deleted or recreated, so a recreated pod finds its data again. With persistentVolumeClaimRetentionPolicy
// whenDeleted=Delete the claims are owned by the set, with whenScaled=Delete
// by the pod scaled away, so the garbage collector removes them; as in
// Kubernetes every sync brings the claims' owners in line with the current
// policy, so a policy changed to Retain keeps claims made under Delete.
//
// OrderedReady creates pods one at a time in increasing ordinal order, each
// Running and Ready (for minReadySeconds) before the next, and removes
// them one at a time from the highest ordinal, only while every other pod
// is healthy; Parallel creates and deletes without waiting. A failed pod is
// deleted and recreated. RollingUpdate replaces pods whose revision is not
// the template's, from the highest ordinal down to
// spec.updateStrategy.rollingUpdate.partition, up to maxUnavailable at
// once (default 1; a percentage of spec.replicas rounded down, at least
// 1), counting against it every pod of the set already unavailable
// (missing, being deleted, or not Running and Ready for minReadySeconds),
// as Kubernetes' MaxUnavailableStatefulSet does. With OrderedReady the
// pods go in batches: up to maxUnavailable are deleted once every pod is
// healthy, and come back one at a time in ordinal order before the next
// batch. With Parallel the budget is a window: another pod is deleted as
// soon as one comes back, even past a pod that stays unready. OnDelete
// replaces a pod only when someone deletes it.
//
// Revisions are kept as Kubernetes keeps them: each pod template the set
// rolls out is a ControllerRevision named <set>-<hash>, owned by the set,
// holding the patch {"spec":{"template":{...,"$patch":"replace"}}} and a
// revision number. status.updateRevision names the template's revision,
// status.currentRevision the one the set ran before the rollout; the
// rollout is complete (currentRevision becomes updateRevision) once every
// pod is updated and ready. A missing pod below the partition is recreated
// from the current revision's template, so it keeps the old version. Going
// back to an earlier template reuses its revision with a new number. The
// revisions no pod uses beyond revisionHistoryLimit are deleted, oldest
// first.
func StatefulSetController(m *Manager) Controller {
	r := &statefulSetReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}
	return Controller{
		Name:       "statefulset",
		For:        kindStatefulSet,
		Owns:       []string{kindPod, kindControllerRevision},
		Watches:    []Watch{{Kind: kindPod, Map: r.orphanPodOwners}},
		Reconciler: r,
		Workers:    5,
	}
}

type statefulSetReconciler struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
}

func (r *statefulSetReconciler) orphanPodOwners(obj objects.Object) []Request {
	return matchingOwners(r.c, obj, kindStatefulSet, func(o objects.Object) *objects.LabelSelector {
		return o.(*objects.StatefulSet).Spec.Selector
	})
}

// setPods is the state of one StatefulSet during a reconcile.
type setPods struct {
	set             *objects.StatefulSet
	start, end      int // the ordinals wanted: [start, end)
	byOrdinal       map[int]*objects.Pod
	condemned       []*objects.Pod // highest ordinal first
	all             []*objects.Pod
	updateRevision  string
	currentRevision string
	// currentTemplate is the current revision's pod template.
	currentTemplate *objects.PodTemplateSpec
	collisionCount  *int32
	now             time.Time
	requeue         time.Duration
}

func (r *statefulSetReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	set, err := Get[*objects.StatefulSet](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	sel, err := objects.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return Result{}, Terminal(fmt.Errorf("statefulset %s: invalid selector: %w", req, err))
	}
	pods, err := r.claimPods(ctx, set, sel)
	if err != nil {
		return Result{}, err
	}
	s := newSetPods(set, pods, r.clock.Now())
	if set.IsDeleting() {
		// Nothing changes: the status counts what is left.
		s.currentRevision, s.updateRevision = set.Status.CurrentRevision, set.Status.UpdateRevision
		s.collisionCount = set.Status.CollisionCount
		return r.writeStatus(ctx, s, nil)
	}
	revs, err := claimRevisions(ctx, r.c, set, sel)
	if err != nil {
		return Result{}, err
	}
	cur, upd, err := r.revisions(ctx, s, revs)
	if err != nil {
		return Result{}, err
	}
	syncErr := r.sync(ctx, s)
	res, err := r.writeStatus(ctx, s, syncErr)
	if err != nil {
		return res, err
	}
	// The revisions of the rollout and of every pod stay; the others
	// beyond the limit go, oldest first.
	live := map[string]bool{cur.Name: true, upd.Name: true}
	for _, p := range s.all {
		live[p.Labels[objects.ControllerRevisionHashLabelKey]] = true
	}
	return res, truncateHistory(ctx, r.c, revs, live, historyLimit(set.Spec.RevisionHistoryLimit))
}

// writeStatus stores the set's status when it changed, and returns the
// reconcile's result with err (the sync's).
func (r *statefulSetReconciler) writeStatus(ctx context.Context, s *setPods, err error) (Result, error) {
	set := s.set
	status := statefulSetStatus(s)
	if !reflect.DeepEqual(status, set.Status) {
		set.Status = status
		if uerr := r.c.UpdateStatus(ctx, set); uerr != nil {
			return Result{}, errors.Join(err, uerr)
		}
	}
	return Result{RequeueAfter: s.requeue}, err
}

// revisions finds or makes the set's update revision, the revision of its
// template, as Kubernetes' getStatefulSetRevisions does: the newest
// revision when it holds the template, else an older one holding it (a
// rollback), given the next number, else a new one. The current revision
// is the one status.currentRevision names, or the update revision when
// there is none. It records both in s, and returns them.
func (r *statefulSetReconciler) revisions(ctx context.Context, s *setPods, revs []*objects.ControllerRevision) (cur, upd *objects.ControllerRevision, err error) {
	set := s.set
	var collisionCount int32
	if set.Status.CollisionCount != nil {
		collisionCount = *set.Status.CollisionCount
	}
	data, err := templatePatch(&set.Spec.Template)
	if err != nil {
		return nil, nil, Terminal(fmt.Errorf("statefulset %s/%s: %w", set.Namespace, set.Name, err))
	}
	hash := dataHash(data)
	upd = newControllerRevision(set, set.Spec.Template.Labels, data, nextRevision(revs), hash(collisionCount))
	if len(set.Annotations) > 0 {
		upd.Annotations = maps.Clone(set.Annotations)
	}
	equal := equalRevisions(revs, upd)
	switch {
	case len(equal) > 0 && revs[len(revs)-1].Name == equal[len(equal)-1].Name:
		upd = revs[len(revs)-1]
	case len(equal) > 0:
		if upd, err = renumberRevision(ctx, r.c, equal[len(equal)-1], upd.Revision); err != nil {
			return nil, nil, err
		}
	default:
		if upd, err = createRevision(ctx, r.c, set, upd, hash, &collisionCount); err != nil {
			return nil, nil, err
		}
	}
	for _, rev := range revs {
		if rev.Name == set.Status.CurrentRevision {
			cur = rev
		}
	}
	if cur == nil || cur.Name == upd.Name {
		cur = upd
	}
	s.updateRevision, s.currentRevision, s.collisionCount = upd.Name, cur.Name, &collisionCount
	if cur != upd {
		if s.currentTemplate, err = revisionTemplate(cur); err != nil {
			return nil, nil, err
		}
	}
	return cur, upd, nil
}

func newSetPods(set *objects.StatefulSet, pods []*objects.Pod, now time.Time) *setPods {
	start := 0
	if o := set.Spec.Ordinals; o != nil {
		start = int(o.Start)
	}
	s := &setPods{
		set: set, start: start, end: start + int(replicasOf(set.Spec.Replicas)),
		byOrdinal: map[int]*objects.Pod{}, all: pods, now: now,
	}
	for _, p := range pods {
		_, ord, _ := parentAndOrdinal(p.Name)
		if ord >= s.start && ord < s.end {
			s.byOrdinal[ord] = p
		} else {
			s.condemned = append(s.condemned, p)
		}
	}
	slices.SortFunc(s.condemned, func(a, b *objects.Pod) int {
		_, oa, _ := parentAndOrdinal(a.Name)
		_, ob, _ := parentAndOrdinal(b.Name)
		return ob - oa
	})
	return s
}

// healthy reports whether a pod counts as up for ordered management:
// Running, Ready for minReadySeconds, and not being deleted. A pod still
// waiting for minReadySeconds asks for a requeue.
func (s *setPods) healthy(p *objects.Pod) bool {
	if p.IsDeleting() || p.Status.Phase != objects.PodRunning {
		return false
	}
	if isPodAvailable(p, s.set.Spec.MinReadySeconds, s.now) {
		return true
	}
	if d, ok := untilAvailable(p, s.set.Spec.MinReadySeconds, s.now); ok && (s.requeue == 0 || d < s.requeue) {
		s.requeue = d
	}
	return false
}

// sync creates, repairs and deletes pods, as Kubernetes' StatefulSet
// control does: the replicas in ordinal order, then the condemned pods
// beyond spec.replicas, then the rolling update.
func (r *statefulSetReconciler) sync(ctx context.Context, s *setPods) error {
	set := s.set
	monotonic := set.Spec.PodManagementPolicy != objects.ParallelPodManagement
	for ord := s.start; ord < s.end; ord++ {
		p := s.byOrdinal[ord]
		switch {
		case p == nil:
			if err := r.createPod(ctx, s, ord); err != nil {
				return err
			}
			if monotonic {
				return nil
			}
			continue
		case p.IsTerminal() && !p.IsDeleting():
			// A failed (or finished) pod is replaced.
			if err := r.deletePod(ctx, s, p); err != nil {
				return err
			}
			if monotonic {
				return nil
			}
			continue
		}
		if err := r.repair(ctx, s, p, ord); err != nil {
			return err
		}
		if monotonic && !s.healthy(p) {
			return nil // wait for it before touching the next
		}
	}
	for _, p := range s.condemned {
		if err := r.syncClaimOwners(ctx, set, p, true); err != nil {
			return err
		}
	}
	for _, p := range s.condemned {
		if p.IsDeleting() {
			if monotonic {
				return nil
			}
			continue
		}
		if monotonic && slices.ContainsFunc(s.all, func(o *objects.Pod) bool { return o != p && !s.healthy(o) }) {
			return nil
		}
		if err := r.deletePod(ctx, s, p); err != nil {
			return err
		}
		if monotonic {
			return nil
		}
	}
	if set.Spec.UpdateStrategy.Type == objects.OnDeleteStatefulSetStrategyType {
		return nil
	}
	return r.rollingUpdate(ctx, s)
}

// rollingUpdate deletes the pods not at the update revision, from the
// highest ordinal down to the partition, as Kubernetes'
// updateStatefulSetAfterInvariantEstablished does: as many at once as
// maxUnavailable allows once the set's unavailable pods (missing, being
// deleted, or not Running and Ready for minReadySeconds, whatever their
// ordinal) are counted against it. It is reached with OrderedReady only
// when every pod is healthy, so the pods go in batches and come back one
// at a time in ordinal order; with Parallel it is reached on every sync,
// so a new pod goes as soon as one comes back.
func (r *statefulSetReconciler) rollingUpdate(ctx context.Context, s *setPods) error {
	set := s.set
	partition, maxUnavailable := 0, 1
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.Partition != nil {
			partition = int(*ru.Partition)
		}
		var err error
		if maxUnavailable, err = statefulSetMaxUnavailable(ru.MaxUnavailable, s.end-s.start); err != nil {
			return Terminal(fmt.Errorf("statefulset %s/%s: spec.updateStrategy.rollingUpdate.maxUnavailable: %w", set.Namespace, set.Name, err))
		}
	}
	unavailable := 0
	for ord := s.start; ord < s.end; ord++ {
		if p := s.byOrdinal[ord]; p == nil || !s.healthy(p) {
			unavailable++
		}
	}
	for ord := s.end - 1; ord >= s.start+partition && unavailable < maxUnavailable; ord-- {
		p := s.byOrdinal[ord]
		if p == nil || p.IsDeleting() || p.Labels[objects.ControllerRevisionHashLabelKey] == s.updateRevision {
			continue
		}
		if err := r.deletePod(ctx, s, p); err != nil {
			return err
		}
		// An unavailable pod deleted takes a second share of the budget,
		// as in Kubernetes.
		unavailable++
	}
	return nil
}

// statefulSetMaxUnavailable is the number of pods a rolling update may
// have unavailable, as Kubernetes' getStatefulSetMaxUnavailable computes
// it: maxUnavailable (1 when unset), a percentage of replicas rounded
// down, and never less than 1.
func statefulSetMaxUnavailable(v *objects.IntOrString, replicas int) (int, error) {
	if v == nil {
		return 1, nil
	}
	n, err := objects.GetScaledValueFromIntOrPercent(v, replicas, objects.RoundDown)
	if err != nil {
		return 0, err
	}
	return max(n, 1), nil
}

// revisionFor returns the revision, and its template, that a new pod of
// ordinal ord is made from, as Kubernetes' newVersionedStatefulSetPod
// chooses: below the partition the current revision; with RollingUpdate
// but no rollingUpdate settings, below the current pods' count; else the
// update revision.
func (s *setPods) revisionFor(ord int) (string, *objects.PodTemplateSpec) {
	u := s.set.Spec.UpdateStrategy
	current := false
	switch {
	case u.RollingUpdate != nil:
		partition := 0
		if u.RollingUpdate.Partition != nil {
			partition = int(*u.RollingUpdate.Partition)
		}
		current = ord < s.start+partition
	case u.Type == objects.RollingUpdateStatefulSetStrategyType:
		current = ord < s.start+int(s.set.Status.CurrentReplicas)
	}
	if current && s.currentTemplate != nil {
		return s.currentRevision, s.currentTemplate
	}
	if current {
		return s.currentRevision, &s.set.Spec.Template
	}
	return s.updateRevision, &s.set.Spec.Template
}

// createPod creates the pod of ordinal ord, and first its missing claims.
func (r *statefulSetReconciler) createPod(ctx context.Context, s *setPods, ord int) error {
	set := s.set
	revision, template := s.revisionFor(ord)
	p := newStatefulSetPod(set, template, ord, revision)
	var claims []string
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		var err error
		if claims, err = r.ensureClaims(tx, set, ord); err != nil {
			return err
		}
		if err := r.c.AdmitCreate(tx, p); err != nil {
			return err
		}
		return tx.Create(p)
	})
	if errors.Is(err, ErrOwnerDeleting) {
		return nil
	}
	if err != nil {
		r.rec.Event(ctx, set, EventWarning, "FailedCreate", fmt.Sprintf("create Pod %s in StatefulSet %s failed error: %v", p.Name, set.Name, err))
		return err
	}
	for _, c := range claims {
		r.rec.Event(ctx, set, EventNormal, "SuccessfulCreate", fmt.Sprintf("create Claim %s Pod %s in StatefulSet %s success", c, p.Name, set.Name))
	}
	r.rec.Event(ctx, set, EventNormal, "SuccessfulCreate", fmt.Sprintf("create Pod %s in StatefulSet %s successful", p.Name, set.Name))
	s.byOrdinal[ord] = p
	s.all = append(s.all, p)
	return nil
}

// repair gives an existing pod back its identity labels and missing
// claims, and brings its claims' owners in line with the retention policy.
func (r *statefulSetReconciler) repair(ctx context.Context, s *setPods, p *objects.Pod, ord int) error {
	set := s.set
	if err := r.syncClaimOwners(ctx, set, p, false); err != nil {
		return err
	}
	want := identityLabels(set, ord)
	needLabels := false
	for k, v := range want {
		if p.Labels[k] != v {
			needLabels = true
		}
	}
	missing := false
	for _, t := range set.Spec.VolumeClaimTemplates {
		if _, err := r.c.Get(ctx, kindPVC, objects.Key{Namespace: set.Namespace, Name: claimName(&t, set, ord)}); errors.Is(err, store.ErrNotFound) {
			missing = true
		} else if err != nil {
			return err
		}
	}
	if !needLabels && !missing {
		return nil
	}
	return r.c.Txn(ctx, func(tx store.Tx) error {
		if missing {
			if _, err := r.ensureClaims(tx, set, ord); err != nil {
				return err
			}
		}
		if !needLabels || p.IsDeleting() {
			return nil
		}
		o, err := tx.Get(kindPod, p.Key())
		if err != nil {
			return err
		}
		cur := o.(*objects.Pod)
		if cur.UID != p.UID {
			return nil
		}
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		maps.Copy(cur.Labels, want)
		return tx.Update(cur)
	})
}

// ensureClaims creates the claims of ordinal ord that do not exist and
// returns their names.
func (r *statefulSetReconciler) ensureClaims(tx store.Tx, set *objects.StatefulSet, ord int) ([]string, error) {
	var made []string
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		name := claimName(t, set, ord)
		_, err := tx.Get(kindPVC, objects.Key{Namespace: set.Namespace, Name: name})
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		c := &objects.PersistentVolumeClaim{
			ObjectMeta: objects.ObjectMeta{
				Namespace: set.Namespace, Name: name,
				Labels: maps.Clone(t.Labels), Annotations: maps.Clone(t.Annotations),
			},
		}
		t.Spec.DeepCopyInto(&c.Spec)
		if set.Spec.Selector != nil && len(set.Spec.Selector.MatchLabels) > 0 {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			maps.Copy(c.Labels, set.Spec.Selector.MatchLabels)
		}
		if rp := set.Spec.PersistentVolumeClaimRetentionPolicy; rp != nil && rp.WhenDeleted == objects.DeletePersistentVolumeClaimRetentionPolicyType {
			c.OwnerReferences = []objects.OwnerReference{ownerRefTo(set)}
		}
		if err := r.c.AdmitCreate(tx, c); err != nil {
			return nil, err
		}
		if err := tx.Create(c); err != nil {
			return nil, err
		}
		made = append(made, name)
	}
	return made, nil
}

// syncClaimOwners brings the owner references of pod p's claims in line
// with the set's persistentVolumeClaimRetentionPolicy, as Kubernetes does
// on every sync, so that a policy changed after the claims were made
// applies to them: scaledDown says p is beyond spec.replicas.
func (r *statefulSetReconciler) syncClaimOwners(ctx context.Context, set *objects.StatefulSet, p *objects.Pod, scaledDown bool) error {
	_, ord, _ := parentAndOrdinal(p.Name)
	var stale []objects.Key
	for i := range set.Spec.VolumeClaimTemplates {
		key := objects.Key{Namespace: set.Namespace, Name: claimName(&set.Spec.VolumeClaimTemplates[i], set, ord)}
		o, err := r.c.Get(ctx, kindPVC, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if _, changed := claimOwnerRefs(o.GetObjectMeta(), set, p, scaledDown); changed {
			stale = append(stale, key)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	return r.c.Txn(ctx, func(tx store.Tx) error {
		for _, key := range stale {
			o, err := tx.Get(kindPVC, key)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			m := o.GetObjectMeta()
			refs, changed := claimOwnerRefs(m, set, p, scaledDown)
			if !changed {
				continue
			}
			m.OwnerReferences = refs
			if err := tx.Update(o); err != nil {
				return err
			}
		}
		return nil
	})
}

// claimOwnerRefs returns the owner references a claim of pod p should have,
// as Kubernetes' isClaimOwnerUpToDate and updateClaimOwnerRefForSetAndPod
// decide, and whether they differ from the claim's: the set's with
// whenDeleted=Delete, so that the garbage collector removes the claim with
// the set; p's instead when p is scaled down with whenScaled=Delete (a
// second owner would keep the claim alive after the pod); neither with
// Retain. Other owners stay. A claim that refers to an earlier set or pod
// of the same name is left alone, and one with another controller loses
// the set's and p's references without gaining any.
func claimOwnerRefs(claim *objects.ObjectMeta, set *objects.StatefulSet, p *objects.Pod, scaledDown bool) ([]objects.OwnerReference, bool) {
	rp := objects.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	if set.Spec.PersistentVolumeClaimRetentionPolicy != nil {
		rp = *set.Spec.PersistentVolumeClaimRetentionPolicy
	}
	deleteScaled := rp.WhenScaled == objects.DeletePersistentVolumeClaimRetentionPolicyType
	deleteDeleted := rp.WhenDeleted == objects.DeletePersistentVolumeClaimRetentionPolicyType
	wantSet, wantPod := deleteDeleted && !(deleteScaled && scaledDown), deleteScaled && scaledDown
	ours := func(ref objects.OwnerReference) bool {
		return ref.Kind == kindStatefulSet && ref.Name == set.Name || ref.Kind == kindPod && ref.Name == p.Name
	}
	hasSet, hasPod := false, false
	for _, ref := range claim.OwnerReferences {
		switch {
		case ref.UID == set.UID:
			hasSet = true
		case ref.UID == p.UID:
			hasPod = true
		case ours(ref):
			return claim.OwnerReferences, false // stale: the garbage collector's
		case (deleteScaled || deleteDeleted) && ref.Controller != nil && *ref.Controller:
			wantSet, wantPod = false, false
		}
	}
	if hasSet == wantSet && hasPod == wantPod {
		return claim.OwnerReferences, false
	}
	refs := slices.DeleteFunc(slices.Clone(claim.OwnerReferences), ours)
	if wantSet {
		refs = append(refs, ownerRefTo(set))
	}
	if wantPod {
		refs = append(refs, ownerRefTo(p))
	}
	if len(refs) == 0 {
		refs = nil
	}
	return refs, true
}

func (r *statefulSetReconciler) deletePod(ctx context.Context, s *setPods, p *objects.Pod) error {
	if err := deletePods(ctx, r.c, []*objects.Pod{p}); err != nil {
		r.rec.Event(ctx, s.set, EventWarning, "FailedDelete", fmt.Sprintf("delete Pod %s in StatefulSet %s failed error: %v", p.Name, s.set.Name, err))
		return err
	}
	r.rec.Event(ctx, s.set, EventNormal, "SuccessfulDelete", fmt.Sprintf("delete Pod %s in StatefulSet %s successful", p.Name, s.set.Name))
	now := objects.NewTime(s.now)
	p.DeletionTimestamp = &now // counted as going from now on
	return nil
}

// claimPods returns the pods the set controls: its own, and orphans whose
// labels match and whose name is <set>-<ordinal>.
func (r *statefulSetReconciler) claimPods(ctx context.Context, set *objects.StatefulSet, sel objects.Selector) ([]*objects.Pod, error) {
	member := func(p *objects.Pod) bool {
		parent, _, ok := parentAndOrdinal(p.Name)
		return ok && parent == set.Name
	}
	pods, err := claimPods(ctx, r.c, r.c.list, set, sel, func(p *objects.Pod) bool {
		return p.ControllerRef() != nil || member(p)
	})
	return slices.DeleteFunc(pods, func(p *objects.Pod) bool { return !member(p) }), err
}

// newStatefulSetPod makes the pod of ordinal ord from template, at
// revision.
func newStatefulSetPod(set *objects.StatefulSet, template *objects.PodTemplateSpec, ord int, revision string) *objects.Pod {
	p := podFromTemplate(template, set)
	p.GenerateName = ""
	p.Name = set.Name + "-" + strconv.Itoa(ord)
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	maps.Copy(p.Labels, identityLabels(set, ord))
	p.Labels[objects.ControllerRevisionHashLabelKey] = revision
	p.Spec.Hostname = p.Name
	p.Spec.Subdomain = set.Spec.ServiceName
	claims := map[string]string{}
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		claims[t.Name] = claimName(t, set, ord)
	}
	vols := slices.DeleteFunc(p.Spec.Volumes, func(v objects.Volume) bool { _, ok := claims[v.Name]; return ok })
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		vols = append(vols, objects.Volume{Name: t.Name, VolumeSource: objects.VolumeSource{
			PersistentVolumeClaim: &objects.PersistentVolumeClaimVolumeSource{ClaimName: claims[t.Name]},
		}})
	}
	p.Spec.Volumes = vols
	return p
}

func identityLabels(set *objects.StatefulSet, ord int) map[string]string {
	return map[string]string{
		objects.StatefulSetPodNameLabel: set.Name + "-" + strconv.Itoa(ord),
		objects.PodIndexLabel:           strconv.Itoa(ord),
	}
}

// claimName is the name of ordinal ord's claim from template t.
func claimName(t *objects.PersistentVolumeClaim, set *objects.StatefulSet, ord int) string {
	return fmt.Sprintf("%s-%s-%d", t.Name, set.Name, ord)
}

// parentAndOrdinal splits "<parent>-<ordinal>".
func parentAndOrdinal(name string) (string, int, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", -1, false
	}
	ord, err := strconv.Atoi(name[i+1:])
	if err != nil || ord < 0 || name[i+1] == '+' {
		return "", -1, false
	}
	return name[:i], ord, true
}

// ownerRefTo is a plain owner reference (not a controller), for the
// garbage collector.
func ownerRefTo(owner objects.Object) objects.OwnerReference {
	tm, m := owner.GetTypeMeta(), owner.GetObjectMeta()
	return objects.OwnerReference{APIVersion: tm.APIVersion, Kind: tm.Kind, Name: m.Name, UID: m.UID}
}

// statefulSetStatus counts the set's pods as Kubernetes does, and ends a
// rolling update once every pod runs the update revision and is ready
// (Kubernetes' completeRollingUpdate; OnDelete rollouts are never
// complete).
func statefulSetStatus(s *setPods) objects.StatefulSetStatus {
	set := s.set
	st := *set.Status.DeepCopy()
	st.ObservedGeneration = set.Generation
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas, st.CurrentReplicas, st.UpdatedReplicas = 0, 0, 0, 0, 0
	for _, p := range s.all {
		st.Replicas++
		if p.IsDeleting() {
			continue
		}
		if p.Status.Phase == objects.PodRunning && objects.IsPodReady(p) {
			st.ReadyReplicas++
			if isPodAvailable(p, set.Spec.MinReadySeconds, s.now) {
				st.AvailableReplicas++
			}
		}
		if p.Labels[objects.ControllerRevisionHashLabelKey] == s.currentRevision {
			st.CurrentReplicas++
		}
		if p.Labels[objects.ControllerRevisionHashLabelKey] == s.updateRevision {
			st.UpdatedReplicas++
		}
	}
	st.CurrentRevision, st.UpdateRevision = s.currentRevision, s.updateRevision
	if s.collisionCount != nil {
		n := *s.collisionCount
		st.CollisionCount = &n
	}
	if set.Spec.UpdateStrategy.Type == objects.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentRevision = s.updateRevision
		st.CurrentReplicas = st.UpdatedReplicas
	}
	return st
}
