package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func testPV() *PersistentVolume {
	return &PersistentVolume{
		ObjectMeta: ObjectMeta{Name: "pv1"},
		Spec: PersistentVolumeSpec{
			Capacity:               ResourceList{ResourceStorage: MustParseQuantity("10Gi")},
			AccessModes:            []PersistentVolumeAccessMode{ReadWriteOnce},
			PersistentVolumeSource: PersistentVolumeSource{HostPath: &HostPathVolumeSource{Path: "/srv/pv1"}},
		},
	}
}

func TestPersistentVolumeDefault(t *testing.T) {
	v := testPV()
	v.Default()
	assert.Equal(t, PersistentVolumeReclaimRetain, v.Spec.PersistentVolumeReclaimPolicy)
	assert.Equal(t, PersistentVolumeFilesystem, *v.Spec.VolumeMode)
	assert.Equal(t, VolumePending, v.Status.Phase)
}

func TestValidatePersistentVolume(t *testing.T) {
	local := func(v *PersistentVolume) {
		v.Spec.HostPath = nil
		v.Spec.Local = &LocalVolumeSource{Path: "/mnt/disk1"}
	}
	cases := []struct {
		name   string
		mutate func(v *PersistentVolume)
		want   []string
	}{
		{"valid", func(*PersistentVolume) {}, nil},
		{"capacity", func(v *PersistentVolume) { v.Spec.Capacity = nil }, []string{"spec.capacity: Required value"}},
		{"capacity other than storage", func(v *PersistentVolume) { v.Spec.Capacity = ResourceList{ResourceCPU: MustParseQuantity("1")} }, []string{
			`spec.capacity: Unsupported value: "[cpu]": supported values: "storage"`,
		}},
		{"zero capacity", func(v *PersistentVolume) { v.Spec.Capacity[ResourceStorage] = MustParseQuantity("0") }, []string{
			`spec.capacity[storage]: Invalid value: "0": must be greater than zero`,
		}},
		{"access modes", func(v *PersistentVolume) { v.Spec.AccessModes = nil }, []string{
			"spec.accessModes: Required value: at least 1 access mode is required",
		}},
		{"bad access mode", func(v *PersistentVolume) { v.Spec.AccessModes = []PersistentVolumeAccessMode{"ReadSometimes"} }, []string{
			`spec.accessModes: Unsupported value: "ReadSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`,
		}},
		{"no source", func(v *PersistentVolume) { v.Spec.HostPath = nil }, []string{"spec: Required value: must specify a volume type"}},
		{"two sources", func(v *PersistentVolume) { v.Spec.Local = &LocalVolumeSource{Path: "/x"} }, []string{
			"spec.local: Forbidden: may not specify more than 1 volume type",
		}},
		{"local needs node affinity", local, []string{"spec.nodeAffinity: Required value: Local volumes require node affinity"}},
		{"local with node affinity", func(v *PersistentVolume) {
			local(v)
			v.Spec.NodeAffinity = &VolumeNodeAffinity{Required: &NodeSelector{NodeSelectorTerms: []NodeSelectorTerm{{
				MatchExpressions: []NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: NodeSelectorOpIn, Values: []string{"n1"}}}}}}}
		}, nil},
		{"reclaim policy and mode", func(v *PersistentVolume) {
			v.Spec.PersistentVolumeReclaimPolicy = "Keep"
			v.Spec.VolumeMode = ptrOf(PersistentVolumeMode("Raw"))
		}, []string{
			`spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"`,
			`spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := testPV()
			tc.mutate(v)
			v.Default()
			assertFieldErrors(t, tc.want, v.Validate())
		})
	}
}

func TestPersistentVolumeValidateUpdate(t *testing.T) {
	old := testPV()
	old.Default()
	v := old.DeepCopy()
	v.Spec.ClaimRef = &ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: "data"}
	v.Spec.Capacity[ResourceStorage] = MustParseQuantity("20Gi")
	assert.Empty(t, v.ValidateUpdate(old), "binding and resizing are allowed")

	v.Spec.HostPath.Path = "/elsewhere"
	assertFieldErrors(t, []string{"spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"}, v.ValidateUpdate(old))
}
