package reconcile

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func stsEnv(t *testing.T, more ...func(m *Manager) error) *env {
	return newEnv(t, withControllers(append([]func(m *Manager) error{
		func(m *Manager) error { return m.Add(StatefulSetController(m)) },
	}, more...)...))
}

func newStatefulSet(name string, replicas int32) *objects.StatefulSet {
	labels := map[string]string{"app": name}
	s := &objects.StatefulSet{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.StatefulSetSpec{
			Replicas:    ptr(replicas),
			Selector:    &objects.LabelSelector{MatchLabels: labels},
			Template:    podTemplate(labels, "db:1"),
			ServiceName: name,
			VolumeClaimTemplates: []objects.PersistentVolumeClaim{{
				ObjectMeta: objects.ObjectMeta{Name: "data"},
				Spec: objects.PersistentVolumeClaimSpec{
					AccessModes: []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce},
					Resources:   objects.VolumeResourceRequirements{Requests: objects.ResourceList{objects.ResourceStorage: objects.MustParseQuantity("1Gi")}},
				},
			}},
		},
	}
	s.Spec.Template.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "data", MountPath: "/data"}}
	return s
}

func getSTS(tx store.ReadTx, name string) *objects.StatefulSet {
	o, err := tx.Get(kindStatefulSet, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.StatefulSet)
}

func getPod(tx store.ReadTx, name string) *objects.Pod {
	o, err := tx.Get(kindPod, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.Pod)
}

func getClaim(tx store.ReadTx, name string) *objects.PersistentVolumeClaim {
	o, err := tx.Get(kindPVC, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.PersistentVolumeClaim)
}

// stsReady holds when the set has want pods, all Running, Ready and at its
// update revision, and says so in its status.
func stsReady(name string, want int32, image string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		s := getSTS(tx, name)
		if s == nil {
			return false, "no statefulset"
		}
		pods := podsWhere(tx, nil)
		ok := s.Status.ObservedGeneration == s.Generation && s.Status.Replicas == want && s.Status.ReadyReplicas == want &&
			s.Status.UpdatedReplicas == want && s.Status.CurrentRevision == s.Status.UpdateRevision && int32(len(pods)) == want
		for _, p := range pods {
			ok = ok && objects.IsPodReady(p) && !p.IsDeleting() && p.Spec.Containers[0].Image == image
		}
		return ok, fmt.Sprintf("status %+v; pods %v", s.Status, podNames(pods))
	}
}

// orderedCheck fails when a pod of ordinal i exists while the pod of
// ordinal i-1 is missing or not ready: OrderedReady's guarantee.
func orderedCheck(set string, n int) func(pods map[objects.Key]*objects.Pod) string {
	seen := map[string]bool{}
	return func(pods map[objects.Key]*objects.Pod) string {
		for i := 1; i < n; i++ {
			p := pods[dkey(fmt.Sprintf("%s-%d", set, i))]
			if p == nil || seen[p.UID] {
				continue
			}
			seen[p.UID] = true
			prev := pods[dkey(fmt.Sprintf("%s-%d", set, i-1))]
			if prev == nil || !objects.IsPodReady(prev) || prev.IsDeleting() {
				return fmt.Sprintf("%s exists while %s-%d is missing or not ready", p.Name, set, i-1)
			}
		}
		return ""
	}
}

// The case: db-0, db-1, db-2 strictly in order; deleting db-1
// brings back db-1 with the same claim.
func TestStatefulSetOrderedCreationAndStableClaims(t *testing.T) {
	e := stsEnv(t)
	var mu sync.Mutex
	var created []string
	pw, stop := e.watchPodsT(orderedCheck("db", 3))
	e.runPodScript(func(p *objects.Pod) bool {
		if !makeReady(p, e.clock.Now()) {
			return false
		}
		mu.Lock()
		if !slices.Contains(created, p.Name) {
			created = append(created, p.Name)
		}
		mu.Unlock()
		return true
	})
	e.create(newStatefulSet("db", 3))
	e.waitFor("3 ready", stsReady("db", 3, "db:1"))

	var claimUID, podUID string
	viewT(t, e.s, func(tx store.ReadTx) {
		set := getSTS(tx, "db")
		for i := range 3 {
			name := fmt.Sprintf("db-%d", i)
			p := getPod(tx, name)
			require.NotNil(t, p, name)
			require.Equal(t, name, p.Spec.Hostname)
			require.Equal(t, "db", p.Spec.Subdomain)
			require.Equal(t, name, p.Labels[objects.StatefulSetPodNameLabel])
			require.Equal(t, fmt.Sprint(i), p.Labels[objects.PodIndexLabel])
			require.Equal(t, set.Status.UpdateRevision, p.Labels[objects.ControllerRevisionHashLabelKey])
			require.Regexp(t, "^db-", set.Status.UpdateRevision)
			require.Equal(t, set.UID, p.ControllerRef().UID)
			vi := slices.IndexFunc(p.Spec.Volumes, func(v objects.Volume) bool { return v.Name == "data" })
			require.GreaterOrEqual(t, vi, 0)
			require.Equal(t, "data-"+name, p.Spec.Volumes[vi].PersistentVolumeClaim.ClaimName)
			c := getClaim(tx, "data-"+name)
			require.NotNil(t, c)
			require.Equal(t, "db", c.Labels["app"])
			require.Empty(t, c.OwnerReferences, "Retain: the claims outlive the set")
			if i == 1 {
				claimUID, podUID = c.UID, p.UID
			}
		}
	})
	require.NotEmpty(t, podUID)
	require.NotEmpty(t, claimUID)
	mu.Lock()
	require.Equal(t, []string{"db-0", "db-1", "db-2"}, created)
	mu.Unlock()

	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Delete(kindPod, dkey("db-1"), store.DeleteOptions{})
		return err
	}))
	e.waitFor("db-1 back", func(tx store.ReadTx) (bool, string) {
		p := getPod(tx, "db-1")
		if p == nil {
			return false, "no db-1"
		}
		return p.UID != podUID && objects.IsPodReady(p), fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	e.waitFor("3 ready", stsReady("db", 3, "db:1"))
	stop()
	viewT(t, e.s, func(tx store.ReadTx) {
		p := getPod(tx, "db-1")
		i := slices.IndexFunc(p.Spec.Volumes, func(v objects.Volume) bool { return v.Name == "data" })
		require.Equal(t, "data-db-1", p.Spec.Volumes[i].PersistentVolumeClaim.ClaimName)
		require.Equal(t, claimUID, getClaim(tx, "data-db-1").UID, "the same claim")
		objs, _ := tx.List(kindPVC, store.ListOptions{Namespace: "default"})
		require.Len(t, objs, 3)
	})
	require.Empty(t, pw.violations)
}

func TestStatefulSetScaleDownInReverse(t *testing.T) {
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	e.create(newStatefulSet("db", 3))
	e.waitFor("3 ready", stsReady("db", 3, "db:1"))
	// Removals: db-2 must be gone before db-1 goes.
	pw, stop := e.watchPodsT(func(pods map[objects.Key]*objects.Pod) string {
		if p := pods[dkey("db-1")]; (p == nil || p.IsDeleting()) && pods[dkey("db-2")] != nil {
			return "db-1 deleted before db-2 was gone"
		}
		return ""
	})
	e.mutate(kindStatefulSet, dkey("db"), func(o objects.Object) { o.(*objects.StatefulSet).Spec.Replicas = ptr[int32](1) })
	e.waitFor("1 ready", stsReady("db", 1, "db:1"))
	stop()
	require.Empty(t, pw.violations)
	viewT(t, e.s, func(tx store.ReadTx) {
		require.NotNil(t, getPod(tx, "db-0"))
		objs, _ := tx.List(kindPVC, store.ListOptions{Namespace: "default"})
		require.Len(t, objs, 3, "claims are retained on scale-down")
	})
}

func TestStatefulSetRollingUpdateWithPartition(t *testing.T) {
	e := partitionedSet(t)
	var oldRev string
	viewT(t, e.s, func(tx store.ReadTx) { oldRev = getSTS(tx, "db").Status.CurrentRevision })

	// db-2 must be updated before db-1 goes.
	pw, stop := e.watchPodsT(func(pods map[objects.Key]*objects.Pod) string {
		p1, p2 := pods[dkey("db-1")], pods[dkey("db-2")]
		if p1 != nil && p1.Spec.Containers[0].Image == "db:2" && (p2 == nil || p2.Spec.Containers[0].Image != "db:2" || !objects.IsPodReady(p2)) {
			return "db-1 updated before db-2 was updated and ready"
		}
		if p0 := pods[dkey("db-0")]; p0 != nil && p0.Spec.Containers[0].Image == "db:2" {
			return "db-0 is below the partition"
		}
		return ""
	})
	e.mutate(kindStatefulSet, dkey("db"), func(o objects.Object) {
		o.(*objects.StatefulSet).Spec.Template.Spec.Containers[0].Image = "db:2"
	})
	e.waitFor("db-1 and db-2 updated", func(tx store.ReadTx) (bool, string) {
		s := getSTS(tx, "db")
		p1, p2 := getPod(tx, "db-1"), getPod(tx, "db-2")
		ok := s.Status.UpdatedReplicas == 2 && s.Status.ReadyReplicas == 3 && p1 != nil && p2 != nil &&
			objects.IsPodReady(p1) && objects.IsPodReady(p2)
		return ok, fmt.Sprintf("%+v", s.Status)
	})
	stop()
	require.Empty(t, pw.violations)
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		require.Equal(t, oldRev, s.Status.CurrentRevision, "the rollout is not complete")
		require.NotEqual(t, oldRev, s.Status.UpdateRevision)
		require.Equal(t, int32(1), s.Status.CurrentReplicas)
		require.Equal(t, "db:1", getPod(tx, "db-0").Spec.Containers[0].Image)
	})
	e.mutate(kindStatefulSet, dkey("db"), func(o objects.Object) {
		o.(*objects.StatefulSet).Spec.UpdateStrategy.RollingUpdate.Partition = ptr[int32](0)
	})
	e.waitFor("all updated", stsReady("db", 3, "db:2"))
}

func TestStatefulSetParallel(t *testing.T) {
	e := stsEnv(t)
	set := newStatefulSet("web", 3)
	set.Spec.PodManagementPolicy = objects.ParallelPodManagement
	set.Spec.VolumeClaimTemplates = nil
	set.Spec.Template.Spec.Containers[0].VolumeMounts = nil
	e.create(set)
	// No pod is ever ready, yet all three are created.
	e.waitFor("3 pods", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, nil)
		s := getSTS(tx, "web")
		return len(pods) == 3 && s.Status.Replicas == 3, fmt.Sprint(podNames(pods))
	})
}

func TestStatefulSetOnDelete(t *testing.T) {
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	set := newStatefulSet("db", 2)
	set.Spec.UpdateStrategy = objects.StatefulSetUpdateStrategy{Type: objects.OnDeleteStatefulSetStrategyType}
	e.create(set)
	e.waitFor("2 ready", stsReady("db", 2, "db:1"))
	e.mutate(kindStatefulSet, dkey("db"), func(o objects.Object) {
		o.(*objects.StatefulSet).Spec.Template.Spec.Containers[0].Image = "db:2"
	})
	e.waitFor("new revision seen", func(tx store.ReadTx) (bool, string) {
		s := getSTS(tx, "db")
		return s.Status.ObservedGeneration == s.Generation && s.Status.UpdateRevision != s.Status.CurrentRevision, fmt.Sprintf("%+v", s.Status)
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, nil) {
			require.Equal(t, "db:1", p.Spec.Containers[0].Image, "OnDelete leaves running pods alone")
		}
	})
	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Delete(kindPod, dkey("db-0"), store.DeleteOptions{})
		return err
	}))
	e.waitFor("db-0 updated", func(tx store.ReadTx) (bool, string) {
		p := getPod(tx, "db-0")
		return p != nil && p.Spec.Containers[0].Image == "db:2" && objects.IsPodReady(p), fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, "db:1", getPod(tx, "db-1").Spec.Containers[0].Image) })
}

// whenDeleted=Delete: the set owns its claims, and the garbage collector
// removes them with it.
func TestStatefulSetClaimRetentionDelete(t *testing.T) {
	e := stsEnv(t, func(m *Manager) error { return m.AddRunnable(GarbageCollector(m)) })
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	set := newStatefulSet("db", 2)
	set.Spec.PersistentVolumeClaimRetentionPolicy = &objects.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: objects.DeletePersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  objects.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	e.create(set)
	e.waitFor("2 ready", stsReady("db", 2, "db:1"))
	e.mutate(kindStatefulSet, dkey("db"), func(o objects.Object) { o.(*objects.StatefulSet).Spec.Replicas = ptr[int32](1) })
	e.waitFor("claim of db-1 gone", func(tx store.ReadTx) (bool, string) {
		return getClaim(tx, "data-db-1") == nil && getClaim(tx, "data-db-0") != nil, ""
	})
	e.delete(kindStatefulSet, dkey("db"), store.DeletePropagationBackground)
	e.waitFor("everything gone", func(tx store.ReadTx) (bool, string) {
		objs, _ := tx.List(kindPVC, store.ListOptions{})
		revs, _ := tx.List(kindControllerRevision, store.ListOptions{})
		return len(objs) == 0 && len(revs) == 0 && len(podsWhere(tx, nil)) == 0,
			fmt.Sprint(len(objs), " claims, ", len(revs), " revisions")
	})
}

// The retention policy applies to the claims made before it changed, as
// Kubernetes brings their owners in line on every sync: claims made under
// whenDeleted=Delete outlive the set once the policy is Retain, and claims
// made under Retain go with the set once it is Delete.
func TestStatefulSetClaimRetentionPolicyChange(t *testing.T) {
	e := stsEnv(t, func(m *Manager) error { return m.AddRunnable(GarbageCollector(m)) })
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	setPolicy := func(name string, whenDeleted objects.PersistentVolumeClaimRetentionPolicyType) {
		e.mutate(kindStatefulSet, dkey(name), func(o objects.Object) {
			o.(*objects.StatefulSet).Spec.PersistentVolumeClaimRetentionPolicy = &objects.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: whenDeleted, WhenScaled: objects.RetainPersistentVolumeClaimRetentionPolicyType,
			}
		})
	}
	// ownedBySet holds when the set's two claims are owned by it alone, or
	// by nothing.
	ownedBySet := func(name string, owned bool) func(tx store.ReadTx) (bool, string) {
		return func(tx store.ReadTx) (bool, string) {
			set := getSTS(tx, name)
			ok, seen := set != nil, ""
			for i := range 2 {
				c := getClaim(tx, fmt.Sprintf("data-%s-%d", name, i))
				if c == nil {
					return false, "no claim " + fmt.Sprintf("data-%s-%d", name, i)
				}
				if owned {
					ok = ok && len(c.OwnerReferences) == 1 && c.OwnerReferences[0].UID == set.UID
				} else {
					ok = ok && len(c.OwnerReferences) == 0
				}
				seen += fmt.Sprintf("%s: %+v; ", c.Name, c.OwnerReferences)
			}
			return ok, seen
		}
	}

	set := newStatefulSet("db", 2)
	set.Spec.PersistentVolumeClaimRetentionPolicy = &objects.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: objects.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	e.create(set)
	e.waitFor("2 ready", stsReady("db", 2, "db:1"))
	e.waitFor("claims owned by the set", ownedBySet("db", true))
	setPolicy("db", objects.RetainPersistentVolumeClaimRetentionPolicyType)
	e.waitFor("claims no longer owned", ownedBySet("db", false))
	e.delete(kindStatefulSet, dkey("db"), store.DeletePropagationBackground)
	e.waitFor("set and pods gone", func(tx store.ReadTx) (bool, string) {
		return getSTS(tx, "db") == nil && len(podsWhere(tx, nil)) == 0, fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		require.NotNil(t, getClaim(tx, "data-db-0"), "Retain: the claims outlive the set")
		require.NotNil(t, getClaim(tx, "data-db-1"), "Retain: the claims outlive the set")
	})

	e.create(newStatefulSet("web", 2)) // Retain
	e.waitFor("2 ready", stsReady("web", 2, "db:1"))
	viewT(t, e.s, func(tx store.ReadTx) {
		ok, seen := ownedBySet("web", false)(tx)
		require.True(t, ok, seen)
	})
	setPolicy("web", objects.DeletePersistentVolumeClaimRetentionPolicyType)
	e.waitFor("claims owned by the set", ownedBySet("web", true))
	e.delete(kindStatefulSet, dkey("web"), store.DeletePropagationBackground)
	e.waitFor("claims of web gone", func(tx store.ReadTx) (bool, string) {
		return getClaim(tx, "data-web-0") == nil && getClaim(tx, "data-web-1") == nil && len(podsWhere(tx, nil)) == 0, ""
	})
	viewT(t, e.s, func(tx store.ReadTx) { require.NotNil(t, getClaim(tx, "data-db-0"), "the retained claims stay") })
}

// claimOwnerRefs gives a claim the owners Kubernetes' retention policy
// table asks for, from whatever owners it has.
func TestClaimOwnerRefs(t *testing.T) {
	set := newStatefulSet("db", 1)
	set.TypeMeta, set.UID = objects.TypeMeta{APIVersion: "apps/v1", Kind: kindStatefulSet}, "set-uid"
	pod := &objects.Pod{TypeMeta: objects.TypeMeta{APIVersion: "v1", Kind: kindPod}, ObjectMeta: objects.ObjectMeta{Name: "db-1", UID: "pod-uid"}}
	setRef, podRef := ownerRefTo(set), ownerRefTo(pod)
	other := objects.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "cm-uid"}
	foreign := objects.OwnerReference{APIVersion: "v1", Kind: "Widget", Name: "w", UID: "w-uid", Controller: ptr(true)}
	staleSet := setRef
	staleSet.UID = "old-set-uid"
	const del, retain = objects.DeletePersistentVolumeClaimRetentionPolicyType, objects.RetainPersistentVolumeClaimRetentionPolicyType
	refs := func(r ...objects.OwnerReference) []objects.OwnerReference { return r }
	for _, tc := range []struct {
		name                    string
		whenDeleted, whenScaled objects.PersistentVolumeClaimRetentionPolicyType
		scaledDown              bool
		have, want              []objects.OwnerReference
		changed                 bool
	}{
		{"retain keeps none", retain, retain, false, refs(setRef, other), refs(other), true},
		{"retain, scaled down", retain, retain, true, refs(podRef), nil, true},
		{"whenDeleted=Delete: the set", del, retain, false, nil, refs(setRef), true},
		{"whenDeleted=Delete, scaled down: still the set", del, retain, true, refs(setRef), refs(setRef), false},
		{"whenScaled=Delete: not while in range", retain, del, false, refs(podRef), nil, true},
		{"whenScaled=Delete, scaled down: the pod", retain, del, true, refs(other), refs(other, podRef), true},
		{"both Delete: the set while in range", del, del, false, refs(podRef), refs(setRef), true},
		{"both Delete, scaled down: the pod alone", del, del, true, refs(setRef), refs(podRef), true},
		{"a stale set reference is left alone", retain, retain, false, refs(staleSet), refs(staleSet), false},
		{"another controller: ours go, none added", del, del, false, refs(foreign, podRef), refs(foreign), true},
		{"another controller, nothing of ours", del, retain, false, refs(foreign), refs(foreign), false},
	} {
		set.Spec.PersistentVolumeClaimRetentionPolicy = &objects.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: tc.whenDeleted, WhenScaled: tc.whenScaled}
		got, changed := claimOwnerRefs(&objects.ObjectMeta{OwnerReferences: tc.have}, set, pod, tc.scaledDown)
		require.Equal(t, tc.want, got, tc.name)
		require.Equal(t, tc.changed, changed, tc.name)
	}
}

func TestParentAndOrdinal(t *testing.T) {
	for _, tc := range []struct {
		in     string
		parent string
		ord    int
		ok     bool
	}{
		{"db-0", "db", 0, true},
		{"my-db-12", "my-db", 12, true},
		{"db", "", -1, false},
		{"db-", "", -1, false},
		{"db-x", "", -1, false},
		{"-1", "", -1, false},
	} {
		p, o, ok := parentAndOrdinal(tc.in)
		require.Equal(t, tc.parent, p, tc.in)
		require.Equal(t, tc.ord, o, tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
	}
}

// revisionsOf lists the ControllerRevisions of a StatefulSet or DaemonSet,
// oldest first.
func revisionsOf(tx store.ReadTx, owner objects.Object) []*objects.ControllerRevision {
	m := owner.GetObjectMeta()
	objs, _ := tx.List(kindControllerRevision, store.ListOptions{Namespace: m.Namespace, Fields: map[string]string{store.IndexOwner: m.UID}})
	var out []*objects.ControllerRevision
	for _, o := range objs {
		out = append(out, o.(*objects.ControllerRevision))
	}
	sortRevisions(out)
	return out
}

func revisionImages(t *testing.T, revs []*objects.ControllerRevision) []string {
	t.Helper()
	var out []string
	for _, r := range revs {
		tmpl, err := revisionTemplate(r)
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%d:%s", r.Revision, tmpl.Spec.Containers[0].Image))
	}
	return out
}

func setImageSTS(e *env, name, image string) {
	e.mutate(kindStatefulSet, dkey(name), func(o objects.Object) {
		o.(*objects.StatefulSet).Spec.Template.Spec.Containers[0].Image = image
	})
}

// Revision history as Kubernetes keeps it: a ControllerRevision per
// template; a pod below the partition deleted mid-rollout comes back at
// the current revision; currentRevision advances when the rollout is
// complete.
func TestStatefulSetRevisionHistory(t *testing.T) {
	e := partitionedSet(t)
	var rev1 string
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		revs := revisionsOf(tx, s)
		require.Len(t, revs, 1)
		r := revs[0]
		rev1 = r.Name
		require.Equal(t, s.Status.CurrentRevision, r.Name)
		require.Equal(t, s.Status.UpdateRevision, r.Name)
		require.Equal(t, int32(3), s.Status.CurrentReplicas)
		require.Equal(t, int32(3), s.Status.UpdatedReplicas)
		require.Equal(t, ptr[int32](0), s.Status.CollisionCount)
		require.Equal(t, int64(1), r.Revision)
		require.Equal(t, "db-"+r.Labels[objects.ControllerRevisionHashLabelKey], r.Name)
		require.Equal(t, "db", r.Labels["app"], "the template's labels")
		ref := r.ControllerRef()
		require.NotNil(t, ref)
		require.Equal(t, s.UID, ref.UID)
		require.Equal(t, kindStatefulSet, ref.Kind)
		require.Equal(t, "apps/v1", r.APIVersion)
		var patch map[string]map[string]map[string]any
		require.NoError(t, json.Unmarshal(r.Data.Raw, &patch))
		require.Equal(t, "replace", patch["spec"]["template"]["$patch"])
		require.Equal(t, []string{"1:db:1"}, revisionImages(t, revs))
		for _, p := range podsWhere(tx, nil) {
			require.Equal(t, r.Name, p.Labels[objects.ControllerRevisionHashLabelKey], p.Name)
		}
	})

	setImageSTS(e, "db", "db:2")
	e.waitFor("db-1 and db-2 updated", func(tx store.ReadTx) (bool, string) {
		s := getSTS(tx, "db")
		return s.Status.UpdatedReplicas == 2 && s.Status.ReadyReplicas == 3, fmt.Sprintf("%+v", s.Status)
	})
	var rev2, db0 string
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		revs := revisionsOf(tx, s)
		require.Equal(t, []string{"1:db:1", "2:db:2"}, revisionImages(t, revs))
		rev2 = revs[1].Name
		require.Equal(t, rev1, s.Status.CurrentRevision, "the rollout is not complete")
		require.Equal(t, rev2, s.Status.UpdateRevision)
		require.Equal(t, int32(1), s.Status.CurrentReplicas)
		require.Equal(t, rev2, getPod(tx, "db-2").Labels[objects.ControllerRevisionHashLabelKey])
		db0 = getPod(tx, "db-0").UID
	})

	// db-0 is below the partition: it comes back at the current revision.
	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Delete(kindPod, dkey("db-0"), store.DeleteOptions{})
		return err
	}))
	e.waitFor("db-0 back", func(tx store.ReadTx) (bool, string) {
		p := getPod(tx, "db-0")
		return p != nil && p.UID != db0 && objects.IsPodReady(p), fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		p := getPod(tx, "db-0")
		require.Equal(t, "db:1", p.Spec.Containers[0].Image)
		require.Equal(t, rev1, p.Labels[objects.ControllerRevisionHashLabelKey])
		require.Equal(t, "db-0", p.Spec.Hostname, "the current revision's pod keeps its identity")
		require.Equal(t, "data-db-0", p.Spec.Volumes[slices.IndexFunc(p.Spec.Volumes, func(v objects.Volume) bool { return v.Name == "data" })].PersistentVolumeClaim.ClaimName)
		require.Equal(t, rev1, getSTS(tx, "db").Status.CurrentRevision)
	})

	// The rollout completes: currentRevision becomes the update revision.
	e.mutate(kindStatefulSet, dkey("db"), func(o objects.Object) {
		o.(*objects.StatefulSet).Spec.UpdateStrategy.RollingUpdate.Partition = ptr[int32](0)
	})
	e.waitFor("all updated", stsReady("db", 3, "db:2"))
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		require.Equal(t, rev2, s.Status.CurrentRevision)
		require.Equal(t, int32(3), s.Status.CurrentReplicas)
		for _, p := range podsWhere(tx, nil) {
			require.Equal(t, rev2, p.Labels[objects.ControllerRevisionHashLabelKey], p.Name)
		}
		require.Len(t, revisionsOf(tx, s), 2, "the old revision stays within revisionHistoryLimit")
	})
}

// revisionHistoryLimit keeps that many revisions besides the live ones;
// going back to an earlier template reuses its revision with the next
// number instead of making a new one.
func TestStatefulSetRevisionHistoryLimitAndRollback(t *testing.T) {
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	set := newStatefulSet("db", 2)
	set.Spec.RevisionHistoryLimit = ptr[int32](1)
	e.create(set)
	e.waitFor("ready", stsReady("db", 2, "db:1"))
	revisions := func(want ...string) func(tx store.ReadTx) (bool, string) {
		return func(tx store.ReadTx) (bool, string) {
			var got []string
			for _, r := range revisionsOf(tx, getSTS(tx, "db")) {
				tmpl, err := revisionTemplate(r)
				if err != nil {
					return false, err.Error()
				}
				got = append(got, fmt.Sprintf("%d:%s", r.Revision, tmpl.Spec.Containers[0].Image))
			}
			return slices.Equal(got, want), fmt.Sprint(got)
		}
	}
	names := map[string]string{}
	for i := 2; i <= 4; i++ {
		img := fmt.Sprintf("db:%d", i)
		setImageSTS(e, "db", img)
		e.waitFor(img, stsReady("db", 2, img))
		viewT(t, e.s, func(tx store.ReadTx) { names[img] = getSTS(tx, "db").Status.UpdateRevision })
	}
	e.waitFor("one revision of history", revisions("3:db:3", "4:db:4"))

	setImageSTS(e, "db", "db:3")
	e.waitFor("rolled back", stsReady("db", 2, "db:3"))
	e.waitFor("db:3's revision renumbered", revisions("4:db:4", "5:db:3"))
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		require.Equal(t, names["db:3"], s.Status.UpdateRevision, "the revision is reused, not made again")
		require.Equal(t, names["db:3"], s.Status.CurrentRevision)
		for _, p := range podsWhere(tx, nil) {
			require.Equal(t, names["db:3"], p.Labels[objects.ControllerRevisionHashLabelKey])
		}
	})
}

// A revision of the set's name made by someone else, with other data, is a
// hash collision: the set counts it and names its revision with the next
// count, as Kubernetes does.
func TestStatefulSetRevisionCollision(t *testing.T) {
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	set := newStatefulSet("db", 1)
	defaulted := set.DeepCopy()
	e.s.Scheme().Default(defaulted)
	data, err := templatePatch(&defaulted.Spec.Template)
	require.NoError(t, err)
	taken := controllerRevisionName("db", hashControllerRevision(data, 0))
	e.create(&objects.ControllerRevision{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: taken, Labels: map[string]string{"app": "other"}},
		Data:       objects.RawExtension{Raw: []byte(`{"other":true}`)}, Revision: 1,
	})
	e.create(set)
	e.waitFor("ready", stsReady("db", 1, "db:1"))
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		require.Equal(t, ptr[int32](1), s.Status.CollisionCount)
		want := controllerRevisionName("db", hashControllerRevision(data, 1))
		require.Equal(t, want, s.Status.UpdateRevision)
		require.Equal(t, want, getPod(tx, "db-0").Labels[objects.ControllerRevisionHashLabelKey])
		require.Len(t, revisionsOf(tx, s), 1)
		o, err := tx.Get(kindControllerRevision, dkey(taken))
		require.NoError(t, err)
		require.Nil(t, o.GetObjectMeta().ControllerRef(), "the other revision is left alone")
	})
}

// Parallel scales down without waiting: every pod beyond the replicas is
// deleted at once, while the others are still terminating (their node
// agent never confirms here), where OrderedReady would wait for each.
func TestStatefulSetParallelScaleDown(t *testing.T) {
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	set := newStatefulSet("web", 4)
	set.Spec.PodManagementPolicy = objects.ParallelPodManagement
	set.Spec.VolumeClaimTemplates = nil
	set.Spec.Template.Spec.Containers[0].VolumeMounts = nil
	set.Spec.Template.Spec.NodeName = "n1" // bound: deleted gracefully
	e.create(set)
	e.waitFor("4 ready", stsReady("web", 4, "db:1"))
	e.mutate(kindStatefulSet, dkey("web"), func(o objects.Object) { o.(*objects.StatefulSet).Spec.Replicas = ptr[int32](1) })
	e.waitFor("web-1..3 terminating together", func(tx store.ReadTx) (bool, string) {
		ok := true
		for i := 1; i <= 3; i++ {
			p := getPod(tx, fmt.Sprintf("web-%d", i))
			ok = ok && p != nil && p.IsDeleting()
		}
		return ok, fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	viewT(t, e.s, func(tx store.ReadTx) { require.False(t, getPod(tx, "web-0").IsDeleting()) })
}

// partitionedSet starts set db of 3 pods of db:1 whose rolling updates
// have partition 1, with pods that become ready, and waits until they are.
func partitionedSet(t *testing.T) *env {
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	set := newStatefulSet("db", 3)
	set.Spec.UpdateStrategy = objects.StatefulSetUpdateStrategy{
		Type:          objects.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &objects.RollingUpdateStatefulSetStrategy{Partition: ptr[int32](1)},
	}
	e.create(set)
	e.waitFor("3 ready", stsReady("db", 3, "db:1"))
	return e
}
