package nodeagent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func getNode(t *testing.T, s store.Store, name string) *objects.Node {
	t.Helper()
	var n *objects.Node
	err := s.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Node", objects.Key{Name: name})
		if err == nil {
			n = o.(*objects.Node)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func getLease(s store.Store, name string) (*objects.Lease, error) {
	var l *objects.Lease
	err := s.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Lease", objects.Key{Namespace: objects.NamespaceNodeLease, Name: name})
		if err == nil {
			l = o.(*objects.Lease)
		}
		return err
	})
	return l, err
}

func nodeReady(t *testing.T, s store.Store, name string) objects.ConditionStatus {
	c := objects.GetNodeCondition(&getNode(t, s, name).Status, objects.NodeReady)
	if c == nil {
		return ""
	}
	return c.Status
}

func TestNodeHeartbeatAndReadiness(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	if !waitFor(waitTimeout, func() bool { return nodeReady(t, e.store, "n1") == objects.ConditionTrue }) {
		t.Fatalf("node never Ready: %+v", getNode(t, e.store, "n1").Status.Conditions)
	}
	n := getNode(t, e.store, "n1")
	if n.Status.NodeInfo.ContainerRuntimeVersion != "fake://0.1.0" || n.Status.Capacity.Cpu().String() != "4" {
		t.Errorf("nodeInfo %+v capacity %v", n.Status.NodeInfo, n.Status.Capacity)
	}
	var first time.Time
	if !waitFor(waitTimeout, func() bool {
		l, err := getLease(e.store, "n1")
		if err != nil {
			return false
		}
		first = l.Spec.RenewTime.Time
		return *l.Spec.HolderIdentity == "n1" && *l.Spec.LeaseDurationSeconds == 40 && len(l.OwnerReferences) == 1
	}) {
		t.Fatalf("no lease for n1")
	}
	e.advance(baseTimers, 10*time.Second)
	if !waitFor(waitTimeout, func() bool {
		l, _ := getLease(e.store, "n1")
		return l.Spec.RenewTime.Time.Sub(first) == 10*time.Second
	}) {
		t.Errorf("lease not renewed after 10s")
	}

	e.rt.SetUnavailable(true)
	e.advance(baseTimers, 10*time.Second)
	if !waitFor(waitTimeout, func() bool { return nodeReady(t, e.store, "n1") == objects.ConditionFalse }) {
		t.Fatalf("node still Ready with its runtime down")
	}
	c := objects.GetNodeCondition(&getNode(t, e.store, "n1").Status, objects.NodeReady)
	if c.Reason != "KubeletNotReady" || !strings.Contains(c.Message, "container runtime is down") {
		t.Errorf("NotReady condition = %+v", c)
	}
	e.rt.SetUnavailable(false)
	e.advance(baseTimers, 10*time.Second)
	if !waitFor(waitTimeout, func() bool { return nodeReady(t, e.store, "n1") == objects.ConditionTrue }) {
		t.Fatalf("node not Ready again after its runtime came back")
	}
}

func TestPodsSurviveARuntimeOutage(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	e.rt.SetUnavailable(true)
	e.create(e.pod("patient", "app"))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.fake.BlockUntilContext(ctx, baseTimers+1); err != nil { // the failed sync's retry
		t.Fatal(err)
	}
	e.rt.SetUnavailable(false)
	e.fake.Advance(time.Second)
	e.waitPod("patient", "running once the runtime is back", running)
}

// A node registered without an ephemeral-storage capacity gets its disk's,
// as the kubelet reports its file system's, allocatable too; one given a
// capacity keeps it.
func TestNodeEphemeralStorageCapacity(t *testing.T) {
	e := newEnv(t, envOpt{})
	var n *objects.Node
	if !waitFor(waitTimeout, func() bool {
		n = getNode(t, e.store, "n1")
		_, ok := n.Status.Allocatable[objects.ResourceEphemeralStorage]
		return ok
	}) {
		t.Fatalf("no ephemeral-storage allocatable: %v", n.Status.Allocatable)
	}
	c, a := n.Status.Capacity.StorageEphemeral(), n.Status.Allocatable.StorageEphemeral()
	if c.Sign() <= 0 || !c.Equal(a) {
		t.Errorf("ephemeral-storage capacity %v, allocatable %v; want the disk's size in both", c.String(), a.String())
	}

	e.stop()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Node", objects.Key{Name: "n1"})
		if err != nil {
			return err
		}
		n := o.(*objects.Node)
		n.Status.Capacity[objects.ResourceEphemeralStorage] = objects.MustParseQuantity("10Gi")
		n.Status.Allocatable[objects.ResourceEphemeralStorage] = objects.MustParseQuantity("9Gi")
		return tx.UpdateStatus(n)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	if !waitFor(waitTimeout, func() bool { return nodeReady(t, e.store, "n1") == objects.ConditionTrue }) {
		t.Fatal("node not Ready")
	}
	n = getNode(t, e.store, "n1")
	if c, a := n.Status.Capacity.StorageEphemeral(), n.Status.Allocatable.StorageEphemeral(); c.String() != "10Gi" || a.String() != "9Gi" {
		t.Errorf("ephemeral-storage capacity %v, allocatable %v; want 10Gi and 9Gi kept", c.String(), a.String())
	}
}
