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
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const (
	kindDaemonSet = "DaemonSet"
	kindNode      = "Node"
)

// Taints of node conditions, which DaemonSet pods tolerate.
const (
	taintNodeDiskPressure       = "node.kubernetes.io/disk-pressure"
	taintNodeMemoryPressure     = "node.kubernetes.io/memory-pressure"
	taintNodePIDPressure        = "node.kubernetes.io/pid-pressure"
	taintNodeNetworkUnavailable = "node.kubernetes.io/network-unavailable"
)

// DaemonSetController returns the DaemonSet controller, for Manager.Add.
//
// It runs one pod of each DaemonSet on every node the pod template allows:
// its nodeSelector and required node affinity match the node's labels, and
// it tolerates the node's NoSchedule and NoExecute taints. As in Kubernetes
// the pods get tolerations of their own for the not-ready and unreachable
// NoExecute taints (without a time limit, so a daemon pod stays on a node
// that stops responding instead of moving elsewhere) and for the
// unschedulable, disk-, memory- and pid-pressure NoSchedule taints (and
// network-unavailable with hostNetwork). Each pod is pinned to its node by
// a required node affinity on the node's name (matchFields metadata.name)
// and bound by the scheduler, which so still checks resources and ports.
//
// Pods follow the nodes: a node added gets a pod, a pod on a node that is
// gone, no longer matches, or has an untolerated NoExecute taint is
// deleted; a failed pod is deleted, as in Kubernetes with a backoff per
// node of 1s doubling to 15m, and replaced once it is gone; extra pods on
// one node are deleted, the oldest kept. Pods carry the
// controller-revision-hash label of their template; RollingUpdate replaces
// old pods node by node, at most maxUnavailable nodes without an available
// daemon pod at a time (an old pod not available is replaced at once), or with
// maxSurge, starting the new pod beside the old and deleting the old once
// the new is available; OnDelete replaces a pod only when it is deleted.
//
// Revisions are kept as Kubernetes' daemon controller keeps them: each pod
// template the DaemonSet rolls out is a ControllerRevision named
// <daemonset>-<hash>, owned by it, labelled with the template's labels and
// controller-revision-hash, holding the patch
// {"spec":{"template":{...,"$patch":"replace"}}}. The hash is the one its
// pods carry; the current template's revision has the highest number, and
// a template that comes back reuses its revision, renumbered, so that
// Rollback can restore any template kept. Old revisions beyond
// revisionHistoryLimit that no pod carries the hash of are deleted, oldest
// first.
func DaemonSetController(m *Manager) Controller {
	r := &daemonSetReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}
	return Controller{
		Name: "daemonset",
		For:  kindDaemonSet,
		Owns: []string{kindPod, kindControllerRevision},
		Watches: []Watch{
			{Kind: kindPod, Map: r.orphanPodOwners},
			{Kind: kindNode, Map: r.allDaemonSets},
		},
		Reconciler: r,
		Workers:    2,
	}
}

type daemonSetReconciler struct {
	c          *Client
	clock      clockwork.Clock
	rec        EventRecorder
	failedPods failedPodsBackoff
}

// The backoff of failed daemon pods' deletion, Kubernetes'
// failedPodsBackoff: a node agent that rejects a pod must not make the
// controller delete and recreate it in a hot loop.
const (
	failedPodsBackoffInitial = time.Second
	failedPodsBackoffMax     = 15 * time.Minute
)

// failedPodsBackoff holds, per DaemonSet generation and node, when a
// failed pod was last deleted and the delay before the next, as
// Kubernetes' flowcontrol.Backoff does: the delay doubles at each
// deletion, and starts again from failedPodsBackoffInitial once
// 2*failedPodsBackoffMax passed without one.
type failedPodsBackoff struct {
	mu sync.Mutex
	m  map[string]failedPodsEntry
}

type failedPodsEntry struct {
	last  time.Time
	delay time.Duration
}

// failedPodsBackoffKey is Kubernetes' key: a new generation of the
// DaemonSet starts afresh.
func failedPodsBackoffKey(ds *objects.DaemonSet, node string) string {
	return fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node)
}

// wait returns how long a failed pod under key must stay before it may be
// deleted: 0 when it may be now.
func (b *failedPodsBackoff) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[key]
	if !ok || now.Sub(e.last) > 2*failedPodsBackoffMax {
		return 0
	}
	return max(e.last.Add(e.delay).Sub(now), 0)
}

// next records a deletion under key at now, and forgets the entries that
// have expired.
func (b *failedPodsBackoff) next(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[key]
	if !ok || now.Sub(e.last) > 2*failedPodsBackoffMax {
		e.delay = failedPodsBackoffInitial
	} else {
		e.delay = min(2*e.delay, failedPodsBackoffMax)
	}
	e.last = now
	for k, o := range b.m {
		if now.Sub(o.last) > 2*failedPodsBackoffMax {
			delete(b.m, k)
		}
	}
	if b.m == nil {
		b.m = map[string]failedPodsEntry{}
	}
	b.m[key] = e
}

func (r *daemonSetReconciler) orphanPodOwners(obj objects.Object) []Request {
	return matchingOwners(r.c, obj, kindDaemonSet, func(o objects.Object) *objects.LabelSelector {
		return o.(*objects.DaemonSet).Spec.Selector
	})
}

// allDaemonSets maps a node change to every DaemonSet: any may want a pod
// there, or no longer.
func (r *daemonSetReconciler) allDaemonSets(objects.Object) []Request {
	inf := r.c.m.currentRun().informer(kindDaemonSet)
	if inf == nil {
		return nil
	}
	sets, _ := inf.List(store.ListOptions{}, nil)
	reqs := make([]Request, len(sets))
	for i, o := range sets {
		reqs[i] = RequestFor(o)
	}
	return reqs
}

// dsNode is one node as a DaemonSet sees it.
type dsNode struct {
	node           *objects.Node
	shouldRun      bool // a new pod may start there
	shouldContinue bool // a running pod may stay
	pods           []*objects.Pod
	newPod, oldPod *objects.Pod // after manage: one of each revision at most
}

func (r *daemonSetReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	ds, err := Get[*objects.DaemonSet](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	sel, err := objects.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return Result{}, Terminal(fmt.Errorf("daemonset %s: invalid selector: %w", req, err))
	}
	pods, err := claimPods(ctx, r.c, r.c.list, ds, sel, nil) // finished ones too
	if err != nil {
		return Result{}, err
	}
	nodes, err := List[*objects.Node](ctx, r.c, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	// Pods carry the hash of the current revision. A DaemonSet being
	// deleted makes no revision: its template's hash stands in.
	hash, collisionCount := templateHash(&ds.Spec.Template, ds.Status.CollisionCount), ds.Status.CollisionCount
	var old []*objects.ControllerRevision
	if !ds.IsDeleting() {
		var cur *objects.ControllerRevision
		cur, old, collisionCount, err = r.history(ctx, ds, sel, pods)
		if errors.Is(err, ErrOwnerDeleting) {
			return Result{}, nil // the deletion queues it again
		}
		if err != nil {
			return Result{}, err
		}
		hash = cur.Labels[objects.ControllerRevisionHashLabelKey]
	}
	now := r.clock.Now()
	byNode := map[string]*dsNode{}
	for _, n := range nodes {
		run, cont := nodeShouldRunDaemonPod(n, ds)
		byNode[n.Name] = &dsNode{node: n, shouldRun: run, shouldContinue: cont}
	}
	var strays []*objects.Pod // on nodes that do not exist
	for _, p := range pods {
		n := byNode[daemonPodNode(p)]
		if n == nil {
			if !p.IsDeleting() {
				strays = append(strays, p)
			}
			continue
		}
		n.pods = append(n.pods, p)
	}
	var syncErr error
	var res Result
	if !ds.IsDeleting() {
		var backoff time.Duration
		backoff, syncErr = r.manage(ctx, ds, byNode, strays, hash, now)
		if syncErr == nil {
			res, syncErr = r.rollingUpdate(ctx, ds, byNode, hash, now)
		}
		if syncErr == nil {
			syncErr = r.cleanupHistory(ctx, ds, old, pods)
		}
		if backoff > 0 && (res.RequeueAfter == 0 || backoff < res.RequeueAfter) {
			res.RequeueAfter = backoff
		}
	}
	status := daemonSetStatus(ds, byNode, hash, now)
	status.CollisionCount = collisionCount
	if !reflect.DeepEqual(status, ds.Status) {
		ds.Status = status
		if err := r.c.UpdateStatus(ctx, ds); err != nil {
			return Result{}, errors.Join(syncErr, err)
		}
	}
	for _, n := range byNode {
		for _, p := range n.pods {
			if d, ok := untilAvailable(p, ds.Spec.MinReadySeconds, now); ok && (res.RequeueAfter == 0 || d < res.RequeueAfter) {
				res.RequeueAfter = d
			}
		}
	}
	return res, syncErr
}

// history finds or makes the DaemonSet's current revision, the one holding
// its template, as Kubernetes' constructHistory does, and returns it, the
// other revisions (oldest first), and the collision count to record. The
// current revision is made the newest: a template that comes back is
// renumbered, not stored twice. Several revisions holding the template
// (made under different collision counts) are merged into the newest.
func (r *daemonSetReconciler) history(ctx context.Context, ds *objects.DaemonSet, sel objects.Selector, pods []*objects.Pod) (cur *objects.ControllerRevision, old []*objects.ControllerRevision, collisionCount *int32, err error) {
	revs, err := claimRevisions(ctx, r.c, ds, sel)
	if err != nil {
		return nil, nil, nil, err
	}
	data, err := templatePatch(&ds.Spec.Template)
	if err != nil {
		return nil, nil, nil, Terminal(fmt.Errorf("daemonset %s/%s: %w", ds.Namespace, ds.Name, err))
	}
	for i, rev := range revs {
		if _, ok := rev.Labels[objects.ControllerRevisionHashLabelKey]; ok {
			continue
		}
		// Adopted without the label: Kubernetes gives it the revision's
		// name, which then stands for its hash.
		upd := rev.DeepCopy()
		if upd.Labels == nil {
			upd.Labels = map[string]string{}
		}
		upd.Labels[objects.ControllerRevisionHashLabelKey] = upd.Name
		if err := r.c.Update(ctx, upd); err != nil {
			return nil, nil, nil, err
		}
		revs[i] = upd
	}
	var count int32
	if ds.Status.CollisionCount != nil {
		count = *ds.Status.CollisionCount
	}
	hash := daemonSetHash(ds)
	want := newControllerRevision(ds, ds.Spec.Template.Labels, data, 0, hash(count))
	if len(ds.Annotations) > 0 {
		want.Annotations = maps.Clone(ds.Annotations)
	}
	matching := equalRevisions(revs, want)
	old = slices.DeleteFunc(slices.Clone(revs), func(rev *objects.ControllerRevision) bool { return slices.Contains(matching, rev) })
	next := nextRevision(old)
	if len(matching) == 0 {
		want.Revision = next
		cur, err = createRevision(ctx, r.c, ds, want, hash, &count)
	} else if cur, err = r.dedupRevisions(ctx, matching, pods); err == nil && cur.Revision < next {
		cur, err = renumberRevision(ctx, r.c, cur, next)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	collisionCount = ds.Status.CollisionCount
	if (collisionCount == nil && count != 0) || (collisionCount != nil && *collisionCount != count) {
		collisionCount = &count
	}
	return cur, old, collisionCount, nil
}

// daemonSetHash is the DaemonSet's revisionHash: the hash of its pod
// template, Kubernetes' ComputeHash, which its pods carry. An unset
// collision count is hashed as none, as it always was.
func daemonSetHash(ds *objects.DaemonSet) revisionHash {
	unset := ds.Status.CollisionCount == nil
	return func(collisionCount int32) string {
		if unset && collisionCount == 0 {
			return templateHash(&ds.Spec.Template, nil)
		}
		return templateHash(&ds.Spec.Template, &collisionCount)
	}
}

// dedupRevisions keeps the newest of revs, the revisions holding the
// DaemonSet's template (oldest first), and deletes the others after giving
// their pods the kept one's hash, as Kubernetes' dedupCurHistories does.
// Only those pods are relabelled: Kubernetes relabels every pod with
// another hash, which would count pods of old templates as updated.
func (r *daemonSetReconciler) dedupRevisions(ctx context.Context, revs []*objects.ControllerRevision, pods []*objects.Pod) (*objects.ControllerRevision, error) {
	keep := revs[len(revs)-1]
	dups := revs[:len(revs)-1]
	if len(dups) == 0 {
		return keep, nil
	}
	hash := keep.Labels[objects.ControllerRevisionHashLabelKey]
	dupHashes := map[string]bool{}
	for _, d := range dups {
		dupHashes[d.Labels[objects.ControllerRevisionHashLabelKey]] = true
	}
	for _, p := range pods {
		if !dupHashes[p.Labels[objects.ControllerRevisionHashLabelKey]] {
			continue
		}
		p.Labels[objects.ControllerRevisionHashLabelKey] = hash
		if err := r.c.Update(ctx, p); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return keep, deleteRevisions(ctx, r.c, dups)
}

// cleanupHistory deletes the oldest of the DaemonSet's old revisions
// beyond revisionHistoryLimit, sparing those whose hash a pod (even one
// finished or being deleted) still carries, as Kubernetes' cleanupHistory
// does: unlike a StatefulSet's, the limit counts the spared ones too.
func (r *daemonSetReconciler) cleanupHistory(ctx context.Context, ds *objects.DaemonSet, old []*objects.ControllerRevision, pods []*objects.Pod) error {
	toKill := len(old) - historyLimit(ds.Spec.RevisionHistoryLimit)
	if toKill <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[objects.ControllerRevisionHashLabelKey]; h != "" {
			live[h] = true
		}
	}
	var del []*objects.ControllerRevision
	for _, rev := range old {
		if len(del) == toKill {
			break
		}
		if !live[rev.Labels[objects.ControllerRevisionHashLabelKey]] {
			del = append(del, rev)
		}
	}
	return deleteRevisions(ctx, r.c, del)
}

// manage creates the missing pods and deletes those that must go, as
// Kubernetes' podsShouldBeOnNode decides. It returns when to look again at
// failed pods left for their backoff.
func (r *daemonSetReconciler) manage(ctx context.Context, ds *objects.DaemonSet, byNode map[string]*dsNode, strays []*objects.Pod, hash string, now time.Time) (time.Duration, error) {
	surge := daemonSetSurge(ds) > 0
	var create []string
	var del []*objects.Pod
	var backoff time.Duration
	for name, n := range byNode {
		// A pod that has finished and is being deleted counts as gone.
		exists := slices.ContainsFunc(n.pods, func(p *objects.Pod) bool { return !p.IsTerminal() || !p.IsDeleting() })
		switch {
		case n.shouldRun && !exists:
			create = append(create, name)
			continue
		case !n.shouldContinue:
			for _, p := range n.pods {
				if !p.IsDeleting() {
					del = append(del, p)
				}
			}
			continue
		}
		var active []*objects.Pod
		for _, p := range n.pods {
			switch {
			case p.IsDeleting():
			case p.Status.Phase == objects.PodFailed:
				key := failedPodsBackoffKey(ds, name)
				if d := r.failedPods.wait(key, now); d > 0 {
					if backoff == 0 || d < backoff {
						backoff = d
					}
					continue
				}
				r.failedPods.next(key, now)
				r.rec.Event(ctx, ds, EventWarning, "FailedDaemonPod",
					fmt.Sprintf("Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, name))
				del = append(del, p)
			case p.Status.Phase == objects.PodSucceeded:
				r.rec.Event(ctx, ds, EventNormal, "SucceededDaemonPod",
					fmt.Sprintf("Found succeeded daemon pod %s/%s on node %s, will try to delete it", p.Namespace, p.Name, name))
				del = append(del, p)
			default:
				active = append(active, p)
			}
		}
		if len(active) == 0 {
			// Without surge the replacement waits for the pods to be gone.
			if surge && n.shouldRun {
				create = append(create, name)
			}
			continue
		}
		// Keep the oldest pod, or with surge the oldest of each revision.
		slices.SortFunc(active, compareDaemonPods)
		for _, p := range active {
			isNew := p.Labels[objects.ControllerRevisionHashLabelKey] == hash
			switch {
			case surge && isNew && n.newPod == nil:
				n.newPod = p
			case surge && !isNew && n.oldPod == nil:
				n.oldPod = p
			case !surge && n.newPod == nil && n.oldPod == nil:
				if isNew {
					n.newPod = p
				} else {
					n.oldPod = p
				}
			default:
				del = append(del, p)
			}
		}
	}
	slices.SortFunc(create, strings.Compare)
	if err := r.deleteDaemonPods(ctx, ds, del); err != nil {
		return 0, err
	}
	if len(strays) > 0 {
		// Their node is gone: no node agent will confirm a graceful stop.
		zero := int64(0)
		err := r.c.Txn(ctx, func(tx store.Tx) error {
			for _, p := range strays {
				err := store.Remove(tx, kindPod, p.Key(), store.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &store.Preconditions{UID: p.UID}})
				if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return backoff, r.createDaemonPods(ctx, ds, byNode, create, hash)
}

func (r *daemonSetReconciler) createDaemonPods(ctx context.Context, ds *objects.DaemonSet, byNode map[string]*dsNode, nodes []string, hash string) error {
	if len(nodes) > burstReplicas {
		nodes = nodes[:burstReplicas]
	}
	if len(nodes) == 0 {
		return nil
	}
	// A pod admission refuses after the first (a ResourceQuota spent by
	// those before it) ends the batch, keeping those before it, as
	// Kubernetes' slow-start batches do.
	pods := make([]*objects.Pod, len(nodes))
	var (
		created int
		refused error
	)
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		created, refused = 0, nil
		for i, name := range nodes {
			pods[i] = newDaemonPod(ds, name, hash)
			if err := r.c.AdmitCreate(tx, pods[i]); err != nil {
				if created > 0 {
					refused = err
					return nil
				}
				return err
			}
			if err := tx.Create(pods[i]); err != nil {
				return err
			}
			created++
		}
		return nil
	})
	if errors.Is(err, ErrOwnerDeleting) {
		return nil
	}
	if err == nil {
		msgs := make([]string, created)
		for i, name := range nodes[:created] {
			n := byNode[name]
			n.pods = append(n.pods, pods[i])
			n.newPod = pods[i]
			msgs[i] = "Created pod: " + pods[i].Name
		}
		recordEach(ctx, r.rec, ds, EventNormal, "SuccessfulCreate", msgs)
		err = refused
	}
	if err != nil {
		r.rec.Event(ctx, ds, EventWarning, "FailedCreate", "Error creating: "+err.Error())
		return err
	}
	return nil
}

func (r *daemonSetReconciler) deleteDaemonPods(ctx context.Context, ds *objects.DaemonSet, pods []*objects.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	if err := deletePods(ctx, r.c, pods); err != nil {
		r.rec.Event(ctx, ds, EventWarning, "FailedDelete", "Error deleting: "+err.Error())
		return err
	}
	ts := objects.NewTime(r.clock.Now())
	msgs := make([]string, len(pods))
	for i, p := range pods {
		p.DeletionTimestamp = &ts
		msgs[i] = "Deleted pod: " + p.Name
	}
	recordEach(ctx, r.rec, ds, EventNormal, "SuccessfulDelete", msgs)
	return nil
}

// rollingUpdate replaces pods of old revisions within maxUnavailable (or
// maxSurge), as Kubernetes' DaemonSet rollingUpdate does.
func (r *daemonSetReconciler) rollingUpdate(ctx context.Context, ds *objects.DaemonSet, byNode map[string]*dsNode, hash string, now time.Time) (Result, error) {
	if ds.Spec.UpdateStrategy.Type != objects.RollingUpdateDaemonSetStrategyType {
		return Result{}, nil
	}
	desired := 0
	for _, n := range byNode {
		if n.shouldRun {
			desired++
		}
	}
	maxSurge, maxUnavailable := daemonSetSurge(ds), daemonSetUnavailable(ds, desired)
	names := make([]string, 0, len(byNode))
	for name := range byNode {
		names = append(names, name)
	}
	slices.SortFunc(names, strings.Compare)
	available := func(p *objects.Pod) bool {
		return p != nil && !p.IsDeleting() && isPodAvailable(p, ds.Spec.MinReadySeconds, now)
	}
	var del []*objects.Pod
	if maxSurge == 0 {
		unavailable := 0
		var candidates []*objects.Pod
		for _, name := range names {
			n := byNode[name]
			if !n.shouldRun {
				continue
			}
			switch {
			case n.oldPod == nil && (n.newPod == nil || !available(n.newPod)):
				unavailable++
			case n.oldPod != nil && !available(n.oldPod):
				// Not serving anyway: replaced at once, and counted against
				// maxUnavailable, as Kubernetes does.
				del = append(del, n.oldPod)
				unavailable++
			case n.oldPod != nil:
				candidates = append(candidates, n.oldPod)
			}
		}
		if room := maxUnavailable - unavailable; room > 0 {
			del = append(del, candidates[:min(room, len(candidates))]...)
		}
		return Result{}, r.deleteDaemonPods(ctx, ds, del)
	}
	surging := 0
	var want []string
	for _, name := range names {
		n := byNode[name]
		if !n.shouldRun || n.oldPod == nil {
			continue
		}
		switch {
		case n.newPod != nil && available(n.newPod):
			del = append(del, n.oldPod)
		case n.newPod != nil:
			surging++
		case !available(n.oldPod):
			del = append(del, n.oldPod)
		default:
			want = append(want, name)
		}
	}
	if err := r.deleteDaemonPods(ctx, ds, del); err != nil {
		return Result{}, err
	}
	if room := maxSurge - surging; room > 0 {
		return Result{}, r.createDaemonPods(ctx, ds, byNode, want[:min(room, len(want))], hash)
	}
	return Result{}, nil
}

func daemonSetSurge(ds *objects.DaemonSet) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != objects.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return 0
	}
	desired := int(ds.Status.DesiredNumberScheduled)
	v, err := objects.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, objects.RoundUp)
	if err != nil {
		return 0
	}
	return v
}

func daemonSetUnavailable(ds *objects.DaemonSet, desired int) int {
	v := 1
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		if n, err := objects.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, objects.RoundUp); err == nil {
			v = n
		}
	}
	if v == 0 && daemonSetSurge(ds) == 0 {
		v = 1
	}
	return v
}

// newDaemonPod makes the DaemonSet's pod for node.
func newDaemonPod(ds *objects.DaemonSet, node, hash string) *objects.Pod {
	p := podFromTemplate(&ds.Spec.Template, ds)
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[objects.ControllerRevisionHashLabelKey] = hash
	pinToNode(&p.Spec, node)
	p.Spec.Tolerations = daemonPodTolerations(p.Spec.Tolerations, p.Spec.HostNetwork)
	return p
}

// pinToNode replaces the pod's required node affinity with the node's name,
// as Kubernetes' ReplaceDaemonSetPodNodeNameNodeAffinity does; the
// template's own terms were checked against the node already.
func pinToNode(spec *objects.PodSpec, node string) {
	if spec.Affinity == nil {
		spec.Affinity = &objects.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &objects.NodeAffinity{}
	}
	spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &objects.NodeSelector{
		NodeSelectorTerms: []objects.NodeSelectorTerm{{MatchFields: []objects.NodeSelectorRequirement{{
			Key: "metadata.name", Operator: objects.NodeSelectorOpIn, Values: []string{node},
		}}}},
	}
}

// daemonPodTolerations adds the tolerations Kubernetes gives every daemon
// pod.
func daemonPodTolerations(tols []objects.Toleration, hostNetwork bool) []objects.Toleration {
	add := []objects.Toleration{
		{Key: objects.TaintNodeNotReady, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoExecute},
		{Key: objects.TaintNodeUnreachable, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoExecute},
		{Key: taintNodeDiskPressure, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule},
		{Key: taintNodeMemoryPressure, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule},
		{Key: taintNodePIDPressure, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule},
		{Key: objects.TaintNodeUnschedulable, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule},
	}
	if hostNetwork {
		add = append(add, objects.Toleration{Key: taintNodeNetworkUnavailable, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule})
	}
	out := slices.Clone(tols)
	for _, t := range add {
		// Replace a toleration of the same key and effect (one with a
		// tolerationSeconds would evict the daemon pod).
		out = slices.DeleteFunc(out, func(o objects.Toleration) bool { return o.Key == t.Key && o.Effect == t.Effect })
		out = append(out, t)
	}
	return out
}

// daemonPodNode returns the node a daemon pod is for: the node it is bound
// to, or the one its affinity pins it to.
func daemonPodNode(p *objects.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range t.MatchFields {
			if f.Key == "metadata.name" && f.Operator == objects.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// nodeShouldRunDaemonPod says whether a new daemon pod may start on the
// node, and whether one running there may stay, as Kubernetes'
// NodeShouldRunDaemonPod does: the template's nodeName, nodeSelector and
// required node affinity must match, and its tolerations (with the daemon
// ones) must cover the NoSchedule and NoExecute taints (only the
// NoExecute ones for a pod to stay).
func nodeShouldRunDaemonPod(n *objects.Node, ds *objects.DaemonSet) (shouldRun, shouldContinue bool) {
	spec := &ds.Spec.Template.Spec
	if n.IsDeleting() {
		return false, false
	}
	if spec.NodeName != "" && spec.NodeName != n.Name {
		return false, false
	}
	for k, v := range spec.NodeSelector {
		if got, ok := n.Labels[k]; !ok || got != v {
			return false, false
		}
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if !nodeMatchesSelector(n, a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution) {
			return false, false
		}
	}
	tols := daemonPodTolerations(spec.Tolerations, spec.HostNetwork)
	shouldRun, shouldContinue = true, true
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect == objects.TaintEffectPreferNoSchedule || objects.TolerationsTolerateTaint(tols, t) {
			continue
		}
		shouldRun = false
		if t.Effect == objects.TaintEffectNoExecute {
			shouldContinue = false
		}
	}
	return shouldRun, shouldContinue
}

// nodeMatchesSelector reports whether a node selector's terms (ORed)
// match the node: labels with matchExpressions, the name with matchFields
// metadata.name. A term without requirements matches nothing.
func nodeMatchesSelector(n *objects.Node, s *objects.NodeSelector) bool {
	for _, t := range s.NodeSelectorTerms {
		if len(t.MatchExpressions)+len(t.MatchFields) == 0 {
			continue
		}
		ok := true
		for _, r := range t.MatchExpressions {
			v, has := n.Labels[r.Key]
			ok = ok && nodeRequirementMatches(r, v, has)
		}
		for _, r := range t.MatchFields {
			ok = ok && r.Key == "metadata.name" && nodeRequirementMatches(r, n.Name, true)
		}
		if ok {
			return true
		}
	}
	return false
}

func nodeRequirementMatches(r objects.NodeSelectorRequirement, v string, has bool) bool {
	switch r.Operator {
	case objects.NodeSelectorOpIn:
		return has && slices.Contains(r.Values, v)
	case objects.NodeSelectorOpNotIn:
		return !has || !slices.Contains(r.Values, v)
	case objects.NodeSelectorOpExists:
		return has
	case objects.NodeSelectorOpDoesNotExist:
		return !has
	case objects.NodeSelectorOpGt, objects.NodeSelectorOpLt:
		if !has || len(r.Values) != 1 {
			return false
		}
		a, err1 := strconv.ParseInt(v, 10, 64)
		b, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == objects.NodeSelectorOpGt {
			return a > b
		}
		return a < b
	}
	return false
}

// daemonSetStatus counts nodes as Kubernetes' updateDaemonSetStatus does:
// a pod that has finished and is being deleted is gone; a node's
// readiness, availability and revision are those of one pod, the first of
// compareDaemonPods, so that a pod surging beside an older one counts only
// once the older is gone.
func daemonSetStatus(ds *objects.DaemonSet, byNode map[string]*dsNode, hash string, now time.Time) objects.DaemonSetStatus {
	s := *ds.Status.DeepCopy()
	s.DesiredNumberScheduled, s.CurrentNumberScheduled, s.NumberMisscheduled = 0, 0, 0
	s.NumberReady, s.NumberAvailable, s.UpdatedNumberScheduled, s.NumberUnavailable = 0, 0, 0, 0
	for _, n := range byNode {
		pods := slices.DeleteFunc(slices.Clone(n.pods), func(p *objects.Pod) bool { return p.IsTerminal() && p.IsDeleting() })
		if n.shouldRun {
			s.DesiredNumberScheduled++
		}
		if len(pods) == 0 {
			continue
		}
		if !n.shouldRun {
			s.NumberMisscheduled++
			continue
		}
		s.CurrentNumberScheduled++
		p := slices.MinFunc(pods, compareDaemonPods)
		if objects.IsPodReady(p) {
			s.NumberReady++
			if isPodAvailable(p, ds.Spec.MinReadySeconds, now) {
				s.NumberAvailable++
			}
		}
		if p.Labels[objects.ControllerRevisionHashLabelKey] == hash {
			s.UpdatedNumberScheduled++
		}
	}
	s.NumberUnavailable = max(0, s.DesiredNumberScheduled-s.NumberAvailable)
	s.ObservedGeneration = ds.Generation
	return s
}

// compareDaemonPods orders a node's daemon pods as Kubernetes'
// podByCreationTimestampAndPhase does: bound first, then oldest first,
// then by name.
func compareDaemonPods(a, b *objects.Pod) int {
	if ab, bb := a.Spec.NodeName != "", b.Spec.NodeName != ""; ab != bb {
		if ab {
			return -1
		}
		return 1
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
