package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// A pod's hostPID and hostIPC reach its sandbox.
func TestHostNamespacesReachTheSandbox(t *testing.T) {
	e := newEnv(t, envOpt{})
	both, plain := e.pod("both", "app"), e.pod("plain", "app")
	both.Spec.HostPID, both.Spec.HostIPC = true, true
	e.create(both, plain)
	for name, want := range map[string]bool{"both": true, "plain": false} {
		e.waitPod(name, "running", running)
		if cfg := e.sandboxOf(name); cfg.HostPID != want || cfg.HostIPC != want {
			t.Errorf("pod %s: sandbox HostPID %v, HostIPC %v; want both %v", name, cfg.HostPID, cfg.HostIPC, want)
		}
	}
}

// With setHostnameAsFQDN and a subdomain the sandbox's hostname is the
// pod's FQDN; without a subdomain, or for a HostNetwork pod, it has no
// effect; an FQDN longer than the kernel holds fails the sandbox as the
// kubelet fails it, and nothing runs.
func TestSetHostnameAsFQDN(t *testing.T) {
	e := newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithClusterDNS("cluster.example", "10.96.0.10")}})
	yes := true
	fqdn, noSub, hostNet, long := e.pod("fqdn", "app"), e.pod("nosub", "app"), e.pod("hostnet", "app"), e.pod("long", "app")
	for _, p := range []*objects.Pod{fqdn, noSub, hostNet, long} {
		p.Spec.SetHostnameAsFQDN = &yes
		p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
	}
	noSub.Spec.Subdomain = ""
	hostNet.Spec.HostNetwork = true
	long.Spec.Hostname = "a-rather-longer-hostname-for-a-pod"
	e.create(fqdn, noSub, hostNet, long)
	for name, want := range map[string]string{"fqdn": "web-0.web.default.svc.cluster.example", "nosub": "web-0", "hostnet": "web-0"} {
		e.waitPod(name, "running", running)
		if got := e.sandboxOf(name).Hostname; got != want {
			t.Errorf("pod %s: sandbox hostname %q, want %q", name, got, want)
		}
	}

	const name = "a-rather-longer-hostname-for-a-pod.web.default.svc.cluster.example"
	want := "FailedCreatePodSandBox: Failed to create pod sandbox: failed to construct FQDN from pod hostname and cluster domain, FQDN " + name +
		" is too long (64 characters is the max, 66 characters requested)"
	if !waitFor(waitTimeout, func() bool { return len(e.rec.about("long", "FailedCreatePodSandBox")) > 0 }) {
		t.Fatalf("no FailedCreatePodSandBox event for pod long; events:\n%v", e.rec)
	}
	if got := e.rec.about("long", "FailedCreatePodSandBox")[0]; got != want {
		t.Errorf("event %q,\nwant %q", got, want)
	}
	p, err := e.get("long")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != objects.PodPending {
		t.Errorf("pod long: phase %s, want Pending", p.Status.Phase)
	}
	if n := len(e.rt.Records(fake.OpRunSandbox, fake.Pod("default", "long"))); n != 0 {
		t.Errorf("pod long: %d sandboxes run, want none", n)
	}
}

// A pod with a subdomain has its domain in its sandbox, which names the
// pod in its /etc/hosts by hostname.subdomain.namespace.svc.clusterDomain
// and hostname, as the kubelet writes the file, without setHostnameAsFQDN
// too; its kernel hostname stays short. A HostNetwork pod's file is the
// node's.
func TestSubdomainInHosts(t *testing.T) {
	e := newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithClusterDNS("cluster.example", "10.96.0.10")}})
	sub, plain, hostNet := e.pod("sub", "app"), e.pod("plain", "app"), e.pod("hostnet", "app")
	for _, p := range []*objects.Pod{sub, plain, hostNet} {
		p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
	}
	plain.Spec.Subdomain = ""
	hostNet.Spec.HostNetwork = true
	e.create(sub, plain, hostNet)
	for name, want := range map[string]string{"sub": "web.default.svc.cluster.example", "plain": "", "hostnet": ""} {
		e.waitPod(name, "running", running)
		cfg := e.sandboxOf(name)
		if cfg.Domain != want || cfg.Hostname != "web-0" {
			t.Errorf("pod %s: sandbox hostname %q, domain %q; want web-0, %q", name, cfg.Hostname, cfg.Domain, want)
		}
	}
	if got, want := runtime.HostsName("web-0", "web.default.svc.cluster.example"), "web-0.web.default.svc.cluster.example"; got != want {
		t.Errorf("HostsName: %q, want %q", got, want)
	}
}

// A subPathExpr is expanded with the container's environment, as the
// kubelet expands it, its directory made in the volume; an unset or empty
// variable is a CreateContainerConfigError naming it.
func TestSubPathExpr(t *testing.T) {
	e := newEnv(t, envOpt{})
	field := func(name, path string) objects.EnvVar {
		return objects.EnvVar{Name: name, ValueFrom: &objects.EnvVarSource{FieldRef: &objects.ObjectFieldSelector{FieldPath: path}}}
	}
	p := e.pod("expr", "app")
	p.Spec.Volumes = []objects.Volume{{Name: "logs", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}}}
	c := &p.Spec.Containers[0]
	c.Env = []objects.EnvVar{field("POD_NAME", "metadata.name"), {Name: "KIND", Value: "app"}}
	c.VolumeMounts = []objects.VolumeMount{{Name: "logs", MountPath: "/var/log/app", SubPathExpr: "$(POD_NAME)/$(KIND)-$$1"}}
	missing := e.pod("missing", "app")
	missing.Spec.Volumes = p.Spec.Volumes
	missing.Spec.Containers[0].Env = []objects.EnvVar{{Name: "EMPTY"}}
	missing.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "logs", MountPath: "/logs", SubPathExpr: "$(NOPE)/$(EMPTY)/$(NOPE)"}}
	e.create(p, missing)

	e.waitPod("expr", "running", running)
	m := mountsOf(t, e.rt, "expr", "app")["/var/log/app"]
	if want := filepath.Join("expr", "app-$1"); !strings.HasSuffix(m.HostPath, string(filepath.Separator)+want) {
		t.Errorf("mount host path %q, want it to end in %s", m.HostPath, want)
	}
	if fi, err := os.Stat(m.HostPath); err != nil || !fi.IsDir() {
		t.Errorf("the sub-path directory %s: %v", m.HostPath, err)
	}

	pod := e.waitPod("missing", "in CreateContainerConfigError", waiting("app", "CreateContainerConfigError"))
	if msg := containerStatus(pod, "app").State.Waiting.Message; msg != "missing value for EMPTY, NOPE" {
		t.Errorf("message %q, want %q", msg, "missing value for EMPTY, NOPE")
	}
}

// A mount's propagation reaches the runtime.
func TestMountPropagationReachesTheRuntime(t *testing.T) {
	e := newEnv(t, envOpt{})
	mode := func(m objects.MountPropagationMode) *objects.MountPropagationMode { return &m }
	yes := true
	p := e.pod("prop", "app")
	p.Spec.Volumes = []objects.Volume{{Name: "data", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}}}
	c := &p.Spec.Containers[0]
	c.SecurityContext = &objects.SecurityContext{Privileged: &yes}
	c.VolumeMounts = []objects.VolumeMount{
		{Name: "data", MountPath: "/default"},
		{Name: "data", MountPath: "/none", MountPropagation: mode(objects.MountPropagationNone)},
		{Name: "data", MountPath: "/h2c", MountPropagation: mode(objects.MountPropagationHostToContainer)},
		{Name: "data", MountPath: "/bidi", MountPropagation: mode(objects.MountPropagationBidirectional)},
	}
	e.create(p)
	e.waitPod("prop", "running", running)
	mounts := mountsOf(t, e.rt, "prop", "app")
	for path, want := range map[string]runtime.MountPropagation{
		"/default": runtime.PropagationPrivate, "/none": runtime.PropagationPrivate,
		"/h2c": runtime.PropagationHostToContainer, "/bidi": runtime.PropagationBidirectional,
	} {
		if got := mounts[path].Propagation; got != want {
			t.Errorf("mount %s: propagation %v, want %v", path, got, want)
		}
	}
}

// As the kubelet's sysctl admission, a pod in the node's IPC namespace
// may not set an IPC sysctl: it would set the node's.
func TestSysctlRefusedWithHostIPC(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := withSysctls(e.pod("hostipc", "app"), "kernel.shm_rmid_forced", "1")
	p.Spec.HostIPC = true
	e.create(p)
	e.wantRejected("hostipc", "SysctlForbidden", `forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host IPC enabled`)
}

// spec.hostnameOverride is the sandbox's hostname, whatever the pod's
// name, hostname and subdomain, and gives it no domain (its DNS records
// stay those of its hostname and subdomain).
func TestHostnameOverride(t *testing.T) {
	e := newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithClusterDNS("cluster.example", "10.96.0.10")}})
	p := e.pod("over", "app")
	p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
	override := "db.primary.example"
	p.Spec.HostnameOverride = &override
	e.create(p)
	e.waitPod("over", "running", running)
	if cfg := e.sandboxOf("over"); cfg.Hostname != override || cfg.Domain != "" {
		t.Errorf("sandbox hostname %q, domain %q; want %q and none", cfg.Hostname, cfg.Domain, override)
	}
}
