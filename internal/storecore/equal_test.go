package storecore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
)

func equalPod() *objects.Pod {
	return &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web", Labels: map[string]string{}, CreationTimestamp: objects.NewTime(time.Unix(1e9, 0))},
		Spec: objects.PodSpec{Volumes: []objects.Volume{}, Containers: []objects.Container{{Name: "c", Image: "demo:v1", Args: []string{},
			Resources: objects.ResourceRequirements{Requests: objects.ResourceList{"cpu": objects.MustParseQuantity("100m")}}}}},
	}
}

// An object equals what JSON makes of it, where empty lists and maps
// become none; a change of any value, a quantity or a time included, is a
// difference.
func TestSemanticEqual(t *testing.T) {
	p := equalPod()
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var back objects.Pod
	require.NoError(t, json.Unmarshal(b, &back))
	require.Nil(t, back.Spec.Volumes)
	require.True(t, SemanticEqual(p, &back))
	require.True(t, SemanticEqual(&p.Spec, &back.Spec))

	for name, change := range map[string]func(p *objects.Pod){
		"image": func(p *objects.Pod) { p.Spec.Containers[0].Image = "demo:v2" },
		"quantity": func(p *objects.Pod) {
			p.Spec.Containers[0].Resources.Requests["cpu"] = objects.MustParseQuantity("200m")
		},
		"time":      func(p *objects.Pod) { p.CreationTimestamp = objects.NewTime(time.Unix(2e9, 0)) },
		"label":     func(p *objects.Pod) { p.Labels["a"] = "b" },
		"arg":       func(p *objects.Pod) { p.Spec.Containers[0].Args = []string{""} },
		"node name": func(p *objects.Pod) { p.Spec.NodeName = "n1" },
	} {
		q := equalPod()
		change(q)
		require.False(t, SemanticEqual(p, q), name)
	}
	require.True(t, SemanticEqual(objects.MustParseQuantity("0.1"), objects.MustParseQuantity("100m")), "quantities by value")
}

// The semantic comparison walks every built-in kind without meeting a
// field it cannot compare (which SemanticEqual would count as a change).
func TestSemanticEqualWalksEveryKind(t *testing.T) {
	for _, info := range objects.NewScheme().Kinds() {
		require.NotPanics(t, func() { semantic.DeepEqual(info.New(), info.New()) }, info.Kind)
	}
	require.NotPanics(t, func() { semantic.DeepEqual(equalPod(), equalPod()) })
	// Objects with their optional parts set: the example manifests.
	files, err := filepath.Glob("../../examples/manifests/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		objs, err := objects.NewScheme().DecodeBytes(b)
		require.NoError(t, err, f)
		for _, obj := range objs {
			require.NotPanics(t, func() { require.True(t, semantic.DeepEqual(obj, obj.DeepCopyObject())) }, "%s %s", f, obj.GetObjectMeta().Name)
		}
	}
}
