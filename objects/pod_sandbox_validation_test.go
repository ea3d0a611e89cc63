package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidatePodSandboxFields(t *testing.T) {
	sysctlRegex := `^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`
	cases := []podCase{
		{"all valid", func(p *Pod) {
			p.Spec.HostAliases = []HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar"}}, {IP: "2001:db8::1"}}
			p.Spec.SecurityContext = &PodSecurityContext{Sysctls: []Sysctl{
				{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "net/ipv4/conf/eth0.100/rp_filter", Value: "1"},
			}}
			p.Spec.ShareProcessNamespace = ptrOf(true)
			p.Spec.OS = &PodOS{Name: Linux}
		}, nil},
		{"hostnameOverride", func(p *Pod) {
			p.Spec.HostnameOverride = ptrOf("db.primary.example")
			p.Spec.Subdomain = "db"
		}, nil},
		{"hostnameOverride with setHostnameAsFQDN, hostNetwork, too long and not a subdomain", func(p *Pod) {
			p.Spec.HostnameOverride = ptrOf("Upper_" + strings.Repeat("a", 60))
			p.Spec.SetHostnameAsFQDN = ptrOf(true)
			p.Spec.HostNetwork = true
		}, []string{
			`spec.hostnameOverride: Forbidden: may not be specified when setHostnameAsFQDN is true`,
			`spec.hostnameOverride: Forbidden: may not be specified when hostNetwork is true`,
			`spec.hostnameOverride: Too long: *`,
			`spec.hostnameOverride: Invalid value: "Upper_*`,
		}},
		{"host aliases", func(p *Pod) {
			p.Spec.HostAliases = []HostAlias{
				{IP: "10.1.2.300", Hostnames: []string{"ok"}},
				{IP: "10.1.2.3", Hostnames: []string{"Upper", "a_b"}},
				{IP: "fe80::1%eth0"},
			}
		}, []string{
			`spec.hostAliases[0].ip: Invalid value: "10.1.2.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
			`spec.hostAliases[1].hostnames[0]: Invalid value: "Upper": a lowercase RFC 1123 subdomain must consist of*`,
			`spec.hostAliases[1].hostnames[1]: Invalid value: "a_b": a lowercase RFC 1123 subdomain must consist of*`,
			`spec.hostAliases[2].ip: Invalid value: "fe80::1%eth0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
		}},
		{"sysctl names", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{Sysctls: []Sysctl{
				{Name: "", Value: "1"},
				{Name: "Net.Foo", Value: "1"},
				{Name: "net..foo", Value: "1"},
				{Name: "kernel.msgmax", Value: "1"},
				{Name: "kernel.msgmax", Value: "2"},
				{Name: strings.Repeat("a", 254), Value: "1"},
			}}
		}, []string{
			"spec.securityContext.sysctls[0].name: Required value",
			`spec.securityContext.sysctls[1].name: Invalid value: "Net.Foo": must have at most 253 characters and match regex ` + sysctlRegex,
			`spec.securityContext.sysctls[2].name: Invalid value: "net..foo": must have at most 253 characters and match regex ` + sysctlRegex,
			`spec.securityContext.sysctls[4].name: Duplicate value: "kernel.msgmax"`,
			`spec.securityContext.sysctls[5].name: Invalid value: "` + strings.Repeat("a", 254) + `": must have at most 253 characters*`,
		}},
		{"net sysctls with hostNetwork", func(p *Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = nil
			p.Spec.SecurityContext = &PodSecurityContext{Sysctls: []Sysctl{
				{Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"},
				{Name: "net/core/somaxconn", Value: "1024"},
				{Name: "kernel.shm_rmid_forced", Value: "1"},
			}}
		}, []string{
			`spec.securityContext.sysctls[0].name: Invalid value: "net.ipv4.ip_local_port_range": may not be specified when 'hostNetwork' is true`,
			`spec.securityContext.sysctls[1].name: Invalid value: "net/core/somaxconn": may not be specified when 'hostNetwork' is true`,
		}},
		{"os name required", func(p *Pod) { p.Spec.OS = &PodOS{} }, []string{
			"spec.os.name: Required value",
		}},
		{"os name unknown", func(p *Pod) { p.Spec.OS = &PodOS{Name: "plan9"} }, []string{
			`spec.os: Unsupported value: "plan9": supported values: "linux", "windows"`,
		}},
		{"windows pod", func(p *Pod) {
			p.Spec.OS = &PodOS{Name: Windows}
			p.Spec.SecurityContext = &PodSecurityContext{
				RunAsUser: ptrOf[int64](1000), RunAsGroup: ptrOf[int64](1000), FSGroup: ptrOf[int64](1000),
				SupplementalGroups: []int64{}, Sysctls: []Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}},
				SeccompProfile: &SeccompProfile{Type: SeccompProfileTypeRuntimeDefault},
			}
			p.Spec.ShareProcessNamespace = ptrOf(false)
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox", SecurityContext: &SecurityContext{
				Privileged: ptrOf(false), ReadOnlyRootFilesystem: ptrOf(false),
			}}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{
				Capabilities: &Capabilities{Add: []Capability{"NET_ADMIN"}}, RunAsUser: ptrOf[int64](1),
				RunAsGroup: ptrOf[int64](1), AllowPrivilegeEscalation: ptrOf(true),
				SeccompProfile: &SeccompProfile{Type: SeccompProfileTypeUnconfined},
			}
		}, []string{
			"spec.securityContext.seccompProfile: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.fsGroup: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.sysctls: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.runAsUser: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.runAsGroup: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.supplementalGroups: Forbidden: cannot be set for a windows pod",
			"spec.shareProcessNamespace: Forbidden: cannot be set for a windows pod",
			"spec.initContainers[0].securityContext.readOnlyRootFilesystem: Forbidden: cannot be set for a windows pod",
			"spec.initContainers[0].securityContext.privileged: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.seccompProfile: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.capabilities: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.allowPrivilegeEscalation: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.runAsUser: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.runAsGroup: Forbidden: cannot be set for a windows pod",
		}},
		{"windows pod without linux fields", func(p *Pod) { p.Spec.OS = &PodOS{Name: Windows} }, nil},
	}
	runPodCases(t, cases)
}

// The fields are part of the pod's immutable spec.
func TestPodSandboxFieldsImmutable(t *testing.T) {
	old := testPod()
	old.Spec.HostAliases = []HostAlias{{IP: "10.1.2.3", Hostnames: []string{"a"}}}
	old.Default()
	for name, mutate := range map[string]func(p *Pod){
		"hostAliases":           func(p *Pod) { p.Spec.HostAliases[0].IP = "10.1.2.4" },
		"sysctls":               func(p *Pod) { p.Spec.SecurityContext.Sysctls = []Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}} },
		"shareProcessNamespace": func(p *Pod) { p.Spec.ShareProcessNamespace = ptrOf(true) },
		"os":                    func(p *Pod) { p.Spec.OS = &PodOS{Name: Linux} },
	} {
		t.Run(name, func(t *testing.T) {
			p := old.DeepCopy()
			mutate(p)
			assertFieldErrors(t, []string{"spec: Forbidden: pod updates may not change fields other than*"}, p.ValidateUpdate(old))
		})
	}
}

func TestSysctlNames(t *testing.T) {
	for _, tc := range []struct {
		name, normal, ns, prefix string
		prefixed                 bool
	}{
		{"net.ipv4.ip_local_port_range", "net.ipv4.ip_local_port_range", SysctlNamespaceNet, "net.ipv4.ip_local_port_range", false},
		{"net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter", SysctlNamespaceNet, "net.ipv4.conf.eth0/100.rp_filter", false},
		{"net.ipv4.conf.eth0/100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter", SysctlNamespaceNet, "net.ipv4.conf.eth0/100.rp_filter", false},
		{"net.core.*", "net.core.*", SysctlNamespaceNet, "net.core.", true},
		{"kernel.shm_rmid_forced", "kernel.shm_rmid_forced", SysctlNamespaceIPC, "kernel.shm_rmid_forced", false},
		{"kernel.msg*", "kernel.msg*", SysctlNamespaceIPC, "kernel.msg", true},
		{"fs.mqueue.msg_max", "fs.mqueue.msg_max", SysctlNamespaceIPC, "fs.mqueue.msg_max", false},
		{"kernel.domainname", "kernel.domainname", SysctlNamespaceUTS, "kernel.domainname", false},
		{"user.max_user_namespaces", "user.max_user_namespaces", SysctlNamespaceUser, "user.max_user_namespaces", false},
		{"vm.swappiness", "vm.swappiness", "", "vm.swappiness", false},
		{"kernel.pid_max", "kernel.pid_max", "", "kernel.pid_max", false},
		{"network.foo", "network.foo", "", "network.foo", false},
	} {
		assert.Equal(t, tc.normal, NormalizeSysctlName(tc.name), "NormalizeSysctlName(%q)", tc.name)
		ns, prefix, prefixed := SysctlNamespace(tc.name)
		assert.Equal(t, tc.ns, ns, "namespace of %q", tc.name)
		assert.Equal(t, tc.prefix, prefix, "name or prefix of %q", tc.name)
		assert.Equal(t, tc.prefixed, prefixed, "prefixed %q", tc.name)
	}
}

// A Deployment using the four fields decodes strictly, and its pods
// validate.
func TestDecodePodSandboxFields(t *testing.T) {
	in := `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      os:
        name: linux
      shareProcessNamespace: true
      hostAliases:
      - ip: "127.0.0.1"
        hostnames: [foo.local, bar.local]
      - ip: "10.1.2.3"
        hostnames: [foo.remote]
      securityContext:
        sysctls:
        - {name: kernel.shm_rmid_forced, value: "0"}
        - {name: net.core.somaxconn, value: "1024"}
      containers:
      - name: web
        image: nginx:1.27
`
	objs, err := DecodeYAML(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	s := objs[0].(*Deployment).Spec.Template.Spec
	assert.Equal(t, &PodOS{Name: Linux}, s.OS)
	assert.Equal(t, ptrOf(true), s.ShareProcessNamespace)
	assert.Equal(t, []HostAlias{{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}}, {IP: "10.1.2.3", Hostnames: []string{"foo.remote"}}}, s.HostAliases)
	assert.Equal(t, []Sysctl{{Name: "kernel.shm_rmid_forced", Value: "0"}, {Name: "net.core.somaxconn", Value: "1024"}}, s.SecurityContext.Sysctls)

	s2 := NewScheme()
	s2.Default(objs[0])
	require.NoError(t, s2.Validate(objs[0]))

	// A misspelt field of theirs is still refused by name.
	_, err = DecodeYAML(strings.NewReader(strings.Replace(in, "hostnames: [foo.remote]", "hostname: [foo.remote]", 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "spec.template.spec.hostAliases[1].hostname"`)
}
