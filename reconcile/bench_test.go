package reconcile

import (
	"fmt"
	"testing"
	"time"

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
