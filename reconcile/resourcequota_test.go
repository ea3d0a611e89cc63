package reconcile

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func quantities(kv ...string) objects.ResourceList {
	l := objects.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[objects.ResourceName(kv[i])] = objects.MustParseQuantity(kv[i+1])
	}
	return l
}

// quotaIs holds once the quota's status.hard is its spec.hard and its
// status.used is used.
func quotaIs(name string, used objects.ResourceList) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindResourceQuota, objects.Key{Namespace: "default", Name: name})
		if err != nil {
			return false, err.Error()
		}
		q := o.(*objects.ResourceQuota)
		seen := fmt.Sprintf("hard %v, used %v", q.Status.Hard, q.Status.Used)
		if !sameList(q.Status.Hard, q.Spec.Hard) || !sameList(q.Status.Used, used) {
			return false, seen
		}
		return true, seen
	}
}

func sameList(a, b objects.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for n, v := range a {
		if w, ok := b[n]; !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}

// setPodPhase writes a pod's phase, as its node agent would.
func (e *env) setPodPhase(name string, phase objects.PodPhase) {
	e.t.Helper()
	require.NoError(e.t, e.s.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get(kindPod, objects.Key{Namespace: "default", Name: name})
		if err != nil {
			return err
		}
		p := o.(*objects.Pod)
		p.Status.Phase = phase
		return tx.UpdateStatus(p)
	}))
}

// The controller computes each quota's usage from what exists, as
// Kubernetes' does: status.hard is spec.hard; finished pods count in
// count/pods only; scopes select the pods counted. It computes a quota
// again when a pod it counted goes or finishes, when its spec changes,
// and every sync period (which brings in the counts of kinds it does not
// watch).
func TestResourceQuotaController(t *testing.T) {
	e := newEnv(t, withControllers(func(m *Manager) error {
		return m.Add(ResourceQuotaController(m, ResourceQuotaOptions{}))
	}))
	pod := func(name, cpu string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name}, Spec: objects.PodSpec{
			Containers: []objects.Container{{Name: "app", Image: "app:1",
				Resources: objects.ResourceRequirements{Requests: quantities("cpu", cpu)}}}}}
	}
	deadline := pod("c", "300m")
	deadline.Spec.ActiveDeadlineSeconds = ptr(int64(60))
	rs := newReplicaSet("web", 1, map[string]string{"app": "web"})
	e.create(pod("a", "100m"), pod("b", "200m"), deadline, rs,
		&objects.Service{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"},
			Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}})
	e.setPodPhase("b", objects.PodSucceeded)

	e.create(&objects.ResourceQuota{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "compute"},
		Spec: objects.ResourceQuotaSpec{Hard: quantities("pods", "10", "count/pods", "10", "requests.cpu", "2",
			"services", "3", "count/replicasets.apps", "5")}},
		&objects.ResourceQuota{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "terminating"},
			Spec: objects.ResourceQuotaSpec{Hard: quantities("pods", "5"),
				Scopes: []objects.ResourceQuotaScope{objects.ResourceQuotaScopeTerminating}}})
	e.waitFor("usage computed", quotaIs("compute", quantities("pods", "2", "count/pods", "3",
		"requests.cpu", "400m", "services", "1", "count/replicasets.apps", "1")))
	e.waitFor("the Terminating scope counts c only", quotaIs("terminating", quantities("pods", "1")))

	e.delete(kindPod, objects.Key{Namespace: "default", Name: "a"}, "")
	e.waitFor("a deleted pod freed", quotaIs("compute", quantities("pods", "1", "count/pods", "2",
		"requests.cpu", "300m", "services", "1", "count/replicasets.apps", "1")))
	e.setPodPhase("c", objects.PodFailed)
	e.waitFor("a finished pod freed", quotaIs("compute", quantities("pods", "0", "count/pods", "2",
		"requests.cpu", "0", "services", "1", "count/replicasets.apps", "1")))
	e.waitFor("in every quota", quotaIs("terminating", quantities("pods", "0")))

	// A ReplicaSet written past admission, of a kind the controller does
	// not watch: counted at the next sync.
	e.create(newReplicaSet("api", 1, map[string]string{"app": "api"}))
	require.NoError(t, e.clock.BlockUntilContext(context.Background(), 2), "each quota's next sync is due")
	e.clock.Advance(DefaultResourceQuotaSyncPeriod)
	e.waitFor("counted at the sync", quotaIs("compute", quantities("pods", "0", "count/pods", "2",
		"requests.cpu", "0", "services", "1", "count/replicasets.apps", "2")))

	e.mutate(kindResourceQuota, objects.Key{Namespace: "default", Name: "compute"}, func(o objects.Object) {
		o.(*objects.ResourceQuota).Spec.Hard = quantities("pods", "1", "services", "3")
	})
	e.waitFor("status.hard follows spec.hard", quotaIs("compute", quantities("pods", "0", "services", "1")))
}

// podLimit is an admission hook refusing a pod past limit pods in its
// namespace, as a spent pods quota does.
type podLimit struct {
	mu    sync.Mutex
	limit int
}

func (l *podLimit) set(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = n
}

func (l *podLimit) admit(tx store.Tx, obj, old objects.Object) error {
	p, ok := obj.(*objects.Pod)
	if !ok || old != nil {
		return nil
	}
	pods, err := store.PeekList(tx, kindPod, store.ListOptions{Namespace: p.Namespace})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(pods) >= l.limit {
		return fmt.Errorf("only %d pods", l.limit)
	}
	return nil
}

// Jobs and DaemonSets, like ReplicaSets, keep the pods of a batch created
// before admission refuses one, record FailedCreate, and create the rest
// once admission allows them.
func TestControllersKeepPodsCreatedBeforeARefusal(t *testing.T) {
	podsAndEvent := func(e *env, kind, name string) func(tx store.ReadTx) (bool, string) {
		return func(tx store.ReadTx) (bool, string) {
			o, err := tx.Get(kind, objects.Key{Namespace: "default", Name: name})
			if err != nil {
				return false, err.Error()
			}
			n := len(podsOf(tx, o.GetObjectMeta().UID))
			return n == 2 && e.events.has("FailedCreate: Error creating: only 2 pods"), fmt.Sprintf("%d pods; events:\n%s", n, e.events)
		}
	}
	podCount := func(kind, name string, want int) func(tx store.ReadTx) (bool, string) {
		return func(tx store.ReadTx) (bool, string) {
			o, err := tx.Get(kind, objects.Key{Namespace: "default", Name: name})
			if err != nil {
				return false, err.Error()
			}
			n := len(podsOf(tx, o.GetObjectMeta().UID))
			return n == want, fmt.Sprintf("%d pods", n)
		}
	}
	t.Run("Job", func(t *testing.T) {
		l := &podLimit{limit: 2}
		e := newEnv(t, withManagerOptions(WithAdmission(l.admit)),
			withControllers(func(m *Manager) error { return m.Add(JobController(m)) }))
		e.create(newJob("work", 3, 3))
		e.waitFor("2 pods and a FailedCreate", podsAndEvent(e, kindJob, "work"))
		l.set(3)
		e.waitFor("3 pods once allowed", podCount(kindJob, "work", 3))
	})
	t.Run("DaemonSet", func(t *testing.T) {
		l := &podLimit{limit: 2}
		e := newEnv(t, withManagerOptions(WithAdmission(l.admit)),
			withControllers(func(m *Manager) error { return m.Add(DaemonSetController(m)) }))
		e.create(newNode("n1"), newNode("n2"), newNode("n3"))
		e.create(newDaemonSet("agent", "agent:1"))
		e.waitFor("2 pods and a FailedCreate", podsAndEvent(e, kindDaemonSet, "agent"))
		l.set(3)
		e.waitFor("3 pods once allowed", podCount(kindDaemonSet, "agent", 3))
	})
}
