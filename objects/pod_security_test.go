package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidatePodSecurity(t *testing.T) {
	localhost := func(s string) *AppArmorProfile {
		return &AppArmorProfile{Type: AppArmorProfileTypeLocalhost, LocalhostProfile: &s}
	}
	runPodCases(t, []podCase{
		{"all valid", func(p *Pod) {
			p.Spec.OS = &PodOS{Name: Linux}
			p.Spec.SecurityContext = &PodSecurityContext{
				FSGroup: ptrOf(int64(2000)), FSGroupChangePolicy: ptrOf(FSGroupChangeOnRootMismatch),
				SupplementalGroups: []int64{4000}, SupplementalGroupsPolicy: ptrOf(SupplementalGroupsPolicyStrict),
				SELinuxOptions:  &SELinuxOptions{Level: "s0:c1,c2"},
				AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeRuntimeDefault},
				SeccompProfile:  &SeccompProfile{Type: SeccompProfileTypeLocalhost, LocalhostProfile: ptrOf("profiles/audit.json")},
			}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{
				ProcMount: ptrOf(DefaultProcMount), AllowPrivilegeEscalation: ptrOf(false),
				AppArmorProfile: localhost("k8s-deny-write"), SELinuxOptions: &SELinuxOptions{Type: "container_t"},
			}
		}, nil},
		{"policies", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{
				FSGroupChangePolicy:      ptrOf(PodFSGroupChangePolicy("Sometimes")),
				SupplementalGroupsPolicy: ptrOf(SupplementalGroupsPolicy("Loose")),
			}
		}, []string{
			`spec.securityContext.fsGroupChangePolicy: Unsupported value: "Sometimes": supported values: "Always", "OnRootMismatch"`,
			`spec.securityContext.supplementalGroupsPolicy: Unsupported value: "Loose": supported values: "Merge", "Strict"`,
		}},
		{"apparmor profiles", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeLocalhost}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{AppArmorProfile: &AppArmorProfile{Type: "Permissive"}}
			p.Spec.InitContainers = []Container{
				{Name: "a", Image: "busybox:1", SecurityContext: &SecurityContext{AppArmorProfile: localhost(" padded")}},
				{Name: "b", Image: "busybox:1", SecurityContext: &SecurityContext{AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeUnconfined, LocalhostProfile: ptrOf("x")}}},
				{Name: "c", Image: "busybox:1", SecurityContext: &SecurityContext{AppArmorProfile: &AppArmorProfile{}}},
				{Name: "d", Image: "busybox:1", SecurityContext: &SecurityContext{AppArmorProfile: localhost(strings.Repeat("p", 4096))}},
			}
		}, []string{
			`spec.containers[0].securityContext.appArmorProfile.type: Unsupported value: "Permissive": supported values: "Localhost", "RuntimeDefault", "Unconfined"`,
			`spec.initContainers[0].securityContext.appArmorProfile.localhostProfile: Invalid value: " padded": must not be padded with whitespace`,
			`spec.initContainers[1].securityContext.appArmorProfile.localhostProfile: Invalid value: "x": can only be set when AppArmor type is Localhost`,
			`spec.initContainers[2].securityContext.appArmorProfile.type: Required value: type is required when appArmorProfile is set`,
			`spec.initContainers[3].securityContext.appArmorProfile.localhostProfile: Too long: must have at most 4095 bytes`,
			`spec.securityContext.appArmorProfile.localhostProfile: Required value: must be set when AppArmor type is Localhost`,
		}},
		{"procMount", func(p *Pod) {
			p.Spec.Containers[0].SecurityContext = &SecurityContext{ProcMount: ptrOf(UnmaskedProcMount)}
			p.Spec.InitContainers = []Container{{Name: "a", Image: "busybox:1", SecurityContext: &SecurityContext{ProcMount: ptrOf(ProcMountType("Hidden"))}}}
		}, []string{
			"spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`",
			`spec.initContainers[0].securityContext.procMount: Unsupported value: "Hidden": supported values: "Default", "Unmasked"`,
		}},
		{"seccomp type required", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{SeccompProfile: &SeccompProfile{}}
		}, []string{"spec.securityContext.seccompProfile.type: Required value: type is required when seccompProfile is set"}},
		{"windows options of a linux pod", func(p *Pod) {
			p.Spec.OS = &PodOS{Name: Linux}
			p.Spec.SecurityContext = &PodSecurityContext{WindowsOptions: &WindowsSecurityContextOptions{RunAsUserName: ptrOf("ContainerUser")}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{WindowsOptions: &WindowsSecurityContextOptions{HostProcess: ptrOf(false)}}
		}, []string{
			"spec.securityContext.windowsOptions: Forbidden: windows options cannot be set for a linux pod",
			"spec.containers[0].securityContext.windowsOptions: Forbidden: windows options cannot be set for a linux pod",
		}},
		{"windows options without an OS", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{WindowsOptions: &WindowsSecurityContextOptions{
				RunAsUserName: ptrOf(`NT AUTHORITY\NETWORK SERVICE`), GMSACredentialSpecName: ptrOf("gmsa-webapp"),
			}}
		}, nil},
		{"windows options invalid", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{WindowsOptions: &WindowsSecurityContextOptions{
				RunAsUserName: ptrOf(`a\b\c`), GMSACredentialSpec: ptrOf(""), GMSACredentialSpecName: ptrOf("Not_A_Name"),
			}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{WindowsOptions: &WindowsSecurityContextOptions{RunAsUserName: ptrOf(`.domain\us:er`)}}
		}, []string{
			`spec.containers[0].securityContext.windowsOptions.runAsUserName: Invalid value: ".domain\\us:er": runAsUserName's Domain doesn't match the NetBios nor the DNS format`,
			`spec.containers[0].securityContext.windowsOptions.runAsUserName: Invalid value: ".domain\\us:er": runAsUserName's User cannot contain the following characters: "/\:;|=,+*?<>@[]`,
			`spec.securityContext.windowsOptions.gmsaCredentialSpecName: Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain*`,
			`spec.securityContext.windowsOptions.gmsaCredentialSpec: Invalid value: "": gmsaCredentialSpec cannot be an empty string`,
			`spec.securityContext.windowsOptions.runAsUserName: Invalid value: "a\\b\\c": runAsUserName cannot contain more than one backslash`,
		}},
		{"linux fields of a windows pod", func(p *Pod) {
			p.Spec.OS = &PodOS{Name: Windows}
			p.Spec.SecurityContext = &PodSecurityContext{
				AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeRuntimeDefault}, SELinuxOptions: &SELinuxOptions{},
				FSGroupChangePolicy: ptrOf(FSGroupChangeAlways), SupplementalGroupsPolicy: ptrOf(SupplementalGroupsPolicyMerge),
				WindowsOptions: &WindowsSecurityContextOptions{HostProcess: ptrOf(false)},
			}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{ProcMount: ptrOf(DefaultProcMount), SELinuxOptions: &SELinuxOptions{},
				AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeUnconfined}}
		}, []string{
			"spec.securityContext.appArmorProfile: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.seLinuxOptions: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.fsGroupChangePolicy: Forbidden: cannot be set for a windows pod",
			"spec.securityContext.supplementalGroupsPolicy: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.appArmorProfile: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.seLinuxOptions: Forbidden: cannot be set for a windows pod",
			"spec.containers[0].securityContext.procMount: Forbidden: cannot be set for a windows pod",
		}},
		{"apparmor annotations", func(p *Pod) {
			p.Annotations = map[string]string{
				AppArmorContainerAnnotationKeyPrefix + "app":   "localhost/other",
				AppArmorContainerAnnotationKeyPrefix + "ghost": "runtime/default",
				AppArmorContainerAnnotationKeyPrefix + "init":  "confined",
			}
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox:1"}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{AppArmorProfile: localhost("mine")}
		}, []string{
			`metadata.annotations[container.apparmor.security.beta.kubernetes.io/ghost]: Invalid value: "ghost": container not found`,
			`metadata.annotations[container.apparmor.security.beta.kubernetes.io/init]: Invalid value: "confined": invalid AppArmor profile name: "confined"`,
			"spec.containers[0].securityContext.appArmorProfile.localhostProfile: Forbidden: apparmor profile in annotation and field must match",
		}},
		{"apparmor annotation overrides the pod's field", func(p *Pod) {
			p.Annotations = map[string]string{AppArmorContainerAnnotationKeyPrefix + "app": "unconfined"}
			p.Spec.SecurityContext = &PodSecurityContext{AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeRuntimeDefault}}
		}, nil},
		{"apparmor annotation and field differ in type", func(p *Pod) {
			p.Annotations = map[string]string{AppArmorContainerAnnotationKeyPrefix + "app": "unconfined"}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeRuntimeDefault}}
		}, []string{"spec.containers[0].securityContext.appArmorProfile.type: Forbidden: apparmor type in annotation and field must match"}},
	})
}

func TestAppArmorAnnotationsAndFieldsSync(t *testing.T) {
	p := testPod()
	p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox:1"}, {Name: "same", Image: "busybox:1"}}
	p.Spec.Containers = append(p.Spec.Containers, Container{Name: "own", Image: "busybox:1",
		SecurityContext: &SecurityContext{AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeUnconfined}}})
	p.Spec.SecurityContext = &PodSecurityContext{AppArmorProfile: &AppArmorProfile{Type: AppArmorProfileTypeRuntimeDefault}}
	p.Annotations = map[string]string{
		AppArmorContainerAnnotationKeyPrefix + "init": "localhost/deny-write",
		AppArmorContainerAnnotationKeyPrefix + "same": "runtime/default",
	}
	annotations := p.Annotations
	containers := p.Spec.InitContainers
	p.Default()
	assert.Empty(t, p.Validate())

	// An annotation without a field of the container's own gives it one,
	// unless it says what the pod's says or is not a valid profile.
	init := p.Spec.InitContainers[0].SecurityContext
	if assert.NotNil(t, init) && assert.NotNil(t, init.AppArmorProfile) {
		assert.Equal(t, AppArmorProfileTypeLocalhost, init.AppArmorProfile.Type)
		assert.Equal(t, "deny-write", *init.AppArmorProfile.LocalhostProfile)
	}
	assert.Nil(t, p.Spec.InitContainers[1].SecurityContext)
	// A profile without an annotation gives one: the container's own,
	// else the pod's.
	assert.Equal(t, map[string]string{
		AppArmorContainerAnnotationKeyPrefix + "init": "localhost/deny-write",
		AppArmorContainerAnnotationKeyPrefix + "same": "runtime/default",
		AppArmorContainerAnnotationKeyPrefix + "app":  "runtime/default",
		AppArmorContainerAnnotationKeyPrefix + "own":  "unconfined",
	}, p.Annotations)
	// What the pod shared with its template is left as it was.
	assert.Len(t, annotations, 2)

	// An annotation of no valid profile gives no field.
	b := testPod()
	b.Annotations = map[string]string{AppArmorContainerAnnotationKeyPrefix + "app": "localhost/ padded"}
	b.Default()
	assert.Empty(t, b.Validate())
	assert.Nil(t, b.Spec.Containers[0].SecurityContext)
	assert.Nil(t, containers[0].SecurityContext)

	// Defaulting again changes nothing.
	before := p.DeepCopy()
	p.Default()
	assert.Equal(t, before, p)

	// A Windows pod is left alone.
	w := testPod()
	w.Spec.OS = &PodOS{Name: Windows}
	w.Annotations = map[string]string{AppArmorContainerAnnotationKeyPrefix + "app": "runtime/default"}
	w.Default()
	assert.Nil(t, w.Spec.Containers[0].SecurityContext)
}
