package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCoreKindsRegistered(t *testing.T) {
	s := NewScheme()
	for kind, namespaced := range map[string]bool{
		"ConfigMap": true, "Endpoints": true, "Event": true, "Namespace": false, "Node": false,
		"PersistentVolume": false, "PersistentVolumeClaim": true, "Pod": true, "Secret": true, "Service": true,
		"ReplicationController": true,
	} {
		k := s.LookupGVK("v1", kind)
		require.NotNil(t, k, kind)
		assert.Equal(t, namespaced, k.Namespaced, kind)
		obj := k.New()
		info, err := s.KindOf(obj)
		require.NoError(t, err)
		assert.Equal(t, kind, info.Kind)
		// Copies are deep and of the same type.
		assert.IsType(t, obj, obj.DeepCopyObject())
	}
	assert.True(t, s.Lookup("Pod").HasStatus())
	assert.True(t, s.Lookup("ReplicationController").HasStatus())
	assert.False(t, s.Lookup("Event").HasStatus())
	assert.False(t, s.Lookup("Endpoints").HasStatus())
}
