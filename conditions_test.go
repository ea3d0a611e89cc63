package podkit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// A StatefulSet rolled out up to its partition is available, as `kubectl
// rollout status` says "partitioned roll out complete"; without a
// partition every pod must be at the update revision.
func TestAvailableStatefulSet(t *testing.T) {
	set := func(partition int32, updated int32, current, update string) *objects.StatefulSet {
		three := int32(3)
		s := &objects.StatefulSet{Spec: objects.StatefulSetSpec{Replicas: &three, UpdateStrategy: objects.StatefulSetUpdateStrategy{
			Type: objects.RollingUpdateStatefulSetStrategyType, RollingUpdate: &objects.RollingUpdateStatefulSetStrategy{Partition: &partition}}}}
		s.Status = objects.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, UpdatedReplicas: updated,
			CurrentRevision: current, UpdateRevision: update}
		return s
	}
	for _, tc := range []struct {
		name string
		set  *objects.StatefulSet
		want bool
	}{
		{"all updated", set(0, 3, "v2", "v2"), true},
		{"rolling", set(0, 2, "v1", "v2"), false},
		{"partition 2, pod 2 updated", set(2, 1, "v1", "v2"), true},
		{"partition 2, none updated", set(2, 0, "v1", "v2"), false},
		{"partition 1, one of two updated", set(1, 1, "v1", "v2"), false},
	} {
		assert.Equal(t, tc.want, podkit.Available(tc.set), tc.name)
	}
}
