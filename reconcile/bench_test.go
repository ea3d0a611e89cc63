package reconcile

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/podkit/podkit/internal/workqueue"
	"github.com/podkit/podkit/objects"
)

// BenchmarkReplicaSetScale measures a ReplicaSet going from 0 to 1000 pods
// and back, on the memdb store, with status updates.
func BenchmarkReplicaSetScale(b *testing.B) {
	const n = 1000
	e := rsEnv(b)
	e.create(newReplicaSet("web", 0, map[string]string{"app": "web"}))
	key := objects.Key{Namespace: "default", Name: "web"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.mutate(kindReplicaSet, key, func(o objects.Object) { o.(*objects.ReplicaSet).Spec.Replicas = ptr[int32](n) })
		e.waitFor(fmt.Sprint(n, " pods"), rsSettled("web", n, 0, 0))
		e.mutate(kindReplicaSet, key, func(o objects.Object) { o.(*objects.ReplicaSet).Spec.Replicas = ptr[int32](0) })
		e.waitFor("no pods", rsSettled("web", 0, 0, 0))
	}
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "pods/s")
}

// BenchmarkPodsToDelete ranks 10000 pods for a scale-down.
func BenchmarkPodsToDelete(b *testing.B) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	pods := make([]*objects.Pod, 10000)
	for i := range pods {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprint("p", i), UID: fmt.Sprint(i),
			CreationTimestamp: objects.NewTime(now.Add(-time.Duration(i) * time.Minute))}}
		p.Spec.NodeName = fmt.Sprint("n", i%50)
		p.Status.Phase = objects.PodRunning
		p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionTrue,
			LastTransitionTime: objects.NewTime(now.Add(-time.Duration(i%97) * time.Minute))}}
		pods[i] = p
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		podsToDelete(pods, pods, 5000, now)
	}
}

// BenchmarkGarbageCollectorGraph feeds the collector the watch events of
// 1000 ReplicaSets of 30 pods, each pod added and then changed, and
// reports what its graph keeps per object.
func BenchmarkGarbageCollectorGraph(b *testing.B) {
	const replicaSets, pods = 1000, 30
	yes := true
	var objs []objects.Object
	for i := range replicaSets {
		rs := &objects.ReplicaSet{TypeMeta: objects.TypeMeta{APIVersion: "apps/v1", Kind: kindReplicaSet},
			ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprint("rs-", i), UID: fmt.Sprint("rs-uid-", i)}}
		objs = append(objs, rs)
		for j := range pods {
			objs = append(objs, &objects.Pod{TypeMeta: objects.TypeMeta{APIVersion: "v1", Kind: kindPod},
				ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprint(rs.Name, "-", j), UID: fmt.Sprint("pod-uid-", i, "-", j),
					OwnerReferences: []objects.OwnerReference{{APIVersion: "apps/v1", Kind: kindReplicaSet, Name: rs.Name, UID: rs.UID,
						Controller: &yes, BlockOwnerDeletion: &yes}}}})
		}
	}
	var before, after runtime.MemStats
	for i := 0; i < b.N; i++ {
		gc := &garbageCollector{queue: workqueue.New[gcItem](workqueue.Options{})}
		gc.replace(nil)
		if i == b.N-1 {
			runtime.GC()
			runtime.ReadMemStats(&before)
		}
		for _, o := range objs {
			gc.changed(o)
		}
		for _, o := range objs {
			gc.changed(o)
		}
		if i == b.N-1 {
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(objs)), "graph-B/object")
		}
		runtime.KeepAlive(gc)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*len(objs)*b.N), "ns/event")
}
