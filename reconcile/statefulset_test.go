package reconcile

import (
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
			i := slices.IndexFunc(p.Spec.Volumes, func(v objects.Volume) bool { return v.Name == "data" })
			require.GreaterOrEqual(t, i, 0)
			require.Equal(t, "data-"+name, p.Spec.Volumes[i].PersistentVolumeClaim.ClaimName)
			c := getClaim(tx, "data-"+name)
			require.NotNil(t, c)
			require.Equal(t, "db", c.Labels["app"])
			require.Empty(t, c.OwnerReferences, "Retain: the claims outlive the set")
			if i == 1 {
				claimUID, podUID = c.UID, p.UID
			}
		}
		podUID = getPod(tx, "db-1").UID
		claimUID = getClaim(tx, "data-db-1").UID
	})
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
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	set := newStatefulSet("db", 3)
	set.Spec.UpdateStrategy = objects.StatefulSetUpdateStrategy{
		Type:          objects.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &objects.RollingUpdateStatefulSetStrategy{Partition: ptr[int32](1)},
	}
	e.create(set)
	e.waitFor("3 ready", stsReady("db", 3, "db:1"))
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
		return len(objs) == 0 && len(podsWhere(tx, nil)) == 0, fmt.Sprint(len(objs), " claims")
	})
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
