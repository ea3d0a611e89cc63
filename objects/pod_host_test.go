package objects

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeExporter is a node agent's DaemonSet as such manifests are written:
// the node's PID namespace, the host's root with HostToContainer, a
// per-pod directory by subPathExpr, the deprecated serviceAccount.
const nodeExporter = `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: monitoring}
spec:
  selector: {matchLabels: {app: node-exporter}}
  template:
    metadata: {labels: {app: node-exporter}}
    spec:
      hostPID: true
      hostIPC: true
      hostNetwork: true
      serviceAccount: node-exporter
      setHostnameAsFQDN: false
      containers:
      - name: exporter
        image: quay.io/prometheus/node-exporter:v1.8.1
        args: [--path.rootfs=/host/root]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        volumeMounts:
        - {name: root, mountPath: /host/root, readOnly: true, mountPropagation: HostToContainer}
        - {name: state, mountPath: /state, subPathExpr: $(POD_NAME)}
      - name: csi
        image: example.com/csi:1
        securityContext: {privileged: true}
        volumeMounts:
        - {name: plugins, mountPath: /var/lib/kubelet/plugins, mountPropagation: Bidirectional}
      volumes:
      - {name: root, hostPath: {path: /}}
      - {name: state, hostPath: {path: /var/lib/exporter, type: DirectoryOrCreate}}
      - {name: plugins, hostPath: {path: /var/lib/kubelet/plugins}}
`

func TestPodHostFieldsDecode(t *testing.T) {
	objs, err := DecodeYAML(strings.NewReader(nodeExporter))
	require.NoError(t, err)
	ds := objs[0].(*DaemonSet)
	s := &ds.Spec.Template.Spec
	assert.True(t, s.HostPID)
	assert.True(t, s.HostIPC)
	assert.Equal(t, "node-exporter", s.DeprecatedServiceAccount)
	assert.Equal(t, ptrOf(false), s.SetHostnameAsFQDN)
	m := s.Containers[0].VolumeMounts
	assert.Equal(t, ptrOf(MountPropagationHostToContainer), m[0].MountPropagation)
	assert.Equal(t, "$(POD_NAME)", m[1].SubPathExpr)
	assert.Equal(t, ptrOf(MountPropagationBidirectional), s.Containers[1].VolumeMounts[0].MountPropagation)

	ds.Default()
	assert.Equal(t, "node-exporter", s.ServiceAccountName, "serviceAccount is serviceAccountName's alias")
	assert.Empty(t, ds.Validate())

	b, err := json.Marshal(s)
	require.NoError(t, err)
	for _, field := range []string{`"hostPID":true`, `"hostIPC":true`, `"serviceAccount":"node-exporter"`,
		`"serviceAccountName":"node-exporter"`, `"setHostnameAsFQDN":false`, `"mountPropagation":"HostToContainer"`,
		`"subPathExpr":"$(POD_NAME)"`} {
		assert.Contains(t, string(b), field)
	}
	cp := s.DeepCopy()
	*cp.Containers[0].VolumeMounts[0].MountPropagation = MountPropagationNone
	*cp.SetHostnameAsFQDN = true
	assert.Equal(t, MountPropagationHostToContainer, *m[0].MountPropagation, "a deep copy shares nothing")
	assert.False(t, *s.SetHostnameAsFQDN)
}

// spec.serviceAccount and spec.serviceAccountName are one field, as the
// API server's conversion of v1 pods makes them: the name wins, the alias
// fills it in when it is empty, and reads back as the name.
func TestPodServiceAccountAlias(t *testing.T) {
	for _, tc := range []struct {
		name, alias, wantName string
	}{
		{"", "", ""},
		{"", "legacy", "legacy"},
		{"web", "", "web"},
		{"web", "legacy", "web"},
	} {
		p := testPod()
		p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = tc.name, tc.alias
		p.Default()
		assert.Equal(t, tc.wantName, p.Spec.ServiceAccountName, "%+v", tc)
		assert.Equal(t, tc.wantName, p.Spec.DeprecatedServiceAccount, "%+v", tc)
	}
	// Admission may name the account after defaulting (the namespace's
	// "default"): the stored pod's alias says it too.
	p := testPod()
	p.Default()
	p.Spec.ServiceAccountName = DefaultServiceAccountName
	p.PrepareForCreate()
	assert.Equal(t, DefaultServiceAccountName, p.Spec.DeprecatedServiceAccount)

	p = testPod()
	p.Spec.DeprecatedServiceAccount = "Not_A_Name"
	p.Default()
	assertFieldErrors(t, []string{`spec.serviceAccountName: Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain*`}, p.Validate())
}

func TestValidatePodHostFields(t *testing.T) {
	mounts := func(p *Pod, ms ...VolumeMount) { p.Spec.Containers[0].VolumeMounts = ms }
	mode := func(m MountPropagationMode) *MountPropagationMode { return &m }
	cases := []podCase{
		{"host namespaces", func(p *Pod) {
			p.Spec.HostPID, p.Spec.HostIPC = true, true
			p.Spec.ShareProcessNamespace = ptrOf(false)
			p.Spec.SetHostnameAsFQDN = ptrOf(true)
			p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
		}, nil},
		{"hostPID and shareProcessNamespace", func(p *Pod) {
			p.Spec.HostPID = true
			p.Spec.ShareProcessNamespace = ptrOf(true)
		}, []string{
			"spec.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled",
		}},
		{"hostIPC and shareProcessNamespace", func(p *Pod) {
			p.Spec.HostIPC = true
			p.Spec.ShareProcessNamespace = ptrOf(true)
		}, nil},
		{"ipc sysctls with hostIPC", func(p *Pod) {
			p.Spec.HostIPC = true
			p.Spec.SecurityContext = &PodSecurityContext{Sysctls: []Sysctl{
				{Name: "kernel.shm_rmid_forced", Value: "1"},
				{Name: "fs.mqueue.msg_max", Value: "20"},
				{Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"},
			}}
		}, []string{
			`spec.securityContext.sysctls[0].name: Invalid value: "kernel.shm_rmid_forced": may not be specified when 'hostIPC' is true`,
			`spec.securityContext.sysctls[1].name: Invalid value: "fs.mqueue.msg_max": may not be specified when 'hostIPC' is true`,
		}},
		{"windows pod", func(p *Pod) {
			p.Spec.OS = &PodOS{Name: Windows}
			p.Spec.HostPID, p.Spec.HostIPC = true, true
		}, []string{
			"spec.hostPID: Forbidden: cannot be set for a windows pod",
			"spec.hostIPC: Forbidden: cannot be set for a windows pod",
		}},
		{"mount propagation", func(p *Pod) {
			p.Spec.Containers[0].SecurityContext = &SecurityContext{Privileged: ptrOf(true)}
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", MountPropagation: mode(MountPropagationNone)},
				VolumeMount{Name: "data", MountPath: "/b", MountPropagation: mode(MountPropagationHostToContainer)},
				VolumeMount{Name: "data", MountPath: "/c", MountPropagation: mode(MountPropagationBidirectional), SubPath: "c"})
		}, nil},
		{"bidirectional unprivileged", func(p *Pod) {
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", MountPropagation: mode(MountPropagationBidirectional)})
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox", SecurityContext: &SecurityContext{Privileged: ptrOf(false)},
				VolumeMounts: []VolumeMount{{Name: "data", MountPath: "/a", MountPropagation: mode(MountPropagationBidirectional)}}}}
		}, []string{
			"spec.containers[0].volumeMounts[0].mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers",
			"spec.initContainers[0].volumeMounts[0].mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers",
		}},
		{"unknown propagation", func(p *Pod) {
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", MountPropagation: mode("rshared")})
		}, []string{
			`spec.containers[0].volumeMounts[0].mountPropagation: Unsupported value: "rshared": supported values: "Bidirectional", "HostToContainer", "None"`,
		}},
		{"recursiveReadOnly", func(p *Pod) {
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", ReadOnly: true, RecursiveReadOnly: ptrOf(RecursiveReadOnlyEnabled)},
				VolumeMount{Name: "data", MountPath: "/b", ReadOnly: true, RecursiveReadOnly: ptrOf(RecursiveReadOnlyIfPossible),
					MountPropagation: mode(MountPropagationNone)},
				VolumeMount{Name: "data", MountPath: "/c", RecursiveReadOnly: ptrOf(RecursiveReadOnlyDisabled)})
		}, nil},
		{"recursiveReadOnly invalid", func(p *Pod) {
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", RecursiveReadOnly: ptrOf(RecursiveReadOnlyEnabled)},
				VolumeMount{Name: "data", MountPath: "/b", ReadOnly: true, RecursiveReadOnly: ptrOf(RecursiveReadOnlyIfPossible),
					MountPropagation: mode(MountPropagationHostToContainer)},
				VolumeMount{Name: "data", MountPath: "/c", ReadOnly: true, RecursiveReadOnly: ptrOf(RecursiveReadOnlyMode("Always"))})
		}, []string{
			"spec.containers[0].volumeMounts[0].recursiveReadOnly: Forbidden: may only be specified when readOnly is true",
			"spec.containers[0].volumeMounts[1].recursiveReadOnly: Forbidden: may only be specified when mountPropagation is None or not specified",
			`spec.containers[0].volumeMounts[2].recursiveReadOnly: Unsupported value: "Always": supported values: "Disabled", "Enabled", "IfPossible"`,
		}},
		{"subPathExpr", func(p *Pod) {
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", SubPathExpr: "$(POD_NAME)/logs"})
		}, nil},
		{"subPathExpr and subPath", func(p *Pod) {
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", SubPath: "x", SubPathExpr: "$(POD_NAME)"})
		}, []string{
			`spec.containers[0].volumeMounts[0].subPathExpr: Invalid value: "$(POD_NAME)": subPathExpr and subPath are mutually exclusive`,
		}},
		{"subPathExpr leaving the volume", func(p *Pod) {
			mounts(p, VolumeMount{Name: "data", MountPath: "/a", SubPathExpr: "/$(POD_NAME)"},
				VolumeMount{Name: "data", MountPath: "/b", SubPathExpr: "$(POD_NAME)/../x"})
		}, []string{
			`spec.containers[0].volumeMounts[0].subPathExpr: Invalid value: "/$(POD_NAME)": must be a relative path`,
			`spec.containers[0].volumeMounts[1].subPathExpr: Invalid value: "$(POD_NAME)/../x": must not contain '..'`,
		}},
	}
	runPodCases(t, cases)
}

// The fields are part of the pod's immutable spec.
func TestPodHostFieldsImmutable(t *testing.T) {
	old := testPod()
	old.Default()
	for name, mutate := range map[string]func(p *Pod){
		"hostPID":           func(p *Pod) { p.Spec.HostPID = true },
		"hostIPC":           func(p *Pod) { p.Spec.HostIPC = true },
		"setHostnameAsFQDN": func(p *Pod) { p.Spec.SetHostnameAsFQDN = ptrOf(true) },
		"serviceAccount":    func(p *Pod) { p.Spec.DeprecatedServiceAccount = "other" },
		"mountPropagation": func(p *Pod) {
			m := MountPropagationHostToContainer
			p.Spec.Containers[0].VolumeMounts[0].MountPropagation = &m
		},
		"subPathExpr": func(p *Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPathExpr = "$(X)" },
	} {
		p := old.DeepCopy()
		mutate(p)
		p.Default()
		errs := p.ValidateUpdate(old)
		if assert.Len(t, errs, 1, name) {
			assert.True(t, strings.HasPrefix(errs[0].Error(), "spec: Forbidden: pod updates may not change fields"), "%s: %v", name, errs[0])
		}
	}
}
