package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func testPVC() *PersistentVolumeClaim {
	return &PersistentVolumeClaim{
		ObjectMeta: ObjectMeta{Name: "data", Namespace: "default"},
		Spec: PersistentVolumeClaimSpec{
			AccessModes: []PersistentVolumeAccessMode{ReadWriteOnce},
			Resources:   VolumeResourceRequirements{Requests: ResourceList{ResourceStorage: MustParseQuantity("1Gi")}},
		},
	}
}

func TestPersistentVolumeClaimDefault(t *testing.T) {
	c := testPVC()
	c.Default()
	assert.Equal(t, PersistentVolumeFilesystem, *c.Spec.VolumeMode)
	assert.Equal(t, ClaimPending, c.Status.Phase)
}

func TestValidatePersistentVolumeClaim(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *PersistentVolumeClaim)
		want   []string
	}{
		{"valid", func(*PersistentVolumeClaim) {}, nil},
		{"access modes", func(c *PersistentVolumeClaim) { c.Spec.AccessModes = nil }, []string{
			"spec.accessModes: Required value: at least 1 access mode is required",
		}},
		{"ReadWriteOncePod alone", func(c *PersistentVolumeClaim) {
			c.Spec.AccessModes = []PersistentVolumeAccessMode{ReadWriteOncePod, ReadOnlyMany}
		}, []string{"spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"}},
		{"storage request", func(c *PersistentVolumeClaim) { c.Spec.Resources.Requests = nil }, []string{
			"spec.resources[requests]: Required value: storage request is required",
		}},
		{"zero storage", func(c *PersistentVolumeClaim) { c.Spec.Resources.Requests[ResourceStorage] = MustParseQuantity("0") }, []string{
			`spec.resources.requests[storage]: Invalid value: "0": must be greater than zero`,
		}},
		{"request above limit", func(c *PersistentVolumeClaim) {
			c.Spec.Resources.Limits = ResourceList{ResourceStorage: MustParseQuantity("512Mi")}
		}, []string{`spec.resources.requests: Invalid value: "1Gi": must be less than or equal to storage limit of 512Mi`}},
		{"selector and class", func(c *PersistentVolumeClaim) {
			c.Spec.Selector = &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: LabelSelectorOpIn}}}
			c.Spec.StorageClassName = ptrOf("Fast_SSD")
		}, []string{
			"spec.selector.matchExpressions[0].values: Required value*",
			`spec.storageClassName: Invalid value: "Fast_SSD": a lowercase RFC 1123 subdomain*`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testPVC()
			tc.mutate(c)
			c.Default()
			assertFieldErrors(t, tc.want, c.Validate())
		})
	}
}

func TestPersistentVolumeClaimValidateUpdate(t *testing.T) {
	old := testPVC()
	old.Default()

	c := old.DeepCopy()
	c.Spec.VolumeName = "pv1"
	assert.Empty(t, c.ValidateUpdate(old), "volumeName is set once by binding")

	c = old.DeepCopy()
	c.Spec.Resources.Requests[ResourceStorage] = MustParseQuantity("2Gi")
	assertFieldErrors(t, []string{"spec: Forbidden: spec is immutable after creation except resources.requests for bound claims"}, c.ValidateUpdate(old))

	bound := old.DeepCopy()
	bound.Spec.VolumeName = "pv1"
	bound.Status.Phase = ClaimBound
	c = bound.DeepCopy()
	c.Spec.Resources.Requests[ResourceStorage] = MustParseQuantity("2Gi")
	assert.Empty(t, c.ValidateUpdate(bound), "a bound claim may grow")

	c.Spec.Resources.Requests[ResourceStorage] = MustParseQuantity("512Mi")
	assertFieldErrors(t, []string{"spec.resources.requests.storage: Forbidden: field can not be less than previous value"}, c.ValidateUpdate(bound))

	c = bound.DeepCopy()
	c.Spec.AccessModes = []PersistentVolumeAccessMode{ReadWriteMany}
	assertFieldErrors(t, []string{"spec: Forbidden: spec is immutable after creation except resources.requests for bound claims"}, c.ValidateUpdate(bound))

	c = bound.DeepCopy()
	c.Spec.VolumeName = "pv2"
	assertFieldErrors(t, []string{"spec: Forbidden: spec is immutable after creation except resources.requests for bound claims"}, c.ValidateUpdate(bound))
}

func TestValidatePersistentVolumeClaimSpecPath(t *testing.T) {
	s := PersistentVolumeClaimSpec{}
	DefaultPersistentVolumeClaimSpec(&s)
	assertFieldErrors(t, []string{
		"spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required",
		"spec.volumeClaimTemplates[0].spec.resources[requests]: Required value: storage request is required",
	}, ValidatePersistentVolumeClaimSpec(&s, NewPath("spec", "volumeClaimTemplates").Index(0).Child("spec")))
}
