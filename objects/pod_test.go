package objects

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptrOf[T any](v T) *T { return &v }

// testPod is a small valid pod; cases change one thing each.
func testPod() *Pod {
	return &Pod{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: PodSpec{
			Volumes: []Volume{{Name: "data"}},
			Containers: []Container{{
				Name:         "app",
				Image:        "nginx:1.25",
				Ports:        []ContainerPort{{Name: "http", ContainerPort: 80}},
				VolumeMounts: []VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
		},
	}
}

// assertFieldErrors checks the rendered errors against want; an entry ending in
// "*" is a prefix, anything else must match exactly.
func assertFieldErrors(t *testing.T, want []string, errs ErrorList) {
	t.Helper()
	got := make([]string, len(errs))
	for i, e := range errs {
		got[i] = e.Error()
	}
	if !assert.Len(t, got, len(want), "errors: %q", got) {
		return
	}
	for i, w := range want {
		if p, ok := strings.CutSuffix(w, "*"); ok {
			assert.True(t, strings.HasPrefix(got[i], p), "error %d:\n got %q\nwant prefix %q", i, got[i], p)
		} else {
			assert.Equal(t, w, got[i], "error %d", i)
		}
	}
}

func TestValidatePod(t *testing.T) {
	cases := []podCase{
		{"valid", func(*Pod) {}, nil},
		{"no containers", func(p *Pod) { p.Spec.Containers = nil }, []string{
			"spec.containers: Required value",
		}},
		{"no image", func(p *Pod) { p.Spec.Containers[0].Image = "" }, []string{
			"spec.containers[0].image: Required value",
		}},
		{"image whitespace", func(p *Pod) { p.Spec.Containers[0].Image = " nginx" }, []string{
			`spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace`,
		}},
		{"container name", func(p *Pod) { p.Spec.Containers[0].Name = "App" }, []string{
			`spec.containers[0].name: Invalid value: "App": a lowercase RFC 1123 label must consist of*`,
		}},
		{"container name required", func(p *Pod) { p.Spec.Containers[0].Name = "" }, []string{
			"spec.containers[0].name: Required value",
		}},
		{"duplicate container name across init containers", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "app", Image: "busybox"}}
		}, []string{`spec.initContainers[0].name: Duplicate value: "app"`}},
		{"container port required", func(p *Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, []string{
			"spec.containers[0].ports[0].containerPort: Required value",
		}},
		{"container port range", func(p *Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, []string{
			"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
		}},
		{"host port range", func(p *Pod) { p.Spec.Containers[0].Ports[0].HostPort = -1 }, []string{
			"spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
		}},
		{"protocol", func(p *Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }, []string{
			`spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`,
		}},
		{"port name hyphens", func(p *Pod) { p.Spec.Containers[0].Ports[0].Name = "web--http" }, []string{
			`spec.containers[0].ports[0].name: Invalid value: "web--http": must not contain consecutive hyphens`,
		}},
		{"port name length and letters", func(p *Pod) { p.Spec.Containers[0].Ports[0].Name = "1234567890123456" }, []string{
			`spec.containers[0].ports[0].name: Invalid value: "1234567890123456": must be no more than 15 characters`,
			`spec.containers[0].ports[0].name: Invalid value: "1234567890123456": must contain at least one letter (a-z)`,
		}},
		{"port name edge hyphen", func(p *Pod) { p.Spec.Containers[0].Ports[0].Name = "-http" }, []string{
			`spec.containers[0].ports[0].name: Invalid value: "-http": must not begin or end with a hyphen`,
		}},
		{"duplicate port name", func(p *Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, ContainerPort{Name: "http", ContainerPort: 81, Protocol: ProtocolTCP})
		}, []string{`spec.containers[0].ports[1].name: Duplicate value: "http"`}},
		{"duplicate host port", func(p *Pod) {
			p.Spec.Containers[0].Ports[0].HostPort = 8080
			p.Spec.Containers = append(p.Spec.Containers, Container{Name: "side", Image: "x", ImagePullPolicy: PullNever,
				TerminationMessagePolicy: TerminationMessageReadFile,
				Ports:                    []ContainerPort{{ContainerPort: 9090, HostPort: 8080, Protocol: ProtocolTCP}}})
		}, []string{`spec.containers[1].ports[0].hostPort: Duplicate value: "/TCP/8080"`}},
		{"env name", func(p *Pod) { p.Spec.Containers[0].Env = []EnvVar{{Name: "1X", Value: "v"}} }, []string{
			`spec.containers[0].env[0].name: Invalid value: "1X": a valid environment variable name must consist of*`,
		}},
		{"env name required", func(p *Pod) { p.Spec.Containers[0].Env = []EnvVar{{Value: "v"}} }, []string{
			"spec.containers[0].env[0].name: Required value",
		}},
		{"env two sources", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{
				ConfigMapKeyRef: &ConfigMapKeySelector{LocalObjectReference: LocalObjectReference{Name: "c"}, Key: "k"},
				SecretKeyRef:    &SecretKeySelector{LocalObjectReference: LocalObjectReference{Name: "s"}, Key: "k"},
			}}}
		}, []string{`spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one field specified at a time`}},
		{"env no source", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`"}},
		{"env value and source", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: "X", Value: "v", ValueFrom: &EnvVarSource{
				SecretKeyRef: &SecretKeySelector{LocalObjectReference: LocalObjectReference{Name: "s"}, Key: "k"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"}},
		{"env key selector", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{SecretKeyRef: &SecretKeySelector{}}}}
		}, []string{
			"spec.containers[0].env[0].valueFrom.secretKeyRef.name: Required value",
			"spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value",
		}},
		{"env field path", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{FieldRef: &ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}}}
		}, []string{`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.containers": supported values: "metadata.name",*`}},
		{"env label subscript", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{FieldRef: &ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}}}}
		}, nil},
		{"env resource divisor", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{ResourceFieldRef: &ResourceFieldSelector{Resource: "limits.cpu", Divisor: MustParseQuantity("2")}}}}
		}, []string{`spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: "limits.cpu": only divisor's values 1m and 1 are supported with the cpu resource`}},
		{"envFrom no source", func(p *Pod) { p.Spec.Containers[0].EnvFrom = []EnvFromSource{{Prefix: "P_"}} }, []string{
			"spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
		}},
		{"envFrom both", func(p *Pod) {
			p.Spec.Containers[0].EnvFrom = []EnvFromSource{{
				ConfigMapRef: &ConfigMapEnvSource{LocalObjectReference: LocalObjectReference{Name: "c"}},
				SecretRef:    &SecretEnvSource{LocalObjectReference: LocalObjectReference{Name: "s"}}}}
		}, []string{`spec.containers[0].envFrom: Invalid value: "": may not have more than one field specified at a time`}},
		{"volume name", func(p *Pod) {
			p.Spec.Volumes[0].Name = "Data"
			p.Spec.Containers[0].VolumeMounts = nil
		}, []string{`spec.volumes[0].name: Invalid value: "Data": a lowercase RFC 1123 label*`}},
		{"duplicate volume", func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, Volume{Name: "data", VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{}}})
		}, []string{`spec.volumes[1].name: Duplicate value: "data"`}},
		{"two volume sources", func(p *Pod) {
			p.Spec.Volumes[0].EmptyDir = &EmptyDirVolumeSource{}
			p.Spec.Volumes[0].HostPath = &HostPathVolumeSource{Path: "/srv"}
		}, []string{
			"spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
			`spec.containers[0].volumeMounts[0].name: Not found: "data"`,
		}},
		{"volume sources' required fields", func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				Volume{Name: "h", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: "/a/../b", Type: ptrOf(HostPathType("Dir"))}}},
				Volume{Name: "c", VolumeSource: VolumeSource{ConfigMap: &ConfigMapVolumeSource{Items: []KeyToPath{{Key: "k", Path: "/abs"}}}}},
				Volume{Name: "s", VolumeSource: VolumeSource{Secret: &SecretVolumeSource{SecretName: "s", DefaultMode: ptrOf[int32](0o1000)}}},
				Volume{Name: "p", VolumeSource: VolumeSource{PersistentVolumeClaim: &PersistentVolumeClaimVolumeSource{}}},
			)
		}, []string{
			`spec.volumes[1].hostPath.path: Invalid value: "/a/../b": must not contain '..'`,
			`spec.volumes[1].hostPath.type: Unsupported value: "Dir": supported values: *`,
			"spec.volumes[2].configMap.name: Required value",
			`spec.volumes[2].configMap.items[0].path: Invalid value: "/abs": must be a relative path`,
			"spec.volumes[3].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
			"spec.volumes[4].persistentVolumeClaim.claimName: Required value",
		}},
		{"image volumes", func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				Volume{Name: "i", VolumeSource: VolumeSource{Image: &ImageVolumeSource{PullPolicy: PullAlways}}},
				Volume{Name: "j", VolumeSource: VolumeSource{Image: &ImageVolumeSource{Reference: "models:1", PullPolicy: "Sometimes"}}},
				Volume{Name: "k", VolumeSource: VolumeSource{Image: &ImageVolumeSource{Reference: "models:1", PullPolicy: PullNever},
					EmptyDir: &EmptyDirVolumeSource{}}},
			)
		}, []string{
			"spec.volumes[1].image.reference: Required value",
			`spec.volumes[2].image.pullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"`,
			"spec.volumes[3].image: Forbidden: may not specify more than 1 volume type",
		}},
		{"downward API and projected volumes", func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				Volume{Name: "d", VolumeSource: VolumeSource{DownwardAPI: &DownwardAPIVolumeSource{Items: []DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels"}},
					{Path: "cpu", ResourceFieldRef: &ResourceFieldSelector{Resource: "limits.cpu"}},
					{Path: "none"},
				}}}},
				Volume{Name: "pr", VolumeSource: VolumeSource{Projected: &ProjectedVolumeSource{Sources: []VolumeProjection{
					{ConfigMap: &ConfigMapProjection{LocalObjectReference: LocalObjectReference{Name: "c"}},
						Secret: &SecretProjection{LocalObjectReference: LocalObjectReference{Name: "s"}}},
				}}}},
			)
		}, []string{
			"spec.volumes[1].downwardAPI.items[1].resourceFieldRef.containerName: Required value",
			"spec.volumes[1].downwardAPI.items[2]: Required value: one of fieldRef and resourceFieldRef is required",
			"spec.volumes[2].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source",
		}},
		{"mount of unknown volume", func(p *Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" }, []string{
			`spec.containers[0].volumeMounts[0].name: Not found: "nope"`,
		}},
		{"mount path", func(p *Pod) {
			m := &p.Spec.Containers[0].VolumeMounts
			(*m)[0].MountPath = ""
			*m = append(*m, VolumeMount{Name: "data", MountPath: "/x", SubPath: "../up"}, VolumeMount{Name: "data", MountPath: "/x"})
		}, []string{
			"spec.containers[0].volumeMounts[0].mountPath: Required value",
			`spec.containers[0].volumeMounts[1].subPath: Invalid value: "../up": must not contain '..'`,
			`spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/x": must be unique`,
		}},
		{"requests above limits", func(p *Pod) {
			p.Spec.Containers[0].Resources = ResourceRequirements{
				Limits:   ResourceList{ResourceCPU: MustParseQuantity("1")},
				Requests: ResourceList{ResourceCPU: MustParseQuantity("2")},
			}
		}, []string{`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`}},
		{"negative request", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests = ResourceList{ResourceMemory: MustParseQuantity("-1")}
		}, []string{`spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`}},
		{"unknown resource", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests = ResourceList{"gpu": MustParseQuantity("1")}
		}, []string{`spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers`}},
		{"extended resource needs equal limit", func(p *Pod) {
			p.Spec.Containers[0].Resources = ResourceRequirements{
				Limits:   ResourceList{"example.com/gpu": MustParseQuantity("2")},
				Requests: ResourceList{"example.com/gpu": MustParseQuantity("1")},
			}
		}, []string{`spec.containers[0].resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2`}},
		{"restart policy", func(p *Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{
			`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
		}},
		{"dns policy", func(p *Pod) { p.Spec.DNSPolicy = "Cluster" }, []string{
			`spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`,
		}},
		{"dns None needs config", func(p *Pod) { p.Spec.DNSPolicy = DNSNone }, []string{
			"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
		}},
		{"dns config", func(p *Pod) {
			p.Spec.DNSConfig = &PodDNSConfig{Nameservers: []string{"1.1.1.1", "bad"}, Searches: []string{"svc.cluster.local.", "Bad_Domain"}, Options: []PodDNSConfigOption{{}}}
		}, []string{
			`spec.dnsConfig.nameservers[1]: Invalid value: "bad": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
			`spec.dnsConfig.searches[1]: Invalid value: "Bad_Domain": a lowercase RFC 1123 subdomain*`,
			"spec.dnsConfig.options[0]: Required value: must not be empty",
		}},
		{"probe timings", func(p *Pod) {
			p.Spec.Containers[0].LivenessProbe = &Probe{ProbeHandler: ProbeHandler{TCPSocket: &TCPSocketAction{Port: FromInt32(80)}},
				InitialDelaySeconds: -1, PeriodSeconds: -1, SuccessThreshold: 2}
		}, []string{
			"spec.containers[0].livenessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
			"spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 1",
			"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
		}},
		{"readiness probe may succeed twice", func(p *Pod) {
			p.Spec.Containers[0].ReadinessProbe = &Probe{ProbeHandler: ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}, SuccessThreshold: 2}
		}, nil},
		{"startup probe success threshold", func(p *Pod) {
			p.Spec.Containers[0].StartupProbe = &Probe{ProbeHandler: ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}, SuccessThreshold: 3}
		}, []string{"spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1"}},
		{"probe handlers", func(p *Pod) {
			c := &p.Spec.Containers[0]
			c.LivenessProbe = &Probe{}
			c.ReadinessProbe = &Probe{ProbeHandler: ProbeHandler{Exec: &ExecAction{}, TCPSocket: &TCPSocketAction{Port: FromInt32(80)}}}
			c.StartupProbe = &Probe{ProbeHandler: ProbeHandler{HTTPGet: &HTTPGetAction{Port: FromString("no_such"), Scheme: "FTP",
				HTTPHeaders: []HTTPHeader{{Name: "Bad Header", Value: "x"}}}}}
		}, []string{
			"spec.containers[0].livenessProbe: Required value: must specify a handler type",
			"spec.containers[0].readinessProbe.exec.command: Required value",
			"spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
			`spec.containers[0].startupProbe.httpGet.port: Invalid value: "no_such": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.containers[0].startupProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`,
			`spec.containers[0].startupProbe.httpGet.httpHeaders: Invalid value: "Bad Header": name must be a valid HTTP header name`,
		}},
		{"lifecycle sleep", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 60}}}
		}, []string{"spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: 60: must be greater than 0 and less than terminationGracePeriodSeconds (30)"}},
		{"init container probes", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox",
				LivenessProbe: &Probe{ProbeHandler: ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}}}}
		}, []string{"spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{"security context", func(p *Pod) {
			p.Spec.Containers[0].SecurityContext = &SecurityContext{Privileged: ptrOf(true), AllowPrivilegeEscalation: ptrOf(false), RunAsUser: ptrOf[int64](-1)}
			p.Spec.SecurityContext = &PodSecurityContext{FSGroup: ptrOf[int64](-5)}
		}, []string{
			"spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
			"spec.containers[0].securityContext: Invalid value: cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
			"spec.securityContext.fsGroup: Invalid value: -5: must be between 0 and 2147483647, inclusive",
		}},
		{"node selector", func(p *Pod) { p.Spec.NodeSelector = map[string]string{"-bad": "x"} }, []string{
			`spec.nodeSelector: Invalid value: "-bad": name part must consist of*`,
		}},
		{"names", func(p *Pod) {
			p.Spec.Hostname = "Host"
			p.Spec.Subdomain = "a.b"
			p.Spec.NodeName = "Node_1"
		}, []string{
			`spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain*`,
			`spec.hostname: Invalid value: "Host": a lowercase RFC 1123 label*`,
			`spec.subdomain: Invalid value: "a.b": a lowercase RFC 1123 label*`,
		}},
		{"runtime class and overhead", func(p *Pod) {
			p.Spec.RuntimeClassName = ptrOf("G_Visor")
			p.Spec.Overhead = ResourceList{ResourceMemory: MustParseQuantity("-1Mi")}
		}, []string{
			`spec.runtimeClassName: Invalid value: "G_Visor": a lowercase RFC 1123 subdomain*`,
			`spec.overhead[memory]: Invalid value: "-1Mi": must be greater than or equal to 0`,
		}},
		{"grace periods", func(p *Pod) {
			p.Spec.TerminationGracePeriodSeconds = ptrOf[int64](-1)
			p.Spec.ActiveDeadlineSeconds = ptrOf[int64](0)
		}, []string{
			"spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0",
			"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
		}},
		{"tolerations", func(p *Pod) {
			p.Spec.Tolerations = []Toleration{
				{Key: "k", Operator: TolerationOpExists, Value: "x"},
				{Operator: TolerationOpEqual, Value: "v"},
				{Key: "k", Value: "v", Effect: TaintEffectNoSchedule, TolerationSeconds: ptrOf[int64](5)},
				{Key: "k", Operator: "In", Effect: "Never"},
				{Operator: TolerationOpExists},
			}
		}, []string{
			"spec.tolerations[0].operator: Invalid value: \"x\": value must be empty when `operator` is 'Exists'",
			"spec.tolerations[1].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
			"spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
			`spec.tolerations[3].operator: Unsupported value: "In": supported values: "Equal", "Exists"`,
			`spec.tolerations[3].effect: Unsupported value: "Never": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"`,
		}},
		{"node affinity", func(p *Pod) {
			p.Spec.Affinity = &Affinity{NodeAffinity: &NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{NodeSelectorTerms: []NodeSelectorTerm{{
					MatchExpressions: []NodeSelectorRequirement{
						{Key: "zone", Operator: NodeSelectorOpIn},
						{Key: "cores", Operator: NodeSelectorOpGt, Values: []string{"1", "2"}},
						{Key: "cores", Operator: NodeSelectorOpLt, Values: []string{"four"}},
						{Key: "ssd", Operator: NodeSelectorOpExists, Values: []string{"yes"}},
						{Key: "x", Operator: "Like"},
					},
					MatchFields: []NodeSelectorRequirement{{Key: "metadata.labels", Operator: NodeSelectorOpIn, Values: []string{"a"}}},
				}}},
				PreferredDuringSchedulingIgnoredDuringExecution: []PreferredSchedulingTerm{{Weight: 0}},
			}}
		}, []string{
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values[0]: Invalid value: \"four\": must be an integer when `operator` is 'Lt' or 'Gt'",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[3].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[4].operator: Invalid value: "Like": not a valid selector operator`,
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key: Invalid value: "metadata.labels": not a valid field selector key`,
			"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
		}},
		{"empty node selector", func(p *Pod) {
			p.Spec.Affinity = &Affinity{NodeAffinity: &NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{}}}
		}, []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"}},
		{"pod anti-affinity", func(p *Pod) {
			p.Spec.Affinity = &Affinity{PodAntiAffinity: &PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []PodAffinityTerm{{
					LabelSelector: &LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Namespaces:    []string{"Bad"},
				}},
				PreferredDuringSchedulingIgnoredDuringExecution: []WeightedPodAffinityTerm{{Weight: 101,
					PodAffinityTerm: PodAffinityTerm{TopologyKey: "kubernetes.io/hostname"}}},
			}}
		}, []string{
			`spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespace: Invalid value: "Bad"*`,
			"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
			"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 101: must be in the range 1-100",
		}},
		{"topology spread", func(p *Pod) {
			sel := &LabelSelector{MatchLabels: map[string]string{"app": "web"}}
			p.Spec.TopologySpreadConstraints = []TopologySpreadConstraint{
				{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: "Maybe", LabelSelector: sel},
				{MaxSkew: 1, WhenUnsatisfiable: ScheduleAnyway, MinDomains: ptrOf[int32](2)},
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: DoNotSchedule, MatchLabelKeys: []string{"app"}, LabelSelector: sel},
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: DoNotSchedule},
			}
		}, []string{
			"spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
			`spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Maybe": supported values: "DoNotSchedule", "ScheduleAnyway"`,
			"spec.topologySpreadConstraints[1].topologyKey: Required value: can not be empty",
			"spec.topologySpreadConstraints[1].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
			`spec.topologySpreadConstraints[2].{topologyKey, whenUnsatisfiable}: Duplicate value: "{zone, DoNotSchedule}"`,
			`spec.topologySpreadConstraints[2].matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`,
		}},
		{"readiness gates and priority", func(p *Pod) {
			p.Spec.ReadinessGates = []PodReadinessGate{{ConditionType: "example.com/ok"}, {ConditionType: "bad/key/x"}}
			p.Spec.PreemptionPolicy = ptrOf(PreemptionPolicy("Always"))
		}, []string{
			`spec.readinessGates[1].conditionType: Invalid value: "bad/key/x": a qualified name must consist of*`,
			`spec.preemptionPolicy: Unsupported value: "Always": supported values: "PreemptLowerPriority", "Never"`,
		}},
	}
	runPodCases(t, cases)
}

func TestValidatePodThroughScheme(t *testing.T) {
	s := NewScheme()
	p := testPod()
	p.Spec.Containers[0].Image = ""
	s.Default(p)
	err := s.Validate(p)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrInvalid))
	assert.Equal(t, `Pod "web" is invalid: spec.containers[0].image: Required value`, err.Error())
	assert.Equal(t, "v1", p.APIVersion)
	assert.Equal(t, "Pod", p.Kind)

	// Every problem is reported at once.
	p.Spec.RestartPolicy = "Sometimes"
	p.Namespace = ""
	err = s.Validate(p)
	var inv *InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Len(t, inv.Errors, 3, err.Error())
}

func TestValidatePodTemplateSpec(t *testing.T) {
	tmpl := &PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "web!"}}, Spec: testPod().Spec}
	DefaultPodSpec(&tmpl.Spec)
	tmpl.Spec.Containers[0].Image = ""
	assertFieldErrors(t, []string{
		`spec.template.metadata.labels: Invalid value: "web!": a valid label must be*`,
		"spec.template.spec.containers[0].image: Required value",
	}, ValidatePodTemplateSpec(tmpl, NewPath("spec", "template")))
}

func TestPodValidateUpdate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *Pod)
		want   []string
	}{
		{"no change", func(*Pod) {}, nil},
		{"image", func(p *Pod) { p.Spec.Containers[0].Image = "nginx:1.26" }, nil},
		{"bind to a node", func(p *Pod) { p.Spec.NodeName = "n1" }, nil},
		{"add toleration", func(p *Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, Toleration{Key: "b", Operator: TolerationOpExists})
		}, nil},
		{"change tolerationSeconds", func(p *Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptrOf[int64](10) }, nil},
		{"remove toleration", func(p *Pod) { p.Spec.Tolerations = nil }, []string{
			"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
		}},
		{"shorten deadline", func(p *Pod) { p.Spec.ActiveDeadlineSeconds = ptrOf[int64](50) }, nil},
		{"extend deadline", func(p *Pod) { p.Spec.ActiveDeadlineSeconds = ptrOf[int64](500) }, []string{
			"spec.activeDeadlineSeconds: Invalid value: 500: must be less than or equal to previous value",
		}},
		{"drop deadline", func(p *Pod) { p.Spec.ActiveDeadlineSeconds = nil }, []string{
			"spec.activeDeadlineSeconds: Invalid value: must not update from a positive integer to nil value",
		}},
		{"command", func(p *Pod) { p.Spec.Containers[0].Command = []string{"sh"} }, []string{
			"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative),`spec.nodeName` (only from empty)",
		}},
		{"add container", func(p *Pod) {
			p.Spec.Containers = append(p.Spec.Containers, Container{Name: "b", Image: "b"})
		}, []string{"spec: Forbidden: pod updates may not change fields other than*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := testPod()
			old.Spec.Tolerations = []Toleration{{Key: "a", Operator: TolerationOpExists, Effect: TaintEffectNoExecute, TolerationSeconds: ptrOf[int64](300)}}
			old.Spec.ActiveDeadlineSeconds = ptrOf[int64](100)
			old.Default()
			p := old.DeepCopy()
			tc.mutate(p)
			assertFieldErrors(t, tc.want, p.ValidateUpdate(old))
		})
	}

	// nodeName is set once: moving a bound pod is refused.
	old := testPod()
	old.Spec.NodeName = "n1"
	p := old.DeepCopy()
	p.Spec.NodeName = "n2"
	assertFieldErrors(t, []string{"spec: Forbidden: pod updates may not change fields other than*"}, p.ValidateUpdate(old))
}

func TestPodHelpers(t *testing.T) {
	p := testPod()
	assert.False(t, IsPodReady(p))
	assert.Nil(t, GetPodCondition(&p.Status, PodReady))
	p.Status.Conditions = []PodCondition{{Type: PodScheduled, Status: ConditionTrue}, {Type: PodReady, Status: ConditionFalse}}
	assert.False(t, IsPodReady(p))
	GetPodCondition(&p.Status, PodReady).Status = ConditionTrue
	assert.True(t, IsPodReady(p))

	assert.False(t, p.IsTerminal())
	p.Status.Phase = PodFailed
	assert.True(t, p.IsTerminal())
	p.Status.Phase = PodSucceeded
	assert.True(t, p.IsTerminal())
}

func TestPodRequests(t *testing.T) {
	rl := func(cpu, mem string) ResourceRequirements {
		r := ResourceList{}
		if cpu != "" {
			r[ResourceCPU] = MustParseQuantity(cpu)
		}
		if mem != "" {
			r[ResourceMemory] = MustParseQuantity(mem)
		}
		return ResourceRequirements{Requests: r}
	}
	p := &Pod{Spec: PodSpec{
		Containers: []Container{{Resources: rl("100m", "64Mi")}, {Resources: rl("200m", "")}},
		InitContainers: []Container{
			{Resources: rl("500m", "32Mi")},
			{Resources: rl("", "16Mi")},
		},
	}}
	got := PodRequests(p)
	assert.Equal(t, "500m", ptrOf(got[ResourceCPU]).String(), "the largest init container wins over the sum 300m")
	assert.Equal(t, "64Mi", ptrOf(got[ResourceMemory]).String(), "the sum of containers wins over the largest init container")
	assert.Empty(t, PodRequests(&Pod{}))

	// The pod's own quantities are not changed by the sums.
	assert.Equal(t, "100m", ptrOf(p.Spec.Containers[0].Resources.Requests[ResourceCPU]).String())
}

func TestPodQOS(t *testing.T) {
	res := func(req, lim map[ResourceName]string) ResourceRequirements {
		var r ResourceRequirements
		for k, v := range req {
			if r.Requests == nil {
				r.Requests = ResourceList{}
			}
			r.Requests[k] = MustParseQuantity(v)
		}
		for k, v := range lim {
			if r.Limits == nil {
				r.Limits = ResourceList{}
			}
			r.Limits[k] = MustParseQuantity(v)
		}
		return r
	}
	both := map[ResourceName]string{ResourceCPU: "1", ResourceMemory: "1Gi"}
	cases := []struct {
		name string
		r    []ResourceRequirements
		want PodQOSClass
	}{
		{"nothing", []ResourceRequirements{{}}, PodQOSBestEffort},
		{"equal requests and limits", []ResourceRequirements{res(both, both)}, PodQOSGuaranteed},
		{"limits only", []ResourceRequirements{res(nil, both)}, PodQOSBurstable},
		{"requests below limits", []ResourceRequirements{res(map[ResourceName]string{ResourceCPU: "500m", ResourceMemory: "1Gi"}, both)}, PodQOSBurstable},
		{"one container without limits", []ResourceRequirements{res(both, both), {}}, PodQOSBurstable},
		{"only cpu", []ResourceRequirements{res(map[ResourceName]string{ResourceCPU: "1"}, map[ResourceName]string{ResourceCPU: "1"})}, PodQOSBurstable},
		{"two guaranteed containers", []ResourceRequirements{res(both, both), res(both, both)}, PodQOSGuaranteed},
		{"zero requests", []ResourceRequirements{res(map[ResourceName]string{ResourceCPU: "0"}, nil)}, PodQOSBestEffort},
	}
	for _, tc := range cases {
		p := &Pod{}
		for _, r := range tc.r {
			p.Spec.Containers = append(p.Spec.Containers, Container{Resources: r})
		}
		assert.Equal(t, tc.want, PodQOS(p), tc.name)
	}
}

// A new pod is Pending with its QoS class, whatever status was sent, as
// Kubernetes' pod strategy prepares it.
func TestPodPrepareForCreate(t *testing.T) {
	p := testPod()
	p.Status = PodStatus{Phase: PodSucceeded, PodIP: "10.0.0.1", Conditions: []PodCondition{{Type: PodReady, Status: ConditionTrue}}}
	p.PrepareForCreate()
	assert.Equal(t, PodStatus{Phase: PodPending, QOSClass: PodQOSBestEffort}, p.Status)
}

// Only a pod bound to a node and not terminated is deleted gracefully, as
// Kubernetes' CheckGracefulDelete decides.
func TestPodGracefulDelete(t *testing.T) {
	p := testPod()
	assert.False(t, p.GracefulDelete(), "unbound")
	assert.Zero(t, p.DeletionGracePeriod())
	p.Spec.NodeName = "n1"
	assert.True(t, p.GracefulDelete(), "bound")
	assert.Equal(t, int64(DefaultTerminationGracePeriodSeconds), p.DeletionGracePeriod())
	for _, phase := range []PodPhase{PodSucceeded, PodFailed} {
		p.Status.Phase = phase
		assert.False(t, p.GracefulDelete(), phase)
		assert.Zero(t, p.DeletionGracePeriod())
	}
}

func TestPodValidateStatusUpdate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*PodStatus)
		want   []string
	}{
		{"valid", func(*PodStatus) {}, nil},
		{"valid dual stack", func(s *PodStatus) {
			s.PodIPs = append(s.PodIPs, PodIP{IP: "fd00::5"})
			s.HostIPs = []HostIP{{IP: "192.0.2.1"}, {IP: "2001:db8::1"}}
		}, nil},
		{"phase unknown", func(s *PodStatus) { s.Phase = "Nonsense" }, []string{
			`status.phase: Unsupported value: "Nonsense": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"`}},
		{"phase missing", func(s *PodStatus) { s.Phase = "" }, []string{"status.phase: Required value"}},
		{"podIP not an IP", func(s *PodStatus) { s.PodIP, s.PodIPs = "not-an-ip", nil }, []string{
			`status.podIP: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"podIPs not IPs", func(s *PodStatus) { s.PodIPs = []PodIP{{IP: "10.0.0.5"}, {IP: "x"}} }, []string{
			`status.podIPs[1].ip: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"podIPs first is not podIP", func(s *PodStatus) { s.PodIPs = []PodIP{{IP: "10.0.0.6"}} }, []string{
			`status.podIPs[0].ip: Invalid value: "10.0.0.6": must equal status.podIP (10.0.0.5)`}},
		{"two of a family", func(s *PodStatus) { s.PodIPs = append(s.PodIPs, PodIP{IP: "10.0.0.6"}) }, []string{
			`status.podIPs: Invalid value: "10.0.0.5,10.0.0.6": may specify no more than one IP for each IP family`}},
		{"hostIP", func(s *PodStatus) { s.HostIP = "192.0.2.300" }, []string{
			`status.hostIP: Invalid value: "192.0.2.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"nominated node", func(s *PodStatus) { s.NominatedNodeName = "Node_1" }, []string{
			`status.nominatedNodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain*`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := testPod()
			p.Status = PodStatus{Phase: PodRunning, PodIP: "10.0.0.5", PodIPs: []PodIP{{IP: "10.0.0.5"}}, NominatedNodeName: "n1"}
			c.mutate(&p.Status)
			assertFieldErrors(t, c.want, p.ValidateStatusUpdate(testPod()))
		})
	}
}

func TestValidatePodDeletionCost(t *testing.T) {
	s := NewScheme()
	for v, ok := range map[string]bool{"0": true, "-5": true, "2147483647": true, "+1": false, "01": false, "2147483648": false, "x": false} {
		p := testPod()
		p.Annotations = map[string]string{PodDeletionCostAnnotation: v}
		s.Default(p)
		err := s.Validate(p)
		if ok {
			assert.NoError(t, err, v)
			continue
		}
		require.Error(t, err, v)
		assert.Contains(t, err.Error(), `metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "`+v+`": must be a 32-bit integer`)
	}
}
