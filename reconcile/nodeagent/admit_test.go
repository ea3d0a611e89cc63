package nodeagent_test

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

// rejected holds for a pod the agent refused for reason.
func rejected(reason string) func(*objects.Pod) bool {
	return func(p *objects.Pod) bool {
		return p != nil && p.Status.Phase == objects.PodFailed && p.Status.Reason == reason
	}
}

// wantRejected waits until the agent has refused pod name for reason with
// message, as the kubelet's rejectPod reports it, and checks that nothing
// of it ran and that the refusal was recorded as an event.
func (e *env) wantRejected(name, reason, message string) {
	e.t.Helper()
	p := e.waitPod(name, "rejected with "+reason, rejected(reason))
	if want := "Pod was rejected: " + message; p.Status.Message != want {
		e.t.Errorf("pod %s: message %q, want %q", name, p.Status.Message, want)
	}
	if len(p.Status.ContainerStatuses) > 0 || p.Status.PodIP != "" || p.Status.StartTime == nil {
		e.t.Errorf("pod %s: status %+v, want a start time and no container statuses nor IP", name, p.Status)
	}
	for _, c := range p.Status.Conditions {
		if c.Type != objects.PodScheduled {
			e.t.Errorf("pod %s: condition %s, want none of the agent's", name, c.Type)
		}
	}
	if recs := e.rt.Records(fake.OpRunSandbox, fake.Pod("default", name)); len(recs) > 0 {
		e.t.Errorf("pod %s: %d sandboxes made for a rejected pod", name, len(recs))
	}
	if !waitFor(waitTimeout, func() bool { return len(e.rec.about(name, reason)) > 0 }) {
		e.t.Errorf("pod %s: no %s event; events:\n%v", name, reason, e.rec)
	} else if got := e.rec.about(name, reason); got[0] != reason+": "+message {
		e.t.Errorf("pod %s: event %q, want %q", name, got[0], reason+": "+message)
	}
}

func withSysctls(p *objects.Pod, nameValues ...string) *objects.Pod {
	p.Spec.SecurityContext = &objects.PodSecurityContext{}
	for i := 0; i+1 < len(nameValues); i += 2 {
		p.Spec.SecurityContext.Sysctls = append(p.Spec.SecurityContext.Sysctls, objects.Sysctl{Name: nameValues[i], Value: nameValues[i+1]})
	}
	return p
}

// sandboxOf returns the config of pod name's latest sandbox.
func (e *env) sandboxOf(name string) runtime.SandboxConfig {
	e.t.Helper()
	var cfg *runtime.SandboxConfig
	for _, s := range e.rt.SandboxConfigs() {
		if s.Config.PodName == name {
			cfg = &s.Config
		}
	}
	if cfg == nil {
		e.t.Fatalf("pod %s has no sandbox", name)
	}
	return *cfg
}

// A pod's host aliases, sysctls (by their dotted names) and
// shareProcessNamespace reach its sandbox, and its containers see them.
func TestSandboxGetsPodSettings(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := withSysctls(e.pod("tuned", "app"), "net.ipv4.ip_local_port_range", "1024 65000", "net/ipv4/tcp_syncookies", "0", "kernel.shm_rmid_forced", "1")
	p.Spec.HostAliases = []objects.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar.local"}}}
	share := true
	p.Spec.ShareProcessNamespace = &share
	p.Spec.OS = &objects.PodOS{Name: objects.Linux}
	// Its second container prints the pod's /etc/hosts.
	p.Spec.Containers = append(p.Spec.Containers, objects.Container{Name: "hosts", Image: "registry.local/app:1", Command: []string{"cat", "/etc/hosts"}})
	plain := e.pod("plain", "app")
	e.create(p, plain)
	e.waitPod("tuned", "running its app", func(p *objects.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 2 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	e.waitPod("plain", "running", running)

	got := e.sandboxOf("tuned")
	if want := []runtime.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar.local"}}}; !reflect.DeepEqual(got.HostAliases, want) {
		t.Errorf("host aliases %+v, want %+v", got.HostAliases, want)
	}
	if want := map[string]string{"net.ipv4.ip_local_port_range": "1024 65000", "net.ipv4.tcp_syncookies": "0", "kernel.shm_rmid_forced": "1"}; !reflect.DeepEqual(got.Sysctls, want) {
		t.Errorf("sysctls %v, want %v", got.Sysctls, want)
	}
	if !got.ShareProcessNamespace {
		t.Error("ShareProcessNamespace not set")
	}
	if other := e.sandboxOf("plain"); other.HostAliases != nil || other.Sysctls != nil || other.ShareProcessNamespace {
		t.Errorf("a plain pod's sandbox got %+v", other)
	}

	var hostsID string
	e.waitPod("tuned", "with its hosts container exited", func(p *objects.Pod) bool {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == "hosts" && (cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil) {
				hostsID = strings.TrimPrefix(cs.ContainerID, "fake://")
				if cs.State.Terminated == nil {
					hostsID = strings.TrimPrefix(cs.LastTerminationState.Terminated.ContainerID, "fake://")
				}
				return true
			}
		}
		return false
	})
	rc, err := e.rt.ContainerLogs(context.Background(), hostsID, runtime.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, rc); err != nil {
		t.Fatal(err)
	}
	if want := "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("the pod's /etc/hosts:\n%s\nwant it to end with %q", b.String(), want)
	}
}

// Pods setting sysctls outside the safe ones and those the node allows
// are refused, as by the kubelet's sysctl admission: they fail with reason
// SysctlForbidden before anything of them runs.
func TestSysctlAdmission(t *testing.T) {
	t.Run("safe only", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		e.create(
			withSysctls(e.pod("safe", "app"), "kernel.shm_rmid_forced", "1", "net.ipv4.tcp_keepalive_time", "600"),
			withSysctls(e.pod("unsafe", "app"), "kernel.shm_rmid_forced", "1", "net.core.somaxconn", "1024"),
		)
		e.waitPod("safe", "running", running)
		e.wantRejected("unsafe", "SysctlForbidden", `forbidden sysctl: "net.core.somaxconn" not allowlisted`)
	})
	t.Run("allowed unsafe", func(t *testing.T) {
		e := newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithAllowedUnsafeSysctls("net.core.*", "user.*"), nodeagent.WithAllowedUnsafeSysctls("kernel.msgmax")}})
		hostNet := withSysctls(e.pod("hostnet", "app"), "net.ipv4.ip_local_port_range", "1024 65000")
		hostNet.Spec.HostNetwork = true
		e.create(
			withSysctls(e.pod("somaxconn", "app"), "net/core/somaxconn", "1024", "kernel.msgmax", "65536"),
			withSysctls(e.pod("msgmnb", "app"), "kernel.msgmnb", "65536"),
			withSysctls(e.pod("userns", "app"), "user.max_user_namespaces", "10"),
			hostNet,
		)
		e.waitPod("somaxconn", "running", running)
		e.wantRejected("msgmnb", "SysctlForbidden", `forbidden sysctl: "kernel.msgmnb" not allowlisted`)
		e.wantRejected("userns", "SysctlForbidden", `forbidden sysctl: "user.max_user_namespaces" not allowed with host User enabled`)
		e.wantRejected("hostnet", "SysctlForbidden", `forbidden sysctl: "net.ipv4.ip_local_port_range" not allowed with host Net enabled`)
	})
}

// A refused pod stays refused, as it was, when the agent restarts: it is
// not run, nor its status rewritten.
func TestRejectedPodAfterRestart(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.create(withSysctls(e.pod("unsafe", "app"), "vm.swappiness", "10"))
	before := e.waitPod("unsafe", "rejected", rejected("SysctlForbidden"))
	e.wantEvents("unsafe SysctlForbidden", 1) // recorded from a queue, after the status
	e.stop()
	e.start()
	e.create(e.pod("after", "app"))
	e.waitPod("after", "running", running)
	p := e.waitPod("unsafe", "still rejected", rejected("SysctlForbidden"))
	if !reflect.DeepEqual(p.Status, before.Status) {
		t.Errorf("status after the restart:\n%+v\nwant as before:\n%+v", p.Status, before.Status)
	}
	if n := e.rec.count("unsafe SysctlForbidden"); n != 1 {
		t.Errorf("%d SysctlForbidden events, want 1", n)
	}
	if recs := e.rt.Records(fake.OpRunSandbox, fake.Pod("default", "unsafe")); len(recs) > 0 {
		t.Errorf("%d sandboxes made for a rejected pod", len(recs))
	}
}

// A pod for another operating system than its node's is refused, as by the
// kubelet's admission: by spec.os (PodOSNotSupported) or by its
// kubernetes.io/os label (PodOSSelectorNodeLabelDoesNotMatch). A node is
// linux unless its kubernetes.io/os label says otherwise.
func TestOSAdmission(t *testing.T) {
	e := newEnv(t, envOpt{})
	linux, windows, labelled := e.pod("linux", "app"), e.pod("windows", "app"), e.pod("labelled", "app")
	linux.Spec.OS = &objects.PodOS{Name: objects.Linux}
	windows.Spec.OS = &objects.PodOS{Name: objects.Windows}
	labelled.Labels[objects.LabelOS] = "windows"
	e.create(linux, windows, labelled)
	e.waitPod("linux", "running", running)
	e.wantRejected("windows", "PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS")
	e.wantRejected("labelled", "PodOSSelectorNodeLabelDoesNotMatch", "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label")

	// On a node labelled windows (the fake runs anything), the other way
	// round.
	e.stop()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Node", objects.Key{Name: e.node})
		if err != nil {
			return err
		}
		n := o.(*objects.Node)
		n.Labels = map[string]string{objects.LabelOS: "windows"}
		n.ResourceVersion = ""
		return tx.Update(n)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	win, lin := e.pod("win2", "app"), e.pod("lin2", "app")
	win.Spec.OS = &objects.PodOS{Name: objects.Windows}
	lin.Spec.OS = &objects.PodOS{Name: objects.Linux}
	e.create(win, lin)
	e.waitPod("win2", "running", running)
	e.wantRejected("lin2", "PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS")
}

// WithAllowedUnsafeSysctls takes what the kubelet's
// --allowed-unsafe-sysctls does.
func TestWithAllowedUnsafeSysctls(t *testing.T) {
	s := newEnv(t, envOpt{}).store
	rt, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		patterns []string
		err      string
	}{
		{[]string{"net.core.*", "kernel.msg*", "fs.mqueue.*", "kernel.sem", "net/ipv4/conf/eth0.100/rp_filter"}, ""},
		{[]string{"vm.swappiness"}, `nodeagent.WithAllowedUnsafeSysctls: the sysctls "vm.swappiness" are not known to be namespaced`},
		{[]string{"kernel.*"}, `nodeagent.WithAllowedUnsafeSysctls: the sysctls "kernel." are not known to be namespaced`},
		{[]string{"*"}, `nodeagent.WithAllowedUnsafeSysctls: the sysctls "" are not known to be namespaced`},
		{[]string{"Net.Core.*"}, `nodeagent.WithAllowedUnsafeSysctls: sysctl "Net.Core.*" must have at most 253 characters and match regex *`},
		{[]string{"net.*.foo"}, `nodeagent.WithAllowedUnsafeSysctls: sysctl "net.*.foo" must have at most 253 characters*`},
	} {
		_, err := nodeagent.New(s, "n2", rt, nodeagent.WithAllowedUnsafeSysctls(tc.patterns...))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.patterns, err)
		case tc.err != "" && (err == nil || !matches(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %s", tc.patterns, err, tc.err)
		}
	}
}

// matches reports whether s is want, or starts with it up to a final '*'.
func matches(s, want string) bool {
	if p, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return s == want
}
