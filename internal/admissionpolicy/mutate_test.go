package admissionpolicy

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/podkit/podkit/objects"
)

// An apply configuration merges as server-side apply does: maps field by
// field, keyed lists item by item with the object's own items first,
// other lists replaced.
func TestMergeAppliedConfiguration(t *testing.T) {
	live := map[string]any{
		"metadata": map[string]any{"name": "p", "labels": map[string]any{"a": "1"}},
		"spec": map[string]any{
			"containers": []any{
				map[string]any{"name": "app", "image": "app:1", "args": []any{"x"}},
				map[string]any{"name": "log", "image": "log:1"},
			},
			"nodeSelector":       map[string]any{"zone": "a"},
			"tolerations":        []any{map[string]any{"key": "k"}},
			"serviceAccountName": "default",
		},
	}
	applied := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"b": "2"}},
		"spec": map[string]any{
			"containers": []any{
				map[string]any{"name": "proxy", "image": "proxy:1"},
				map[string]any{"name": "app", "args": []any{"y", "z"}},
			},
			"tolerations": []any{map[string]any{"key": "other"}},
		},
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(&objects.Pod{})
	require.NoError(t, err)
	got, err := mergeMap(live, applied, meta)
	require.NoError(t, err)
	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
		"spec": {
			"containers": [
				{"name": "app", "image": "app:1", "args": ["y", "z"]},
				{"name": "log", "image": "log:1"},
				{"name": "proxy", "image": "proxy:1"}
			],
			"nodeSelector": {"zone": "a"},
			"tolerations": [{"key": "other"}],
			"serviceAccountName": "default"
		}
	}`, string(b))

	_, err = mergeMap(live, map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"image": "x"}}}}, meta)
	require.ErrorContains(t, err, `containers[0]: the merge key "name" is required`)
}
