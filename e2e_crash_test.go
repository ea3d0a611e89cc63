package podkit_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/internal/etcdtest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/bolt"
	"github.com/podkit/podkit/store/etcd"
)

// crashChildEnv, set to "RUNTIME DATAPLANE PID SEQ REPLICAS WHEN STORE",
// makes TestE2EProcessCrash the process that is killed: it runs the
// cluster isolated(RUNTIME, DATAPLANE, PID, SEQ) with a Deployment of
// REPLICAS and a Service, and prints crashReady, its pods' uids, "/" and
// the ids of the containers the runtime holds for them once they are
// available (WHEN "available") or once the runtime holds a first sandbox
// (WHEN "starting"). STORE is "-" for the in-memory store, "bolt=PATH"
// for a store/bolt file, "etcd=ENDPOINT,PREFIX" for store/etcd.
const (
	crashChildEnv = "PODKIT_E2E_CRASH_CHILD"
	crashReady    = "podkit-crash-child: ready"
)

// A process running an orchestrator on a real runtime is killed, its pods
// running. A new process, with a new in-memory store, runs the same nodes
// and applies the same objects: its node agents remove the dead process's
// containers, which no pod of its store owns, and its pods run, one
// sandbox and one container each, with nothing left over and nothing
// twice; the Service answers from them, through what the dead process's
// data plane left (an nftables table, a dummy interface with cluster IPs),
// now taken over, and gone when the new process stops. The same holds
// when the process is killed while its pods are being started.
//
// With a durable store (store/bolt, store/etcd) the new process applies
// nothing: it opens the dead process's store (on etcd, once the dead
// process's lock has expired) and finds its objects there, and its node
// agents adopt the dead process's sandboxes and containers rather than
// make new ones, as a restarted kubelet does. The pods keep their uids and
// containers, and the Service answers from them; pods the dead process was
// still starting are started once each (a container whose start the kill
// cut short is left exited, as a kubelet's would be).
func TestE2EProcessCrash(t *testing.T) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		crashChild(t, spec)
		return
	}
	for _, rt := range realRuntimes {
		for _, dp := range dataPlanes {
			t.Run(rt+"/"+string(dp), func(t *testing.T) { processCrash(t, rt, dp, 2, "available", "") })
		}
		t.Run(rt+"/starting", func(t *testing.T) { processCrash(t, rt, network.DataPlaneNFTables, 6, "starting", "") })
		t.Run(rt+"/durable", func(t *testing.T) { processCrash(t, rt, network.DataPlaneNFTables, 2, "available", "bolt") })
		t.Run(rt+"/durable-starting", func(t *testing.T) { processCrash(t, rt, network.DataPlaneNFTables, 6, "starting", "bolt") })
		t.Run(rt+"/etcd", func(t *testing.T) { processCrash(t, rt, network.DataPlaneNFTables, 2, "available", "etcd") })
	}
}

// processCrash runs TestE2EProcessCrash on runtime rt with data plane dp,
// the process killed when its Deployment of replicas is at when; with a
// durable store ("bolt" or "etcd"; "" for memory) both processes run on
// it.
func processCrash(t *testing.T, rt string, dp network.DataPlaneMode, replicas int, when, durableStore string) {
	cluster.Require(t, rt)
	pid, seq := os.Getpid(), clusterSeq.Add(1)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	durable := durableStore != ""
	path := "-"
	switch durableStore {
	case "bolt":
		path = "bolt=" + filepath.Join(t.TempDir(), "podkit.db")
	case "etcd":
		path = "etcd=" + etcdtest.New(t).Endpoint + ",/podkit/"
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestE2EProcessCrash$", "-test.timeout=4m")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d %d %s %s", crashChildEnv, rt, dp, pid, seq, replicas, when, path))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var old, oldContainers []string
	sc := bufio.NewScanner(stdout)
	for old == nil && sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), crashReady); ok {
			uids, ids, _ := strings.Cut(rest, "/")
			old, oldContainers = strings.Fields(uids), strings.Fields(ids)
		}
	}
	if old == nil {
		_ = cmd.Wait()
		t.Fatalf("the process to kill ended before its pods were available; its output:\n%s", stderr.String())
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	killed := time.Now()

	t.Cleanup(func() { checkDataPlaneGone(t, pid, seq) }) // after the cluster stops
	o := cluster.Options{}
	if durable {
		s, err := openStore(ctx, path)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		o.Orchestrator = []podkit.Option{podkit.WithStore(s)}
	}
	c := startCluster(t, isolated(rt, dp, pid, seq, o))
	objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(deployment, "web", c.DemoImage, replicas, "ClusterIP", 80)))
	require.NoError(t, err)
	if !durable { // else the objects are in the dead process's file
		require.NoError(t, c.Apply(ctx, objs...))
	}
	deleteAtEnd(t, c, objs)
	require.NoError(t, c.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}, podkit.Available))
	var uids []string
	for _, p := range podsOf(t, ctx, c, "web") {
		uids = append(uids, string(p.UID))
	}
	if durable {
		slices.Sort(uids)
		slices.Sort(old)
		require.Equal(t, old, uids, "the pods of the dead process's store")
	}
	waitFor(t, ctx, "the runtime holding the pods of the store only, each once", func() (bool, string) {
		held, err := runtimeHeld(ctx, c, killed)
		if err != nil {
			return false, err.Error()
		}
		ok := len(held) == len(uids)
		for _, uid := range uids {
			h := held[uid]
			if durable && when == "starting" {
				// A start the kill cut short leaves its container exited,
				// as a kubelet's would be: the pod runs the next attempt,
				// once.
				h = slices.DeleteFunc(slices.Clone(h), func(s string) bool { return s == "container web cut short by the kill" })
			}
			ok = ok && slices.Equal(h, []string{"container web running", "sandbox ready"})
		}
		return ok, fmt.Sprintf("new pods %v, dead process's pods %v; the runtime holds %v", uids, old, held)
	})
	if durable && when == "available" {
		ids, err := runtimeContainers(ctx, c)
		require.NoError(t, err)
		require.Equal(t, oldContainers, ids, "the containers, adopted rather than made again")
	}

	svc := &objects.Service{}
	require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "web"}, svc))
	url := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(80)) + "/"
	want := map[string]bool{}
	for _, p := range podsOf(t, ctx, c, "web") {
		want[p.Name] = true
	}
	waitHello(t, ctx, client(), url, "", func(pod string) bool { return want[pod] })
}

// runtimeHeld lists, by pod uid, the sandboxes and containers the runtime
// holds on the cluster's nodes, as "sandbox STATE" and "container NAME
// STATE", sorted; an exited container made before killed (when not zero)
// is "container NAME cut short by the kill".
func runtimeHeld(ctx context.Context, c *cluster.Cluster, killed time.Time) (map[string][]string, error) {
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
			state := strings.ToLower(string(ct.State))
			if ct.State == runtime.ContainerExited && !killed.IsZero() && ct.CreatedAt.Before(killed) {
				state = "cut short by the kill"
			}
			held[uid] = append(held[uid], "container "+ct.Labels[runtime.LabelContainerName]+" "+state)
		}
	}
	for _, h := range held {
		slices.Sort(h)
	}
	return held, nil
}

// runtimeContainers lists the ids of the containers the runtime holds on
// the cluster's nodes, sorted.
func runtimeContainers(ctx context.Context, c *cluster.Cluster) ([]string, error) {
	var ids []string
	for _, node := range c.Nodes {
		ctrs, err := c.Runtime.ListContainers(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
		if err != nil {
			return nil, err
		}
		for _, ct := range ctrs {
			ids = append(ids, ct.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// openStore opens the durable store spec names: "bolt=PATH" or
// "etcd=ENDPOINT,PREFIX". An etcd store's lock lives 2 s after its holder
// is killed, and Open waits for it.
func openStore(ctx context.Context, spec string) (store.Store, error) {
	kind, arg, _ := strings.Cut(spec, "=")
	switch kind {
	case "bolt":
		return bolt.Open(arg)
	case "etcd":
		endpoint, prefix, _ := strings.Cut(arg, ",")
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return nil, err
		}
		s, err := etcd.Open(ctx, cli, etcd.Config{Prefix: prefix, LockTTL: 2 * time.Second})
		if err != nil {
			cli.Close()
			return nil, err
		}
		return closing{s, cli}, nil
	}
	return nil, fmt.Errorf("store %q: not bolt=PATH or etcd=ENDPOINT,PREFIX", spec)
}

// closing is a store that closes its etcd client after itself.
type closing struct {
	*etcd.Store
	cli *clientv3.Client
}

func (c closing) Close() error { return errors.Join(c.Store.Close(), c.cli.Close()) }

// crashChild is the process TestE2EProcessCrash kills.
func crashChild(t *testing.T, spec string) {
	var (
		rt, dp, when, path string
		pid, replicas      int
		seq                int32
	)
	_, err := fmt.Sscan(spec, &rt, &dp, &pid, &seq, &replicas, &when, &path)
	require.NoError(t, err, "%s=%q", crashChildEnv, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := cluster.Options{}
	if path != "-" {
		s, err := openStore(ctx, path) // never closed: the test kills this process
		require.NoError(t, err)
		o.Orchestrator = []podkit.Option{podkit.WithStore(s)}
	}
	// Never stopped: the test kills this process.
	c, err := cluster.Start(ctx, isolated(rt, network.DataPlaneMode(dp), pid, seq, o))
	require.NoError(t, err)
	objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(deployment, "web", c.DemoImage, replicas, "ClusterIP", 80)))
	require.NoError(t, err)
	require.NoError(t, c.Apply(ctx, objs...))
	if when == "starting" {
		waitFor(t, ctx, "a first sandbox", func() (bool, string) {
			held, err := runtimeHeld(ctx, c, time.Time{})
			return err == nil && len(held) > 0, fmt.Sprintf("%v %v", held, err)
		})
	} else {
		require.NoError(t, c.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}, podkit.Available))
	}
	var uids []string
	for _, p := range podsOf(t, ctx, c, "web") {
		uids = append(uids, string(p.UID))
	}
	ids, err := runtimeContainers(ctx, c)
	require.NoError(t, err)
	fmt.Println(crashReady, strings.Join(uids, " "), "/", strings.Join(ids, " "))
	<-ctx.Done()
	t.Fatal("not killed within 3 minutes")
}

// checkDataPlaneGone checks that neither the nftables table nor the dummy
// interface of isolated's cluster is left, nor any address of its service
// CIDR on any interface.
func checkDataPlaneGone(t *testing.T, pid int, seq int32) {
	cidr, table, ifname := dataPlaneNames(pid, seq)
	if _, err := netlink.LinkByName(ifname); err == nil {
		t.Errorf("interface %s left after the cluster stopped", ifname)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	require.NoError(t, err)
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && cidr.Contains(ip.Unmap()) {
			t.Errorf("cluster IP %s left on interface %d after the cluster stopped", ip, a.LinkIndex)
		}
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if tb, err := c.ListTableOfFamily(table, nftables.TableFamilyIPv4); err == nil && tb != nil {
		t.Errorf("nftables table %s left after the cluster stopped", table)
	}
}
