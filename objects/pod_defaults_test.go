package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPodDefault(t *testing.T) {
	p := testPod()
	p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox"}}
	c := &p.Spec.Containers[0]
	c.LivenessProbe = &Probe{ProbeHandler: ProbeHandler{HTTPGet: &HTTPGetAction{Port: FromString("http")}}}
	c.Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: FromInt32(80)}}}
	c.Resources.Limits = ResourceList{ResourceCPU: MustParseQuantity("1"), ResourceMemory: MustParseQuantity("128Mi")}
	c.Resources.Requests = ResourceList{ResourceCPU: MustParseQuantity("500m")}
	c.Env = []EnvVar{{Name: "POD", ValueFrom: &EnvVarSource{FieldRef: &ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	p.Spec.Volumes = append(p.Spec.Volumes,
		Volume{Name: "cfg", VolumeSource: VolumeSource{ConfigMap: &ConfigMapVolumeSource{LocalObjectReference: LocalObjectReference{Name: "cfg"}}}},
		Volume{Name: "sec", VolumeSource: VolumeSource{Secret: &SecretVolumeSource{SecretName: "s", DefaultMode: ptrOf[int32](0o400)}}},
		Volume{Name: "model", VolumeSource: VolumeSource{Image: &ImageVolumeSource{Reference: "models:1"}}},
		Volume{Name: "latest", VolumeSource: VolumeSource{Image: &ImageVolumeSource{Reference: "models"}}},
	)
	// Defaulting a pod whose spec a stored template shares writes only the
	// template's defaults, which the template had already (see Default).
	shared := p.Spec.Containers
	sharedRequests := c.Resources.Requests
	p.Default()
	c = &p.Spec.Containers[0]
	assert.Len(t, sharedRequests, 1, "requests defaulted in a copy")
	assert.Empty(t, shared[0].Resources.Requests[ResourceMemory])

	s := &p.Spec
	assert.Equal(t, RestartPolicyAlways, s.RestartPolicy)
	assert.Equal(t, DNSClusterFirst, s.DNSPolicy)
	assert.Equal(t, int64(30), *s.TerminationGracePeriodSeconds)
	assert.Equal(t, "default-scheduler", s.SchedulerName)
	assert.NotNil(t, s.SecurityContext)
	assert.True(t, *s.EnableServiceLinks)

	assert.Equal(t, PullIfNotPresent, c.ImagePullPolicy)
	assert.Equal(t, PullAlways, s.InitContainers[0].ImagePullPolicy)
	assert.Equal(t, "/dev/termination-log", c.TerminationMessagePath)
	assert.Equal(t, TerminationMessageReadFile, c.TerminationMessagePolicy)
	assert.Equal(t, ProtocolTCP, c.Ports[0].Protocol)
	assert.Equal(t, "v1", c.Env[0].ValueFrom.FieldRef.APIVersion)

	lp := c.LivenessProbe
	assert.Equal(t, []int32{1, 10, 1, 3}, []int32{lp.TimeoutSeconds, lp.PeriodSeconds, lp.SuccessThreshold, lp.FailureThreshold})
	assert.Equal(t, "/", lp.HTTPGet.Path)
	assert.Equal(t, URISchemeHTTP, lp.HTTPGet.Scheme)
	assert.Equal(t, "/", c.Lifecycle.PreStop.HTTPGet.Path)

	assert.NotNil(t, s.Volumes[0].EmptyDir, "a volume without source becomes an emptyDir")
	assert.Equal(t, int32(0o644), *s.Volumes[1].ConfigMap.DefaultMode)
	assert.Equal(t, int32(0o400), *s.Volumes[2].Secret.DefaultMode, "an explicit mode is kept")
	assert.Equal(t, PullIfNotPresent, s.Volumes[3].Image.PullPolicy, "an image volume's pull policy as a container's")
	assert.Equal(t, PullAlways, s.Volumes[4].Image.PullPolicy)

	// Requests default from limits, but an explicit request is kept.
	assert.Equal(t, "500m", ptrOf(c.Resources.Requests[ResourceCPU]).String())
	assert.Equal(t, "128Mi", ptrOf(c.Resources.Requests[ResourceMemory]).String())

	// DefaultPodSpec (templates) does not copy limits into requests.
	tmpl := PodSpec{Containers: []Container{{Name: "a", Image: "x", Resources: ResourceRequirements{Limits: ResourceList{ResourceCPU: MustParseQuantity("1")}}}}}
	DefaultPodSpec(&tmpl)
	assert.Empty(t, tmpl.Containers[0].Resources.Requests)
	assert.Nil(t, tmpl.EnableServiceLinks)

	// Defaulting twice changes nothing.
	again := p.DeepCopy()
	again.Default()
	assert.Equal(t, p, again)
}

func TestPodDefaultHostNetworkPorts(t *testing.T) {
	p := testPod()
	p.Spec.HostNetwork = true
	p.Default()
	assert.Equal(t, int32(80), p.Spec.Containers[0].Ports[0].HostPort)
	assert.Empty(t, p.Validate())
}

func TestImagePullPolicyFromTag(t *testing.T) {
	for image, want := range map[string]PullPolicy{
		"nginx":                        PullAlways,
		"nginx:latest":                 PullAlways,
		"nginx:1.25":                   PullIfNotPresent,
		"localhost:5000/app":           PullAlways,
		"localhost:5000/app:v2":        PullIfNotPresent,
		"nginx@sha256:0123456789abcde": PullIfNotPresent,
		"nginx:latest@sha256:01234567": PullAlways,
	} {
		c := Container{Name: "a", Image: image}
		defaultContainer(&c, false)
		assert.Equal(t, want, c.ImagePullPolicy, image)
	}
}
