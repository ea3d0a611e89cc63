package objects

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// debugContainer is a valid ephemeral container targeting testPod's app.
func debugContainer(name string) EphemeralContainer {
	return EphemeralContainer{
		EphemeralContainerCommon: EphemeralContainerCommon{Name: name, Image: "busybox:1.36", Command: []string{"sh"}, Stdin: true, TTY: true},
		TargetContainerName:      "app",
	}
}

func TestValidateEphemeralContainers(t *testing.T) {
	probe := &Probe{ProbeHandler: ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}}
	always := ContainerRestartPolicyAlways
	runPodCases(t, []podCase{
		{"valid", func(p *Pod) { p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("debug")} }, nil},
		{"without target", func(p *Pod) {
			ec := debugContainer("debug")
			ec.TargetContainerName = ""
			ec.VolumeMounts = []VolumeMount{{Name: "data", MountPath: "/data"}}
			ec.SecurityContext = &SecurityContext{Capabilities: &Capabilities{Add: []Capability{"SYS_PTRACE"}}}
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, nil},
		{"target an init container", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "setup", Image: "busybox"}}
			ec := debugContainer("debug")
			ec.TargetContainerName = "setup"
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, nil},
		{"unknown target", func(p *Pod) {
			ec := debugContainer("debug")
			ec.TargetContainerName = "x"
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, []string{`spec.ephemeralContainers[0].targetContainerName: Not found: "x"`}},
		{"target another ephemeral container", func(p *Pod) {
			second := debugContainer("debug-2")
			second.TargetContainerName = "debug"
			p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("debug"), second}
		}, []string{`spec.ephemeralContainers[1].targetContainerName: Not found: "debug"`}},
		{"name of a container", func(p *Pod) { p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("app")} },
			[]string{`spec.ephemeralContainers[0].name: Duplicate value: "app"`}},
		{"name of an init container", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "setup", Image: "busybox"}}
			p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("setup")}
		}, []string{`spec.ephemeralContainers[0].name: Duplicate value: "setup"`}},
		{"twice the same name", func(p *Pod) {
			p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("debug"), debugContainer("debug")}
		}, []string{`spec.ephemeralContainers[1].name: Duplicate value: "debug"`}},
		{"no image", func(p *Pod) {
			ec := debugContainer("debug")
			ec.Image = ""
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, []string{"spec.ephemeralContainers[0].image: Required value"}},
		{"unknown volume", func(p *Pod) {
			ec := debugContainer("debug")
			ec.VolumeMounts = []VolumeMount{{Name: "nope", MountPath: "/x"}}
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, []string{`spec.ephemeralContainers[0].volumeMounts[0].name: Not found: "nope"`}},
		{"every forbidden field", func(p *Pod) {
			ec := debugContainer("debug")
			ec.Ports = []ContainerPort{{ContainerPort: 80}}
			ec.Resources = ResourceRequirements{Limits: ResourceList{ResourceCPU: MustParseQuantity("1")}}
			ec.LivenessProbe, ec.ReadinessProbe, ec.StartupProbe = probe, probe, probe
			ec.Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Exec: &ExecAction{Command: []string{"true"}}}}
			ec.ResizePolicy = []ContainerResizePolicy{{ResourceName: ResourceCPU, RestartPolicy: NotRequired}}
			ec.RestartPolicy = &always
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, []string{
			"spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].livenessProbe: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].startupProbe: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].lifecycle: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].resizePolicy: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].restartPolicy: Forbidden: cannot be set for an Ephemeral Container",
		}},
		{"subPath", func(p *Pod) {
			ec := debugContainer("debug")
			ec.VolumeMounts = []VolumeMount{{Name: "data", MountPath: "/a", SubPath: "x"}, {Name: "data", MountPath: "/b", SubPathExpr: "$(POD)"}}
			p.Spec.EphemeralContainers = []EphemeralContainer{ec}
		}, []string{
			"spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container",
			"spec.ephemeralContainers[0].volumeMounts[1].subPathExpr: Forbidden: cannot be set for an Ephemeral Container",
		}},
	})
}

func TestEphemeralContainersDefaults(t *testing.T) {
	p := testPod()
	p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("debug")}
	p.Spec.EphemeralContainers[0].Image = "busybox"
	p.Default()
	ec := p.Spec.EphemeralContainers[0]
	assert.Equal(t, PullAlways, ec.ImagePullPolicy)
	assert.Equal(t, TerminationMessageReadFile, ec.TerminationMessagePolicy)
	assert.Equal(t, DefaultTerminationMessagePath, ec.TerminationMessagePath)
}

func TestEphemeralContainersDecode(t *testing.T) {
	objs, err := DecodeYAML(strings.NewReader(`apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: app, image: nginx}]
  ephemeralContainers:
  - name: debugger-abcde
    image: busybox
    command: [sh]
    stdin: true
    tty: true
    targetContainerName: app
status:
  ephemeralContainerStatuses:
  - name: debugger-abcde
    ready: false
    restartCount: 0
    image: busybox
    imageID: ""
    state: {running: {}}
`))
	require.NoError(t, err)
	p := objs[0].(*Pod)
	require.Len(t, p.Spec.EphemeralContainers, 1)
	ec := p.Spec.EphemeralContainers[0]
	assert.Equal(t, "debugger-abcde", ec.Name)
	assert.Equal(t, []string{"sh"}, ec.Command)
	assert.True(t, ec.Stdin && ec.TTY)
	assert.Equal(t, "app", ec.TargetContainerName)
	require.Len(t, p.Status.EphemeralContainerStatuses, 1)
	assert.NotNil(t, p.Status.EphemeralContainerStatuses[0].State.Running)

	// The fields are inline, as Kubernetes writes them.
	b, err := json.Marshal(ec)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"debugger-abcde","image":"busybox","command":["sh"],"resources":{},"stdin":true,"tty":true,"targetContainerName":"app"}`, string(b))
}

func TestPodCreateWithEphemeralContainers(t *testing.T) {
	s := NewScheme()
	p := testPod()
	p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("debug")}
	s.Default(p)
	err := s.Validate(p)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrInvalid))
	assert.Equal(t, `Pod "web" is invalid: spec.ephemeralContainers: Forbidden: cannot be set on create`, err.Error())

	tmpl := &PodTemplateSpec{Spec: p.Spec}
	assertFieldErrors(t, []string{
		"spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template",
	}, ValidatePodTemplateSpec(tmpl, NewPath("spec", "template")))
}

func TestPodUpdateMayNotChangeEphemeralContainers(t *testing.T) {
	old := testPod()
	old.Default()
	p := old.DeepCopy()
	p.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("debug")}
	p.Default()
	assertFieldErrors(t, []string{"spec: Forbidden: pod updates may not change fields other than*"}, p.ValidateUpdate(old))

	// A pod that has some may be updated otherwise (its image here).
	old = p.DeepCopy()
	p.Spec.Containers[0].Image = "nginx:1.26"
	assertFieldErrors(t, nil, append(p.Validate(), p.ValidateUpdate(old)...))
	p.Spec.EphemeralContainers = nil
	assertFieldErrors(t, []string{"spec: Forbidden: pod updates may not change fields other than*"}, p.ValidateUpdate(old))
}

func TestValidateEphemeralContainersUpdate(t *testing.T) {
	stored := testPod()
	stored.Default()
	stored.Spec.EphemeralContainers = []EphemeralContainer{debugContainer("a")}
	stored.Default()

	req := func(ecs ...EphemeralContainer) *Pod {
		p := testPod()
		p.Spec.Containers[0].Image = "ignored" // only ephemeral containers are taken
		p.Spec.EphemeralContainers = ecs
		return p
	}
	changed := debugContainer("a")
	changed.Image = "alpine"
	bad := debugContainer("c")
	bad.Ports = []ContainerPort{{ContainerPort: 80}}
	for _, tc := range []struct {
		name string
		req  *Pod
		want []string
	}{
		{"add", req(debugContainer("a"), debugContainer("b")), nil},
		{"no change", req(debugContainer("a")), nil},
		{"reordered", req(debugContainer("b"), debugContainer("a")), nil},
		{"remove", req(debugContainer("b")), []string{`spec.ephemeralContainers: Forbidden: existing ephemeral containers "a" may not be removed`}},
		{"change", req(changed), []string{`spec.ephemeralContainers: Forbidden: existing ephemeral containers "a" may not be changed`}},
		{"invalid new one", req(debugContainer("a"), bad), []string{
			"spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := EphemeralContainersRequest(stored, tc.req)
			assert.Equal(t, "nginx:1.25", next.Spec.Containers[0].Image)
			for _, ec := range next.Spec.EphemeralContainers {
				assert.NotEmpty(t, ec.ImagePullPolicy, "defaulted")
			}
			assertFieldErrors(t, tc.want, ValidateEphemeralContainersUpdate(next, stored))
		})
	}
	assert.Len(t, stored.Spec.EphemeralContainers, 1, "stored pod unchanged")
}
