package storecore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
)

// An update built from the stored object keeps, shared, the parts it
// left alone and copies those it changed; neither the old stored object
// nor the caller's object is modified, and later changes to the caller's
// object do not reach what was stored.
func TestPrepareUpdateSharesUnchangedParts(t *testing.T) {
	ks, err := NewKinds(objects.NewScheme(), nil)
	require.NoError(t, err)
	k, err := ks.Lookup("Pod")
	require.NoError(t, err)
	old := &objects.Pod{
		TypeMeta: objects.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "p", UID: "u", ResourceVersion: "5", Generation: 1,
			Labels: map[string]string{"app": "web"}, Finalizers: []string{"f"}},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1"}},
			NodeSelector: map[string]string{"disk": "ssd"}},
		Status: objects.PodStatus{Phase: objects.PodPending, Conditions: []objects.PodCondition{
			{Type: objects.PodScheduled, Status: objects.ConditionFalse, Reason: "Unschedulable"}}},
	}
	before := old.DeepCopy()

	in := &objects.Pod{TypeMeta: old.TypeMeta, ObjectMeta: old.ObjectMeta, Spec: old.Spec, Status: old.Status}
	in.Spec.NodeName = "n1"
	in.Status.Conditions = []objects.PodCondition{{Type: objects.PodScheduled, Status: objects.ConditionTrue}}
	res, err := k.PrepareUpdateWithStatus(old, in, Stamp{ResourceVersion: "6"})
	require.NoError(t, err)
	require.Equal(t, OpPut, res.Op)
	n := res.Obj.(*objects.Pod)
	require.Equal(t, before, old, "the old stored object is untouched")
	require.Equal(t, "n1", n.Spec.NodeName)
	require.Equal(t, int64(1), n.Generation, "a binding keeps the pod's generation (store.GenerationKeeper)")
	require.Equal(t, "6", n.ResourceVersion)
	require.Same(t, &old.Spec.Containers[0], &n.Spec.Containers[0], "the unchanged spec is shared")
	require.Equal(t, in.Status, n.Status)
	in.Status.Conditions[0].Reason = "changed afterwards"
	require.Empty(t, n.Status.Conditions[0].Reason, "the changed status is copied")

	// A part that refers to memory of the caller's own is copied whole.
	in2 := n.DeepCopy()
	in2.Spec.Containers[0].Image = "app:2"
	res, err = k.PrepareUpdate(n, in2, Stamp{ResourceVersion: "7"})
	require.NoError(t, err)
	n2 := res.Obj.(*objects.Pod)
	require.Equal(t, "app:2", n2.Spec.Containers[0].Image)
	require.Equal(t, int64(2), n2.Generation)
	in2.Spec.Containers[0].Image = "app:3"
	in2.Labels["app"] = "changed"
	require.Equal(t, "app:2", n2.Spec.Containers[0].Image)
	require.Equal(t, "web", n2.Labels["app"])
	require.Same(t, &n.Status.Conditions[0], &n2.Status.Conditions[0], "Update keeps the stored status")
}
