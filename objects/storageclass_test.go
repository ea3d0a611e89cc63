package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newStorageClass() *StorageClass {
	return &StorageClass{ObjectMeta: ObjectMeta{Name: "local-path"}, Provisioner: "rancher.io/local-path"}
}

func TestStorageClassDefault(t *testing.T) {
	c := newStorageClass()
	c.Default()
	assert.Equal(t, PersistentVolumeReclaimDelete, *c.ReclaimPolicy)
	assert.Equal(t, VolumeBindingImmediate, *c.VolumeBindingMode)

	c = newStorageClass()
	c.ReclaimPolicy = ptrTo(PersistentVolumeReclaimRetain)
	c.VolumeBindingMode = ptrTo(VolumeBindingWaitForFirstConsumer)
	c.Default()
	assert.Equal(t, PersistentVolumeReclaimRetain, *c.ReclaimPolicy)
	assert.Equal(t, VolumeBindingWaitForFirstConsumer, *c.VolumeBindingMode)
}

func TestStorageClassValidate(t *testing.T) {
	term := func(reqs ...TopologySelectorLabelRequirement) TopologySelectorTerm {
		return TopologySelectorTerm{MatchLabelExpressions: reqs}
	}
	zone := func(values ...string) TopologySelectorLabelRequirement {
		return TopologySelectorLabelRequirement{Key: "topology.kubernetes.io/zone", Values: values}
	}
	cases := []struct {
		name   string
		mutate func(*StorageClass)
		want   []string
	}{
		{"valid", func(*StorageClass) {}, nil},
		{"valid topologies", func(c *StorageClass) {
			c.AllowedTopologies = []TopologySelectorTerm{term(zone("a", "b")), term(zone("c"))}
			c.Parameters = map[string]string{"nodePath": "/data"}
			c.MountOptions = []string{"noatime"}
		}, nil},
		{"provisioner required", func(c *StorageClass) { c.Provisioner = "" }, []string{"provisioner: Required value"}},
		{"provisioner invalid", func(c *StorageClass) { c.Provisioner = "local path" }, []string{"provisioner: Invalid value"}},
		{"empty parameter key", func(c *StorageClass) { c.Parameters = map[string]string{"": "x"} }, []string{"parameters: Invalid value"}},
		{"reclaim policy unknown", func(c *StorageClass) { c.ReclaimPolicy = ptrTo(PersistentVolumeReclaimRecycle) },
			[]string{"reclaimPolicy: Unsupported value"}},
		{"binding mode unset", func(c *StorageClass) { c.VolumeBindingMode = nil }, []string{"volumeBindingMode: Required value"}},
		{"binding mode unknown", func(c *StorageClass) { c.VolumeBindingMode = ptrTo(VolumeBindingMode("Later")) },
			[]string{"volumeBindingMode: Unsupported value"}},
		{"topology without values", func(c *StorageClass) { c.AllowedTopologies = []TopologySelectorTerm{term(zone())} },
			[]string{"allowedTopologies[0].matchLabelExpressions[0].values: Required value"}},
		{"topology duplicates", func(c *StorageClass) {
			c.AllowedTopologies = []TopologySelectorTerm{term(zone("a", "a"), zone("b")), term(zone("b"))} // the later requirement of a key wins, as in Kubernetes
		}, []string{
			"allowedTopologies[0].matchLabelExpressions[0].values[1]: Duplicate value",
			"allowedTopologies[0].matchLabelExpressions[1].key: Duplicate value",
			"allowedTopologies[1].matchLabelExpressions: Duplicate value",
		}},
		{"topology key invalid", func(c *StorageClass) {
			c.AllowedTopologies = []TopologySelectorTerm{term(TopologySelectorLabelRequirement{Key: "-zone", Values: []string{"a"}})}
		}, []string{"allowedTopologies[0].matchLabelExpressions[0].key: Invalid value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := newStorageClass()
			sc.Default()
			c.mutate(sc)
			assert.Equal(t, c.want, errorSummary(sc.Validate()))
		})
	}
}

func TestStorageClassValidateUpdate(t *testing.T) {
	old := newStorageClass()
	old.Parameters = map[string]string{"nodePath": "/data"}
	old.Default()
	n := old.DeepCopy()
	n.AllowVolumeExpansion = ptrTo(true)
	n.MountOptions = []string{"noatime"}
	assert.Empty(t, n.ValidateUpdate(old))

	n.Provisioner = "example.com/nfs"
	n.Parameters["nodePath"] = "/srv"
	n.ReclaimPolicy = ptrTo(PersistentVolumeReclaimRetain)
	n.VolumeBindingMode = ptrTo(VolumeBindingWaitForFirstConsumer)
	var got []string
	for _, e := range n.ValidateUpdate(old) {
		got = append(got, e.Error())
	}
	assert.Equal(t, []string{
		"parameters: Forbidden: updates to parameters are forbidden.",
		"provisioner: Forbidden: updates to provisioner are forbidden.",
		"reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
		`volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable`,
	}, got)
}

func TestStorageClassManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: rancher.io/local-path
parameters: {nodePath: /opt/local-path}
reclaimPolicy: Retain
mountOptions: [noatime]
allowVolumeExpansion: true
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
- matchLabelExpressions:
  - key: topology.kubernetes.io/zone
    values: [us-central-1a, us-central-1b]
`)
	sc := obj.(*StorageClass)
	assert.Equal(t, VolumeBindingWaitForFirstConsumer, *sc.VolumeBindingMode)
	require.NoError(t, validateThroughScheme(sc))
	jsonRoundTrip(t, sc)
}
