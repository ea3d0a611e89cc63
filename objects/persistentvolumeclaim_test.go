package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Defaulting keeps dataSource and dataSourceRef in step as the API server
// does: the one set fills the other, except a dataSourceRef with a
// namespace, and a dataSource of a kind Kubernetes would drop.
func TestPersistentVolumeClaimDataSourceDefault(t *testing.T) {
	snapGroup := "snapshot.storage.k8s.io"
	cases := []struct {
		name    string
		ds      *TypedLocalObjectReference
		ref     *TypedObjectReference
		wantDS  *TypedLocalObjectReference
		wantRef *TypedObjectReference
	}{
		{name: "neither"},
		{
			name:    "dataSource claim",
			ds:      &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"},
			wantDS:  &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"},
			wantRef: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src"},
		},
		{
			name:    "dataSource snapshot",
			ds:      &TypedLocalObjectReference{APIGroup: &snapGroup, Kind: "VolumeSnapshot", Name: "snap"},
			wantDS:  &TypedLocalObjectReference{APIGroup: &snapGroup, Kind: "VolumeSnapshot", Name: "snap"},
			wantRef: &TypedObjectReference{APIGroup: &snapGroup, Kind: "VolumeSnapshot", Name: "snap"},
		},
		{
			name:   "dataSource of another kind is not copied",
			ds:     &TypedLocalObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"},
			wantDS: &TypedLocalObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"},
		},
		{
			name:    "dataSourceRef populator",
			ref:     &TypedObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"},
			wantDS:  &TypedLocalObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"},
			wantRef: &TypedObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"},
		},
		{
			name:    "dataSourceRef with an empty namespace",
			ref:     &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptrOf("")},
			wantDS:  &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"},
			wantRef: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptrOf("")},
		},
		{
			name:    "dataSourceRef with a namespace is not copied back",
			ref:     &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptrOf("other")},
			wantRef: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptrOf("other")},
		},
		{
			name:    "both set are left alone",
			ds:      &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "a"},
			ref:     &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "b"},
			wantDS:  &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "a"},
			wantRef: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "b"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testPVC()
			c.Spec.DataSource, c.Spec.DataSourceRef = tc.ds, tc.ref
			c.Default()
			assert.Equal(t, tc.wantDS, c.Spec.DataSource)
			assert.Equal(t, tc.wantRef, c.Spec.DataSourceRef)
			if tc.ds != nil && tc.wantRef != nil && tc.ds.APIGroup != nil {
				assert.NotSame(t, c.Spec.DataSource.APIGroup, c.Spec.DataSourceRef.APIGroup, "the copy shares no pointer")
			}
		})
	}

	// Claim templates are not normalized (the claim made from one is).
	s := PersistentVolumeClaimSpec{DataSource: &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}}
	DefaultPersistentVolumeClaimSpec(&s)
	assert.Nil(t, s.DataSourceRef)
}

func TestValidatePersistentVolumeClaimDataSource(t *testing.T) {
	claimDS := func(name string) *TypedLocalObjectReference {
		return &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: name}
	}
	cases := []struct {
		name string
		ds   *TypedLocalObjectReference
		ref  *TypedObjectReference
		want []string
	}{
		{name: "clone", ds: claimDS("src")},
		{name: "clone by dataSourceRef", ref: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}},
		{name: "snapshot", ds: &TypedLocalObjectReference{APIGroup: ptrOf("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "snap"}},
		{name: "populator", ref: &TypedObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"}},
		{name: "explicit empty apiGroup", ds: &TypedLocalObjectReference{APIGroup: ptrOf(""), Kind: "PersistentVolumeClaim", Name: "src"}},
		{name: "kind and name required", ds: &TypedLocalObjectReference{}, want: []string{
			"spec.dataSource.name: Required value",
			"spec.dataSource.kind: Required value",
			`spec.dataSource: Invalid value: "": must be 'PersistentVolumeClaim' when referencing the default apiGroup`,
		}},
		{name: "core group is for claims only", ref: &TypedObjectReference{Kind: "Secret", Name: "s"}, want: []string{
			`spec.dataSource: Invalid value: "Secret": must be 'PersistentVolumeClaim' when referencing the default apiGroup`,
			`spec.dataSourceRef: Invalid value: "Secret": must be 'PersistentVolumeClaim' when referencing the default apiGroup`,
		}},
		{name: "bad apiGroup", ref: &TypedObjectReference{APIGroup: ptrOf("Example_com"), Kind: "Dataset", Name: "d"}, want: []string{
			`spec.dataSource.apiGroup: Invalid value: "Example_com": a lowercase RFC 1123 subdomain*`,
			`spec.dataSourceRef.apiGroup: Invalid value: "Example_com": a lowercase RFC 1123 subdomain*`,
		}},
		{name: "mismatch", ds: claimDS("a"), ref: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "b"}, want: []string{
			`spec: Invalid value: "spec.dataSource": must match dataSourceRef`,
		}},
		{name: "apiGroup nil and empty differ", ds: claimDS("a"), ref: &TypedObjectReference{APIGroup: ptrOf(""), Kind: "PersistentVolumeClaim", Name: "a"}, want: []string{
			`spec: Invalid value: "spec.dataSource": must match dataSourceRef`,
		}},
		{name: "dataSource of another kind alone", ds: &TypedLocalObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"}, want: []string{
			`spec.dataSource.kind: Invalid value: "Dataset": dataSource takes only a PersistentVolumeClaim or a snapshot.storage.k8s.io VolumeSnapshot*`,
		}},
		{name: "dataSource of another kind, matching dataSourceRef", ds: &TypedLocalObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"},
			ref: &TypedObjectReference{APIGroup: ptrOf("example.com"), Kind: "Dataset", Name: "d"}},
		{name: "cross-namespace", ref: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptrOf("other")}, want: []string{
			"spec.dataSourceRef.namespace: Forbidden: cross-namespace data sources*",
		}},
		{name: "cross-namespace with dataSource", ds: claimDS("src"), ref: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptrOf("other")}, want: []string{
			"spec.dataSourceRef.namespace: Forbidden: cross-namespace data sources*",
			`spec: Invalid value: "spec.dataSource": may not be specified when dataSourceRef.namespace is specified`,
		}},
		{name: "bad namespace", ref: &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src", Namespace: ptrOf("Other")}, want: []string{
			`spec.dataSourceRef.namespace: Invalid value: "Other": a lowercase RFC 1123 label*`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testPVC()
			c.Spec.DataSource, c.Spec.DataSourceRef = tc.ds, tc.ref
			c.Default()
			assertFieldErrors(t, tc.want, c.Validate())
		})
	}
}

func TestPersistentVolumeClaimDataSourceDecode(t *testing.T) {
	objs, err := NewScheme().DecodeBytes([]byte(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: clone, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  dataSource: {kind: PersistentVolumeClaim, name: src}
`))
	require.NoError(t, err)
	c := objs[0].(*PersistentVolumeClaim)
	require.NoError(t, validateThroughScheme(c))
	assert.Equal(t, &TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}, c.Spec.DataSourceRef)
	jsonRoundTrip(t, c)

	// Still refused: volumeAttributesClassName, which podkit cannot honour
	// (a directory has no attributes to modify).
	_, err = NewScheme().DecodeBytes([]byte(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeAttributesClassName: gold
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "spec.volumeAttributesClassName"`)
}

func TestPersistentVolumeClaimDataSourceImmutable(t *testing.T) {
	old := testPVC()
	old.Spec.DataSource = &TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}
	old.Default()
	c := old.DeepCopy()
	c.Spec.DataSourceRef = nil
	c.Default() // an update that omits dataSourceRef gets it back
	assert.Empty(t, c.ValidateUpdate(old))
	c.Spec.DataSource.Name, c.Spec.DataSourceRef.Name = "other", "other"
	assertFieldErrors(t, []string{"spec: Forbidden: spec is immutable after creation except resources.requests for bound claims"}, c.ValidateUpdate(old))
}
