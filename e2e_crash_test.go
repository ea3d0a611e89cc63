package podkit_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// crashChildEnv, set to "RUNTIME PID SEQ", makes TestE2EProcessCrash the
// process that is killed: it runs the cluster isolated(RUNTIME, nftables,
// PID, SEQ) with a Deployment and a Service, and prints crashReady and
// its pods' uids once they are available.
const (
	crashChildEnv = "PODKIT_E2E_CRASH_CHILD"
	crashReady    = "podkit-crash-child: ready"
)

// A process running an orchestrator on a real runtime is killed, its pods
// running. A new process, with a new in-memory store, runs the same nodes
// and applies the same objects: its node agents remove the dead process's
// containers, which no pod of its store owns, and its pods run, one
// sandbox and one container each, with nothing left over and nothing
// twice; the Service answers from them, through the nftables table the
// dead process left, now replaced.
func TestE2EProcessCrash(t *testing.T) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		crashChild(t, spec)
		return
	}
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) {
			cluster.Require(t, rt)
			pid, seq := os.Getpid(), clusterSeq.Add(1)
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestE2EProcessCrash$", "-test.timeout=4m")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", crashChildEnv, rt, pid, seq))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			var old []string
			sc := bufio.NewScanner(stdout)
			for old == nil && sc.Scan() {
				if rest, ok := strings.CutPrefix(sc.Text(), crashReady); ok {
					old = strings.Fields(rest)
				}
			}
			if old == nil {
				_ = cmd.Wait()
				t.Fatalf("the process to kill ended before its pods were available; its output:\n%s", stderr.String())
			}
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()

			c := startCluster(t, isolated(rt, network.DataPlaneNFTables, pid, seq, cluster.Options{}))
			apply(t, ctx, c, fmt.Sprintf(deployment, "web", c.DemoImage, 2, "ClusterIP", 80))
			require.NoError(t, c.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}, podkit.Available))
			var uids []string
			for _, p := range podsOf(t, ctx, c, "web") {
				uids = append(uids, string(p.UID))
			}
			waitFor(t, ctx, "the runtime holding the new pods only, each once", func() (bool, string) {
				held, err := runtimeHeld(ctx, c)
				if err != nil {
					return false, err.Error()
				}
				ok := len(held) == len(uids)
				for _, uid := range uids {
					ok = ok && slices.Equal(held[uid], []string{"container web running", "sandbox ready"})
				}
				return ok, fmt.Sprintf("new pods %v, dead process's pods %v; the runtime holds %v", uids, old, held)
			})

			svc := &objects.Service{}
			require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "web"}, svc))
			url := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(80)) + "/"
			want := map[string]bool{}
			for _, p := range podsOf(t, ctx, c, "web") {
				want[p.Name] = true
			}
			waitHello(t, ctx, client(), url, "", func(pod string) bool { return want[pod] })
		})
	}
}

// runtimeHeld lists, by pod uid, the sandboxes and containers the runtime
// holds on the cluster's nodes, as "sandbox STATE" and "container NAME
// STATE", sorted.
func runtimeHeld(ctx context.Context, c *cluster.Cluster) (map[string][]string, error) {
	held := map[string][]string{}
	for _, node := range c.Nodes {
		f := runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}}
		sbs, err := c.Runtime.ListSandboxes(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, sb := range sbs {
			uid := sb.Labels[runtime.LabelPodUID]
			held[uid] = append(held[uid], "sandbox "+strings.ToLower(string(sb.State)))
		}
		ctrs, err := c.Runtime.ListContainers(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, ct := range ctrs {
			uid := ct.Labels[runtime.LabelPodUID]
			held[uid] = append(held[uid], "container "+ct.Labels[runtime.LabelContainerName]+" "+strings.ToLower(string(ct.State)))
		}
	}
	for _, h := range held {
		slices.Sort(h)
	}
	return held, nil
}

// crashChild is the process TestE2EProcessCrash kills.
func crashChild(t *testing.T, spec string) {
	var (
		rt  string
		pid int
		seq int32
	)
	_, err := fmt.Sscan(spec, &rt, &pid, &seq)
	require.NoError(t, err, "%s=%q", crashChildEnv, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Never stopped: the test kills this process.
	c, err := cluster.Start(ctx, isolated(rt, network.DataPlaneNFTables, pid, seq, cluster.Options{}))
	require.NoError(t, err)
	objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(deployment, "web", c.DemoImage, 2, "ClusterIP", 80)))
	require.NoError(t, err)
	require.NoError(t, c.Apply(ctx, objs...))
	require.NoError(t, c.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}, podkit.Available))
	var uids []string
	for _, p := range podsOf(t, ctx, c, "web") {
		uids = append(uids, string(p.UID))
	}
	fmt.Println(crashReady, strings.Join(uids, " "))
	<-ctx.Done()
	t.Fatal("not killed within 3 minutes")
}
