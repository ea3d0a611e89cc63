package containerd_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/errdefs"

	"github.com/podkit/podkit/internal/cni"
	"github.com/podkit/podkit/internal/owner"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
)

// testCNI is the test network as the runtime configures it, for making
// and checking attachments behind its back.
func testCNI(t testing.TB) *cni.Network {
	t.Helper()
	n, err := cni.New(cni.Config{Name: testNetwork, Bridge: testBridge, Subnet: testSubnet,
		CacheDir: filepath.Join(stateDir, "cni", "cache"), IPAMDir: filepath.Join(stateDir, "cni", "ipam")})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ourAllocations(t *testing.T, n *cni.Network) map[string]bool {
	t.Helper()
	allocs, err := n.Allocations(func(id string) bool { return strings.HasPrefix(id, testNS+".") })
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, id := range allocs {
		out[strings.TrimPrefix(id, testNS+".")] = true
	}
	return out
}

// TestRepairAtStart leaves what a crashed process would (a sandbox cut
// short before its record, a stray IP, a sandbox whose record went but
// whose container stayed) and checks that New repairs all of it while the
// live pod stays untouched.
func TestRepairAtStart(t *testing.T) {
	rt1 := newRuntime(t)
	live := newPod(t, rt1, "live")
	liveCtr := live.run("app", nil)
	waitHTTP(t, "http://"+live.ip()+":8080/")
	ctx := testContext(t)
	n := testCNI(t)

	// A RunSandbox cut short after its CNI attachment: a directory whose
	// owner is dead, a pinned namespace, an IP.
	halfID := "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface"
	halfDir := filepath.Join(stateDir, testNS, "sandboxes", halfID)
	if err := os.MkdirAll(halfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(halfDir, "owner"), []byte("999999999 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns, err := netns.NewNetNS(halfDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Setup(ctx, testNS+"."+halfID, ns.GetPath(), nil); err != nil {
		t.Fatal(err)
	}
	// An IP whose attachment left no cache entry, and one of another
	// namespace, which is not this runtime's to release.
	ipamDir := filepath.Join(stateDir, "cni", "ipam", testNetwork)
	stray := filepath.Join(ipamDir, "10.213.254.250")
	foreign := filepath.Join(ipamDir, "10.213.254.251")
	if err := os.WriteFile(stray, []byte(testNS+".abad1dea\r\neth0"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreign, []byte("someone-else.abad1dea\r\neth0"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(foreign)
	// A RemoveSandbox cut short after the record went: its container, its
	// directory and its attachment stay.
	orphan := newPod(t, rt1, "orphan")
	orphanCtr := orphan.run("app", nil)
	waitContainer(t, rt1, orphanCtr, "running", running)
	nctx := namespaces.WithNamespace(ctx, testNS)
	if err := raw.ContainerService().Delete(nctx, orphan.id); err != nil {
		t.Fatal(err)
	}
	if got := ourAllocations(t, n); !got[halfID] || !got["abad1dea"] || !got[orphan.id] || !got[live.id] {
		t.Fatalf("before the restart, allocations = %v: the set-up is wrong", got)
	}
	rt1.Close()

	rt2 := newRuntime(t)
	live.handOver(rt2)
	orphan.handOver(rt2) // its removal now finds nothing
	// What stays attached: the Ready sandboxes (the live pod's, and any an
	// earlier failed test left).
	ready := map[string]bool{}
	sbs, err := rt2.ListSandboxes(ctx, runtime.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sbs {
		if s.State == runtime.SandboxReady {
			ready[s.ID] = true
		}
	}
	if got := ourAllocations(t, n); len(got) != len(ready) || !got[live.id] || got[halfID] || got[orphan.id] || got["abad1dea"] {
		t.Errorf("after New, allocations of this namespace = %v, want those of the Ready sandboxes %v", got, ready)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("another namespace's allocation was released: %v", err)
	}
	atts, err := n.Attachments(func(id string) bool { return strings.HasPrefix(id, testNS+".") })
	if err != nil || len(atts) != len(ready) {
		t.Errorf("after New, CNI cache = %+v, %v; want the Ready sandboxes %v", atts, err, ready)
	}
	for _, a := range atts {
		if !ready[strings.TrimPrefix(a.ID, testNS+".")] {
			t.Errorf("after New, the CNI cache holds %s, not a Ready sandbox", a.ID)
		}
	}
	for _, d := range []string{halfDir, filepath.Join(stateDir, testNS, "sandboxes", orphan.id)} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists after New (%v)", d, err)
		}
	}
	if _, err := raw.ContainerService().Get(nctx, orphanCtr); err == nil {
		t.Errorf("the container of a sandbox without record survived New")
	}
	if _, ok := task(t, orphanCtr); ok {
		t.Errorf("the task of a sandbox without record survived New")
	}
	if _, err := raw.SnapshotService(containerd.DefaultSnapshotter).Stat(nctx, orphanCtr); err == nil {
		t.Errorf("the snapshot of a container without sandbox survived New")
	}
	// The live pod is as it was.
	st := waitContainer(t, rt2, liveCtr, "running", running)
	if st.SandboxID != live.id {
		t.Errorf("live container's sandbox = %s, want %s", st.SandboxID, live.id)
	}
	waitHTTP(t, "http://"+live.ip()+":8080/")
}

// TestCleanupLeavesNothing removes a pod that ran, exec'ed and restarted a
// container, and checks the daemon and the host for anything left of it.
func TestCleanupLeavesNothing(t *testing.T) {
	rt := newRuntime(t)
	ctx := testContext(t)
	p := newPod(t, rt, "leaves-nothing", func(c *runtime.SandboxConfig) {
		c.Ports = []runtime.PortMapping{{Protocol: "TCP", ContainerPort: 8080, HostPort: 18080, HostIP: "127.0.0.1"}}
	})
	first := p.run("app", nil, "exit", "1")
	waitContainer(t, rt, first, "exited", exited)
	second := p.run("app", func(c *runtime.ContainerConfig) { c.Attempt = 1 })
	ip := p.ip()
	waitHTTP(t, "http://"+ip+":8080/")
	// hostPort through portmap, on loopback.
	waitHTTP(t, "http://127.0.0.1:18080/")
	if code, err := rt.Exec(ctx, second, runtime.ExecOptions{Command: demo.Command("exit", "0")}); err != nil || code != 0 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if err := rt.RemoveSandbox(ctx, p.id); err != nil {
		t.Fatal(err)
	}
	nctx := namespaces.WithNamespace(ctx, testNS)
	for _, id := range []string{p.id, first, second} {
		if _, err := raw.ContainerService().Get(nctx, id); err == nil {
			t.Errorf("%s is still in the namespace", id)
		}
		if _, ok := task(t, id); ok {
			t.Errorf("task %s is still in the namespace", id)
		}
	}
	err := raw.SnapshotService(containerd.DefaultSnapshotter).Walk(nctx, func(_ context.Context, i snapshots.Info) error {
		if i.Name == first || i.Name == second {
			t.Errorf("snapshot %s is still in the namespace", i.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(stateDir, testNS, "sandboxes", p.id), filepath.Join(stateDir, testNS, "containers", first),
		filepath.Join(stateDir, testNS, "containers", second)} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", d, err)
		}
	}
	n := testCNI(t)
	if got := ourAllocations(t, n); got[p.id] {
		t.Errorf("the pod's IP is still allocated")
	}
	if atts, _ := n.Attachments(func(id string) bool { return id == testNS+"."+p.id }); len(atts) != 0 {
		t.Errorf("the pod's CNI attachment is still cached: %+v", atts)
	}
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.Command("iptables-save", "-t", table).Output()
		if err != nil {
			t.Logf("iptables-save: %v (rules not checked)", err)
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, ip+"/32") || strings.Contains(line, ip+" ") || strings.Contains(line, "18080") {
				t.Errorf("iptables %s still mentions the pod: %s", table, line)
			}
		}
	}
}

// TestRepairDeletesDeadProcessesLeases: a lease that a process took for a
// container creation and left when it was killed, holding a snapshot no
// container records, goes at the next New with the snapshot; a live
// process's lease stays.
func TestRepairDeletesDeadProcessesLeases(t *testing.T) {
	rt := newRuntime(t)
	rt.Close()
	ctx := nsContext(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	self, err := owner.Self()
	if err != nil {
		t.Fatal(err)
	}
	const ownerLabel = "io.podkit.containerd.owner"
	sn := raw.SnapshotService(containerd.DefaultSnapshotter)
	take := func(mark, key string) leases.Lease {
		l, err := raw.LeasesService().Create(ctx, leases.WithRandomID(), leases.WithLabel(ownerLabel, mark))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sn.Prepare(leases.WithLease(ctx, l.ID), key, ""); err != nil {
			t.Fatal(err)
		}
		return l
	}
	deadKey, liveKey := "podkit-test-dead-"+randHex(4), "podkit-test-live-"+randHex(4)
	deadLease := take(fmt.Sprintf("%d 1", dead.Process.Pid), deadKey)
	liveLease := take(self, liveKey)
	t.Cleanup(func() {
		ctx := namespaces.WithNamespace(context.Background(), testNS)
		for _, l := range []leases.Lease{deadLease, liveLease} {
			_ = raw.LeasesService().Delete(ctx, l, leases.SynchronousDelete)
		}
	})

	newRuntime(t) // repairs
	if _, err := sn.Stat(ctx, deadKey); !errdefs.IsNotFound(err) {
		t.Errorf("the snapshot of a dead process's lease: Stat = %v, want not found", err)
	}
	if _, err := sn.Stat(ctx, liveKey); err != nil {
		t.Errorf("the snapshot of a live process's lease: %v", err)
	}
	ls, err := raw.LeasesService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	if slices.Contains(ids, deadLease.ID) || !slices.Contains(ids, liveLease.ID) {
		t.Errorf("leases after New %v; want the live one %s and not the dead one %s", ids, liveLease.ID, deadLease.ID)
	}
}
