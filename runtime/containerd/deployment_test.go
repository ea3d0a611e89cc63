package containerd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
	"github.com/podkit/podkit/runtime/docker"
)

// TestDeploymentOnContainerd: the whole orchestrator over two nodes backed
// by one containerd, each node's runtime in a namespace of its own (one
// Runtime per namespace) on the same pod network. Three replicas of the
// demo image, spread over both nodes, with an emptyDir and a ConfigMap
// volume, become Available and answer HTTP on their pod IPs; deleting the
// Deployment leaves in either namespace no container record, task or
// snapshot of them, and on the host no pinned network namespace, sandbox
// or pod directory, or IP allocation.
func TestDeploymentOnContainerd(t *testing.T) {
	suffix := randHex(3)
	nodes := []string{"ctrd-a-" + suffix, "ctrd-b-" + suffix}
	rts := map[string]*containerd.Runtime{nodes[0]: newRuntime(t), nodes[1]: newNamespace(t, testNS+"-b")}
	c := agenttest.NewCluster(t)
	for _, n := range nodes {
		c.AddNode(n, "2", rts[n])
	}

	d, _ := c.RunSpreadWithVolumes(t, "web-"+suffix, demo.Ref, 3, nodes)
	made := map[string]*nodeObjects{}
	for _, n := range nodes {
		made[n] = recordNode(t, rts[n], n)
		if left := made[n].left(t); len(left) != 4*len(made[n].sandboxes)+3*len(made[n].containers) {
			t.Fatalf("node %s while running: sandboxes %v, containers %v; found only %v", n, made[n].sandboxes, made[n].containers, left)
		}
	}

	c.DeleteAndWait(t, d, func() []string {
		var left []string
		for _, n := range nodes {
			left = append(left, made[n].left(t)...)
			left = append(left, c.PodDirs(n)...)
		}
		return left
	})
}

// newNamespace returns a runtime like newRuntime's in namespace ns, with the
// test images; when the test ends it removes what is left of ns's pods and
// then the namespace.
func newNamespace(t *testing.T, ns string) *containerd.Runtime {
	t.Helper()
	rt := newRuntime(t, containerd.WithNamespace(ns))
	t.Cleanup(func() { // before rt closes, after whatever ran pods on it
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sbs, err := rt.ListSandboxes(ctx, runtime.Filter{})
		if err != nil {
			t.Error(err)
		}
		for _, s := range sbs {
			if err := rt.RemoveSandbox(ctx, s.ID); err != nil {
				t.Errorf("remove sandbox %s of namespace %s: %v", s.ID, ns, err)
			}
		}
		if err := rt.RemoveNamespace(ctx); err != nil {
			t.Errorf("remove namespace %s: %v", ns, err)
		}
	})
	if err := testimage.Ensure(testContext(t), rt, demo); err != nil {
		t.Fatal(err)
	}
	return rt
}

// nodeObjects is what a node's runtime had of its pods while they ran.
type nodeObjects struct {
	ns         string
	sandboxes  []runtime.SandboxStatus
	containers []string
}

func recordNode(t *testing.T, rt *containerd.Runtime, node string) *nodeObjects {
	t.Helper()
	f := runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}}
	sbs, err := rt.ListSandboxes(testContext(t), f)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := rt.ListContainers(testContext(t), f)
	if err != nil {
		t.Fatal(err)
	}
	o := &nodeObjects{ns: rt.Namespace(), sandboxes: sbs}
	for _, c := range cs {
		o.containers = append(o.containers, c.ID)
	}
	return o
}

// left lists what is still there of o: per sandbox its record, its
// directory, its pinned network namespace and its IP allocation; per
// container its record, its task and its snapshot (so, while the pods run,
// four things per sandbox and three per container).
func (o *nodeObjects) left(t *testing.T) []string {
	t.Helper()
	ctx := namespaces.WithNamespace(testContext(t), o.ns)
	var out []string
	ids := map[string]bool{}
	for _, s := range o.sandboxes {
		ids[s.ID] = true
	}
	for _, id := range o.containers {
		ids[id] = true
	}
	recs, err := raw.ContainerService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if ids[r.ID] {
			out = append(out, "record "+r.ID)
		}
	}
	tasks, err := raw.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tasks.Tasks {
		if ids[p.ID] {
			out = append(out, "task "+p.ID)
		}
	}
	err = raw.SnapshotService(containerd.DefaultSnapshotter).Walk(ctx, func(_ context.Context, i snapshots.Info) error {
		if ids[i.Name] {
			out = append(out, "snapshot "+i.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pinned := nsfsMounts(t)
	allocs, err := testCNI(t).Allocations(func(id string) bool { return strings.HasPrefix(id, o.ns+".") })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range o.sandboxes {
		dir := filepath.Join(stateDir, o.ns, "sandboxes", s.ID)
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			out = append(out, "directory "+dir)
		}
		for _, m := range pinned {
			if strings.HasPrefix(m, dir+"/") {
				out = append(out, "network namespace pinned at "+m)
			}
		}
		for addr, id := range allocs {
			if id == o.ns+"."+s.ID || addr.String() == s.IP {
				out = append(out, "IP "+addr.String()+" allocated to "+id)
			}
		}
	}
	return out
}

// nsfsMounts returns the mount points of namespace files (pinned network
// namespaces among them).
func nsfsMounts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		// id parent major:minor root mount-point options [optional...] - fstype source super-options
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && strings.HasPrefix(post, "nsfs ") {
			out = append(out, f[4])
		}
	}
	return out
}

// TestDockerAndContainerdSideBySide: one Deployment served by a node backed
// by the Docker Engine and a node backed by containerd at once.
func TestDockerAndContainerdSideBySide(t *testing.T) {
	crt := newRuntime(t)
	ctx0, cancel0 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel0()
	drt, err := docker.New(ctx0, docker.WithNetwork("podkit-mixed-"+randHex(3)))
	if err != nil {
		if skipReason != "" {
			t.Skip(skipReason)
		}
		t.Fatalf("docker.New: %v (this test needs Docker as well as containerd)", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := drt.RemoveNetwork(ctx); err != nil {
			t.Errorf("remove docker network: %v", err)
		}
		drt.Close()
	})
	if err := testimage.Ensure(ctx0, drt, demo); err != nil {
		t.Fatal(err)
	}

	c := agenttest.NewCluster(t)
	suffix := randHex(3)
	dnode, cnode := "mixed-docker-"+suffix, "mixed-ctrd-"+suffix
	// One CPU each and 400m per pod: at most two pods fit a node, so four
	// replicas need both.
	c.AddNode(dnode, "1", drt)
	c.AddNode(cnode, "1", crt)

	d := agenttest.WebDeployment("mixed-"+suffix, demo.Ref, 4)
	d.Spec.Template.Spec.Containers[0].Resources.Requests = objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("400m")}
	if err := c.O.Apply(c.Ctx, d); err != nil {
		t.Fatal(err)
	}
	perNode := agenttest.PerNode(c.WaitAvailable(t, d))
	if perNode[dnode] != 2 || perNode[cnode] != 2 {
		t.Errorf("pods per node %v, want 2 on %s and 2 on %s", perNode, dnode, cnode)
	}
	c.DeleteAndWait(t, d, func() []string {
		var left []string
		for node, rt := range map[string]runtime.Runtime{dnode: drt, cnode: crt} {
			sbs, err := rt.ListSandboxes(c.Ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sbs {
				left = append(left, "sandbox "+node+"/"+s.ID)
			}
		}
		return left
	})
}
