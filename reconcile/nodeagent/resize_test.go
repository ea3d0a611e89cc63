package nodeagent_test

import (
	"context"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// A resize Deferred for want of room is admitted as soon as a pod leaves
// the node, as the kubelet retries pending resizes when a pod is removed:
// without waiting for its periodic retry (the fake clock stands still).
func TestDeferredResizeRetriedWhenAPodLeaves(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	cpu := func(q string) objects.ResourceRequirements {
		return objects.ResourceRequirements{Requests: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity(q)}}
	}
	big, grow := e.pod("big", "app"), e.pod("grow", "app")
	big.Spec.Containers[0].Resources = cpu("3")
	grow.Spec.Containers[0].Resources = cpu("500m")
	e.create(big, grow)
	e.waitPod("big", "running", running)
	e.waitPod("grow", "running", running)

	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: "grow"})
		if err != nil {
			return err
		}
		p := o.(*objects.Pod).DeepCopy()
		p.Spec.Containers[0].Resources = cpu("1500m")
		return tx.Update(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitPod("grow", "with its resize Deferred", func(p *objects.Pod) bool {
		c := objects.GetPodCondition(&p.Status, objects.PodResizePending)
		return c != nil && c.Reason == objects.PodReasonDeferred
	})

	zero := int64(0)
	err = e.store.Update(context.Background(), func(tx store.Tx) error {
		return store.Remove(tx, "Pod", objects.Key{Namespace: "default", Name: "big"}, store.DeleteOptions{GracePeriodSeconds: &zero})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitPod("grow", "with its resize admitted", func(p *objects.Pod) bool {
		a := containerStatus(p, "app").AllocatedResources
		return objects.GetPodCondition(&p.Status, objects.PodResizePending) == nil && a != nil && a.Cpu().Equal(objects.MustParseQuantity("1500m"))
	})
}
