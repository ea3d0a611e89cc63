package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envFilePod is Kubernetes' EnvFiles example: an init container writes
// the file into an emptyDir, the container reads a key of it.
const envFilePod = `
apiVersion: v1
kind: Pod
metadata: {name: envfile, namespace: default}
spec:
  initContainers:
  - name: setup
    image: busybox
    command: [sh, -c, "echo DB_ADDRESS=\\'db:5432\\' > /config/config.env"]
    volumeMounts: [{name: config, mountPath: /config}]
  containers:
  - name: app
    image: busybox
    env:
    - name: DB_ADDRESS
      valueFrom:
        fileKeyRef: {volumeName: config, path: config.env, key: DB_ADDRESS, optional: false}
  volumes:
  - {name: config, emptyDir: {}}
`

func TestFileKeyRefDecodes(t *testing.T) {
	objs, err := DecodeYAML(strings.NewReader(envFilePod))
	require.NoError(t, err)
	p := objs[0].(*Pod)
	ref := p.Spec.Containers[0].Env[0].ValueFrom.FileKeyRef
	require.NotNil(t, ref)
	assert.Equal(t, FileKeySelector{VolumeName: "config", Path: "config.env", Key: "DB_ADDRESS", Optional: ptrOf(false)}, *ref)
	p.Default()
	assert.Empty(t, p.Validate())

	c := p.DeepCopy()
	*c.Spec.Containers[0].Env[0].ValueFrom.FileKeyRef.Optional = true
	assert.False(t, *ref.Optional, "DeepCopy shares the selector")
}

func TestValidateFileKeyRef(t *testing.T) {
	ref := func(vol, path, key string) *EnvVarSource {
		return &EnvVarSource{FileKeyRef: &FileKeySelector{VolumeName: vol, Path: path, Key: key}}
	}
	env := func(p *Pod, vf *EnvVarSource) { p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: vf}} }
	cases := []podCase{
		{"valid", func(p *Pod) { env(p, ref("data", "sub/config.env", "X")) }, nil},
		{"relaxed key", func(p *Pod) { env(p, ref("data", "config.env", "1 odd-key.x")) }, nil},
		// Kubernetes refuses only backsteps and reads an absolute path
		// within the volume.
		{"absolute path", func(p *Pod) { env(p, ref("data", "/config.env", "X")) }, nil},
		{"required fields", func(p *Pod) { env(p, ref("", "", "")) }, []string{
			"spec.containers[0].env[0].valueFrom.fileKeyRef.key: Required value",
			"spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Required value",
			"spec.containers[0].env[0].valueFrom.fileKeyRef.path: Required value",
			`spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: ""`,
		}},
		{"bad values", func(p *Pod) { env(p, ref("Data", "a/../../etc/passwd", "K=V")) }, []string{
			`spec.containers[0].env[0].valueFrom.fileKeyRef.key: Invalid value: "K=V": a valid environment variable name must consist only of printable ASCII characters other than '='`,
			`spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Invalid value: "Data": a lowercase RFC 1123 label*`,
			`spec.containers[0].env[0].valueFrom.fileKeyRef.path: Invalid value: "a/../../etc/passwd": must not contain '..'`,
			`spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "Data"`,
		}},
		{"non-ASCII key", func(p *Pod) { env(p, ref("data", "config.env", "clé")) }, []string{
			`spec.containers[0].env[0].valueFrom.fileKeyRef.key: Invalid value: "clé": a valid environment variable name must consist only of printable ASCII characters other than '='`,
		}},
		{"with another source", func(p *Pod) {
			vf := ref("data", "config.env", "X")
			vf.FieldRef = &ObjectFieldSelector{FieldPath: "metadata.name"}
			env(p, vf)
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time"}},
		{"with a value", func(p *Pod) {
			env(p, ref("data", "config.env", "X"))
			p.Spec.Containers[0].Env[0].Value = "v"
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"}},
		{"no source", func(p *Pod) { env(p, &EnvVarSource{}) }, []string{
			"spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`",
		}},
		// The volume is checked last, for every kind of container, as
		// Kubernetes checks it.
		{"volume not emptyDir or missing", func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, Volume{Name: "host", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: "/tmp"}}})
			env(p, ref("nope", "config.env", "X"))
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox",
				Env: []EnvVar{{Name: "Y", ValueFrom: ref("host", "config.env", "Y")}}}}
			ec := debugContainer("debug")
			ec.Env = []EnvVar{{Name: "Z", ValueFrom: ref("host", "config.env", "Z")}}
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, []string{
			`spec.initContainers[0].env[0].valueFrom.fileKeyRef.volumeName: Invalid value: "host": referenced volume must be of type emptyDir`,
			`spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "nope"`,
			`spec.ephemeralContainers[0].env[0].valueFrom.fileKeyRef.volumeName: Invalid value: "host": referenced volume must be of type emptyDir`,
		}},
	}
	runPodCases(t, cases)
}

// A template's pod spec is checked the same way.
func TestValidateFileKeyRefInTemplate(t *testing.T) {
	p := testPod()
	p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{FileKeyRef: &FileKeySelector{VolumeName: "cfg", Path: "a.env", Key: "X"}}}}
	p.Default()
	tmpl := &PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}
	assertFieldErrors(t, []string{`spec.template.spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "cfg"`},
		ValidatePodTemplateSpec(tmpl, NewPath("spec", "template")))
}
