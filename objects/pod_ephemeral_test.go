package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ephemeralTestPod(t *PersistentVolumeClaimTemplate) *Pod {
	p := testPod()
	p.UID = "uid-1"
	p.Spec.Volumes[0].Ephemeral = &EphemeralVolumeSource{VolumeClaimTemplate: t}
	return p
}

func TestEphemeralVolumeValidation(t *testing.T) {
	good := &PersistentVolumeClaimTemplate{
		ObjectMeta: ObjectMeta{Labels: map[string]string{"type": "scratch"}},
		Spec: PersistentVolumeClaimSpec{AccessModes: []PersistentVolumeAccessMode{ReadWriteOnce},
			Resources: VolumeResourceRequirements{Requests: ResourceList{ResourceStorage: MustParseQuantity("1Gi")}}},
	}
	p := ephemeralTestPod(good)
	p.Default()
	assertFieldErrors(t, nil, p.Validate())
	require.NotNil(t, p.Spec.Volumes[0].Ephemeral.VolumeClaimTemplate.Spec.VolumeMode, "the template's spec is defaulted")
	assert.Equal(t, PersistentVolumeFilesystem, *p.Spec.Volumes[0].Ephemeral.VolumeClaimTemplate.Spec.VolumeMode)
	assert.Nil(t, p.Spec.Volumes[0].EmptyDir, "an ephemeral volume is a source: no emptyDir is defaulted")

	p = ephemeralTestPod(nil)
	p.Default()
	assertFieldErrors(t, []string{
		"spec.volumes[0].ephemeral.volumeClaimTemplate: Required value",
		`spec.containers[0].volumeMounts[0].name: Not found: "data"`,
	}, p.Validate())

	bad := good.DeepCopy()
	bad.Labels = map[string]string{"-x": "y"}
	bad.Spec.Resources.Requests = nil
	p = ephemeralTestPod(bad)
	p.Default()
	assertFieldErrors(t, []string{
		`spec.volumes[0].ephemeral.volumeClaimTemplate.metadata.labels: Invalid value: "-x": name part must consist of*`,
		"spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[requests]: Required value: storage request is required",
		`spec.containers[0].volumeMounts[0].name: Not found: "data"`,
	}, p.Validate())

	p = ephemeralTestPod(good)
	p.Spec.Volumes[0].EmptyDir = &EmptyDirVolumeSource{}
	p.Default()
	assertFieldErrors(t, []string{
		"spec.volumes[0].ephemeral: Forbidden: may not specify more than 1 volume type",
		`spec.containers[0].volumeMounts[0].name: Not found: "data"`,
	}, p.Validate())
}

func TestEphemeralClaim(t *testing.T) {
	tmpl := &PersistentVolumeClaimTemplate{
		ObjectMeta: ObjectMeta{Labels: map[string]string{"type": "scratch"}, Annotations: map[string]string{"a": "b"}},
		Spec:       PersistentVolumeClaimSpec{AccessModes: []PersistentVolumeAccessMode{ReadWriteOnce}},
	}
	p := ephemeralTestPod(tmpl)
	v := &p.Spec.Volumes[0]
	assert.Equal(t, "web-data", VolumeClaimName(p, v))
	c := NewEphemeralClaim(p, v)
	assert.Equal(t, Key{Namespace: "default", Name: "web-data"}, c.Key())
	assert.Equal(t, tmpl.Labels, c.Labels)
	assert.Equal(t, tmpl.Annotations, c.Annotations)
	assert.True(t, IsEphemeralClaimOf(c, p))
	c.Labels["type"] = "changed"
	assert.Equal(t, "scratch", tmpl.Labels["type"], "the claim does not share the template's maps")

	other := p.DeepCopy()
	other.UID = "uid-2"
	assert.False(t, IsEphemeralClaimOf(c, other), "a pod of the same name made again does not own its predecessor's claim")
	assert.Equal(t, "", VolumeClaimName(p, &Volume{Name: "e", VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{}}}))
}
