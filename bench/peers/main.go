// Command peers runs podkit's scheduler benchmarks side by side with the
// benchmarks the peers ship for the same work, in one run on one machine:
//
//	go run ./bench/peers                      # all pairs, 3 rounds
//	go run ./bench/peers -only nomad -rounds 5
//
// The peers are built from their published modules, fetched through the
// Go module proxy into -dir (kept between runs, so only the first run
// builds them), and their own benchmarks are run unchanged:
//
//	swarmkit  github.com/moby/swarmkit/v2@v2.0.0, manager/scheduler's
//	          BenchmarkScheduler* (go test -c of the package)
//	nomad     github.com/hashicorp/nomad@v1.11.3, scheduler/benchmarks'
//	          BenchmarkServiceScheduler, built in the module's own tree; its
//	          api module, which the tree holds as a nested module, comes from
//	          the proxy at a pinned version
//	kube      k8s.io/kubernetes@v1.37.2, test/integration/scheduler_perf's
//	          BenchmarkPerfScheduling (kube-scheduler's scheduler_perf; its
//	          misc and affinity packages), built
//	          in the module's own tree with its staging modules from the proxy
//	          at v0.37.2
//
// kube-scheduler does not run without an API server: scheduler_perf starts
// kube-apiserver in its process, on an etcd, and creates the nodes and pods
// through it; the throughput it reports is pods bound per second while the
// measured pods are scheduled. This program starts that etcd itself (etcd
// from PATH, Debian package etcd-server, on loopback with a fresh data
// directory per run): scheduler_perf starts its own with a unix socket
// address, which Debian's etcd 3.4 does not take, so the tree is patched to
// use the one it is given (KUBE_INTEGRATION_ETCD_URL). That is the only
// change made to a peer.
//
// The pairs (podkit's benchmarks are in scheduler/bench_test.go):
//
//	podkit                                   peer
//	SchedulingBasic/events=on                kube SchedulingBasic/5000Nodes_10000Pods
//	SchedulingPodAntiAffinity                kube SchedulingPodAntiAffinity/5000Nodes_2000Pods
//	Constraints1kNodes10kPods                swarmkit SchedulerConstraints1kNodes10kTasks
//	Deployments5kNodes100kPods/events=on     swarmkit SchedulerConstraints5kNodes100kTasks
//	ServiceJob/nodes=5000/spread=on          nomad ServiceScheduler/5000 nodes 25 racks 1200 allocs spread
//	ServiceJob/nodes=5000/spread=off         nomad ServiceScheduler/5000 nodes 25 racks 1200 allocs no spread
//
// Each benchmark runs once per round (-test.benchtime 1x), podkit's and the
// peer's one after the other, in the same order every round. Each prints
// its own figure; SwarmKit's and Nomad's are the time one operation took,
// placing all tasks (allocations) of the benchmark, turned here into tasks
// per second.
// The table shows every round's figures and the ratio of the medians.
//
// # What each figure counts
//
// What each figure counts differs a little, against podkit where it does:
// podkit's clock runs from the scheduler's start, its first list and
// snapshot included, until the last binding has committed to the store;
// SwarmKit's and Nomad's time the scheduling of tasks already in their
// store, and Nomad's submits its plan to its state store too. kube-scheduler
// cannot run without an API server: scheduler_perf runs kube-apiserver in
// its process on an etcd (Debian's 3.4, started by bench/peers), and every
// pod's creation and binding is a request to it. In a CPU profile of one
// such run (-perf-cpuprofile; 1.65 of the 2 cores busy in that process, etcd
// beside it), kube-scheduler's scheduling and binding cycles are on the
// stack in 5% of the samples and its package as a whole (event handlers,
// cache, queue) in 25%, the API server's code in 20%, client-go's
// (informers, requests) in 26%, and the collector and allocator in 30%
// (SchedulingBasic). Its figure is the mean of the pods bound in each second
// while the measured pods are scheduled (its thresholds on Kubernetes' CI
// machines are 680 and 180 pods/s). podkit's runs stop only when every pod
// is bound; SchedulingPodAntiAffinity then checks that no node holds two of
// its pods, and ServiceJob that no node holds more than two and, with
// spread, that every rack holds 48.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	swarmKitVersion  = "v2.0.0"
	nomadVersion     = "v1.11.3"
	nomadAPIVersion  = "v0.0.0-20261016150620-df630b26e78a"
	kubeVersion      = "v1.37.2"
	kubeStageVersion = "v0.37.2"
)

// A pair is one of podkit's benchmarks and the peer's benchmark of the
// same work.
type pair struct {
	name   string
	peer   string // swarmkit, nomad or kube
	podkit string // -test.bench pattern of podkit's scheduler benchmark
	bench  string // -test.bench pattern of the peer's benchmark
	tasks  int    // tasks one operation of the peer's benchmark places (ns/op peers)
	pkg    string // kube: the scheduler_perf package holding the benchmark
}

var pairs = []pair{
	{"SchedulingBasic: 5,000 nodes, 1,000 + 10,000 pods", "kube",
		"^BenchmarkSchedulingBasic$/^events=on$", "^BenchmarkPerfScheduling$/^SchedulingBasic$/^5000Nodes_10000Pods$", 0, "misc"},
	{"5,000 nodes, 1,000 pods bound, then 2,000, all with required pod anti-affinity on the hostname", "kube",
		"^BenchmarkSchedulingPodAntiAffinity$", "^BenchmarkPerfScheduling$/^SchedulingPodAntiAffinity$/^5000Nodes_2000Pods$", 0, "affinity"},
	{"1,000 nodes, 10,000 lone pods, a label one node in three has", "swarmkit",
		"^BenchmarkConstraints1kNodes10kPods$", "^BenchmarkSchedulerConstraints1kNodes10kTasks$", 10000, ""},
	{"5,000 nodes, 100,000 pods of 10 Deployments", "swarmkit",
		"^BenchmarkDeployments5kNodes100kPods$/^events=on$", "^BenchmarkSchedulerConstraints5kNodes100kTasks$", 100000, ""},
	{"5,000 nodes in 25 racks, one job of 1,200, spread over racks", "nomad",
		"^BenchmarkServiceJob$/^nodes=5000$/^spread=on$", "^BenchmarkServiceScheduler$/^5000_nodes_25_racks_1200_allocs_spread$", 1200, ""},
	{"5,000 nodes in 25 racks, one job of 1,200", "nomad",
		"^BenchmarkServiceJob$/^nodes=5000$/^spread=off$", "^BenchmarkServiceScheduler$/^5000_nodes_25_racks_1200_allocs_no_spread$", 1200, ""},
}

func main() {
	var (
		dir    = flag.String("dir", filepath.Join(os.TempDir(), "podkit-peers"), "where the peers' sources and test binaries are kept")
		rounds = flag.Int("rounds", 3, "rounds")
		only   = flag.String("only", "swarmkit,nomad,kube", "the peers to run, comma-separated")
	)
	flag.Parse()
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir, *rounds, strings.Split(*only, ",")); err != nil {
		log.Fatalf("peers: %v", err)
	}
}

func run(ctx context.Context, dir string, rounds int, only []string) error {
	if rounds < 1 {
		return fmt.Errorf("-rounds %d: must be at least 1", rounds)
	}
	for _, p := range only {
		if !slices.Contains([]string{"swarmkit", "nomad", "kube"}, p) {
			return fmt.Errorf("-only: unknown peer %q (swarmkit, nomad, kube)", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := goOut(ctx, "", "env", "GOMOD")
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	if root == "" || root == os.DevNull {
		return errors.New("run it inside the podkit module (go run ./bench/peers)")
	}
	b := &builder{ctx: ctx, dir: dir}
	bins := map[string]string{"podkit": filepath.Join(dir, "podkit-scheduler.test")}
	log.Printf("building podkit's scheduler benchmarks")
	if err := b.goRun(filepath.Dir(root), "test", "-c", "-o", bins["podkit"], "./scheduler"); err != nil {
		return err
	}
	prepare := map[string]func() (string, error){"swarmkit": b.swarmKit, "nomad": b.nomad, "kube": b.kube}
	for _, p := range only {
		if bins[p], err = prepare[p](); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	var chosen []pair
	for _, p := range pairs {
		if slices.Contains(only, p.peer) {
			chosen = append(chosen, p)
		}
	}
	ours := make([][]float64, len(chosen))
	theirs := make([][]float64, len(chosen))
	for r := range rounds {
		for i, p := range chosen {
			v, err := podkitBench(ctx, bins["podkit"], p.podkit)
			if err != nil {
				return fmt.Errorf("podkit %s: %w", p.podkit, err)
			}
			ours[i] = append(ours[i], v)
			w, err := peerBench(ctx, bins[p.peer], p)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.peer, p.bench, err)
			}
			theirs[i] = append(theirs[i], w)
			log.Printf("round %d: %s: podkit %.0f pods/s, %s %.0f", r+1, p.name, v, p.peer, w)
		}
	}
	fmt.Println()
	fmt.Println("| work | podkit pods/s | peer | peer's figure | ratio of medians |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for i, p := range chosen {
		unit := map[string]string{"kube": "pods/s", "swarmkit": "tasks/s", "nomad": "allocs/s"}[p.peer]
		fmt.Printf("| %s | %s | %s `%s` | %s %s | %.1fx |\n", p.name, figures(ours[i]), p.peer, strings.ReplaceAll(strings.Trim(p.bench, "^$"), "$/^", "/"),
			figures(theirs[i]), unit, median(ours[i])/median(theirs[i]))
	}
	return nil
}

func figures(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(s, ", ")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var (
	podsPerSec = regexp.MustCompile(`([0-9.]+) pods/s`)
	nsPerOp    = regexp.MustCompile(`\s1\s+([0-9.]+) ns/op`) // the peers' logs may come between name and figure
	kubeAvg    = regexp.MustCompile(`"SchedulingThroughput" "Average" to be higher: got ([0-9.]+)`)
	kubeMetric = regexp.MustCompile(`([0-9.]+) SchedulingThroughput/Average`)
)

// podkitBench runs one of podkit's scheduler benchmarks once.
func podkitBench(ctx context.Context, bin, pattern string) (float64, error) {
	out, err := runBench(ctx, bin, filepath.Dir(bin), nil, pattern)
	if err != nil {
		return 0, fmt.Errorf("%w:\n%s", err, tail(out))
	}
	return parsePodkit(out)
}

// parsePodkit reads the pods/s figure of a podkit scheduler benchmark.
func parsePodkit(out string) (float64, error) {
	m := podsPerSec.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no pods/s in its output:\n%s", tail(out))
	}
	return strconv.ParseFloat(m[1], 64)
}

// peerBench runs the peer's benchmark of p once and returns tasks (or
// pods) per second.
func peerBench(ctx context.Context, bin string, p pair) (float64, error) {
	if p.peer == "kube" {
		return kubeBench(ctx, bin, p.pkg, p.bench)
	}
	// Nomad's benchmarks read their test data relative to the package.
	dir := filepath.Dir(bin)
	if p.peer == "nomad" {
		dir = filepath.Join(dir, "nomad", "scheduler", "benchmarks")
	}
	out, err := runBench(ctx, bin, dir, nil, p.bench)
	if err != nil {
		return 0, fmt.Errorf("%w:\n%s", err, tail(out))
	}
	return parsePerOp(out, p.tasks)
}

// parsePerOp reads the ns/op figure of one operation placing tasks, and
// returns tasks per second.
func parsePerOp(out string, tasks int) (float64, error) {
	m := nsPerOp.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no ns/op in its output:\n%s", tail(out))
	}
	ns, err := strconv.ParseFloat(m[1], 64)
	if err != nil || ns <= 0 {
		return 0, fmt.Errorf("ns/op %q: not a duration", m[1])
	}
	return float64(tasks) / (ns / 1e9), nil
}

// kubeBench runs scheduler_perf's package pkg, built in dir, on an etcd of
// its own and returns the SchedulingThroughput average. scheduler_perf
// fails a workload whose throughput is under its threshold (set for
// Kubernetes' CI machines) and then reports the figure only in the
// failure, which is read here too.
func kubeBench(ctx context.Context, dir, pkg, pattern string) (float64, error) {
	url, stop, err := startEtcd(ctx)
	if err != nil {
		return 0, err
	}
	defer stop()
	// scheduler_perf writes its log to ARTIFACTS.
	artifacts := filepath.Join(dir, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return 0, err
	}
	env := []string{"KUBE_INTEGRATION_ETCD_URL=" + url, "KUBE_CACHE_MUTATION_DETECTOR=false", "ARTIFACTS=" + artifacts}
	out, err := runBench(ctx, kubeBin(dir, pkg), filepath.Join(dir, "kubernetes", "test", "integration", "scheduler_perf", pkg),
		env, pattern, "-test.short=false", "-test.timeout=1h")
	return parseKube(out, err)
}

// parseKube reads scheduler_perf's SchedulingThroughput average from its
// output: the benchmark's metric, or the threshold failure's figure (err
// is then the failed run's, and ignored).
func parseKube(out string, err error) (float64, error) {
	if m := kubeMetric.FindStringSubmatch(out); m != nil {
		return strconv.ParseFloat(m[1], 64)
	}
	if m := kubeAvg.FindStringSubmatch(out); m != nil {
		return strconv.ParseFloat(m[1], 64)
	}
	if err == nil {
		err = errors.New("no SchedulingThroughput in its output")
	}
	return 0, fmt.Errorf("%w:\n%s", err, tail(out))
}

func runBench(ctx context.Context, bin, dir string, env []string, pattern string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-test.run", "^$", "-test.bench", pattern, "-test.benchtime", "1x"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// startEtcd starts etcd from PATH on loopback ports the kernel picks, with
// a fresh data directory, and waits until it answers.
func startEtcd(ctx context.Context) (string, func(), error) {
	path, err := exec.LookPath("etcd")
	if err != nil {
		return "", nil, fmt.Errorf("kube-scheduler's benchmark needs etcd (Debian package etcd-server): %w", err)
	}
	data, err := os.MkdirTemp("", "podkit-peers-etcd-")
	if err != nil {
		return "", nil, err
	}
	client, peer, err := freePorts()
	if err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", client)
	cmd := exec.CommandContext(ctx, path, "--data-dir", data, "--listen-client-urls", url, "--advertise-client-urls", url,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer), "--quota-backend-bytes", strconv.Itoa(8<<30), "--log-level", "warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		os.RemoveAll(data)
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(data)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second)
		if err == nil {
			c.Close()
			return url, stop, nil
		}
		select {
		case <-exited:
			os.RemoveAll(data)
			return "", nil, fmt.Errorf("etcd exited: %s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("etcd did not answer on %s within 30s", url)
		}
	}
}

func freePorts() (int, int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

// builder fetches and builds the peers under dir.
type builder struct {
	ctx context.Context
	dir string
}

func (b *builder) goRun(dir string, args ...string) error {
	return b.goEnv(dir, nil, args...)
}

func (b *builder) goEnv(dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(b.ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), dir, err, tail(string(out)))
	}
	return nil
}

func goOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// module downloads mod@version through the module proxy and copies its
// tree to dst, writable, unless dst exists.
func (b *builder) module(mod, version, dst string) error {
	if exists(dst) {
		return nil
	}
	out, err := goOut(b.ctx, b.dir, "mod", "download", "-json", mod+"@"+version)
	if err != nil {
		return fmt.Errorf("go mod download %s@%s: %w", mod, version, err)
	}
	var dl struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(out), &dl); err != nil || dl.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: no directory in %s %s", mod, version, out, dl.Error)
	}
	tmp := dst + ".partial"
	os.RemoveAll(tmp)
	// CopyFS makes the copies writable, unlike the module cache's.
	if err := os.CopyFS(tmp, os.DirFS(dl.Dir)); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (b *builder) swarmKit() (string, error) {
	bin := filepath.Join(b.dir, "swarmkit-scheduler.test")
	if exists(bin) {
		return bin, nil
	}
	log.Printf("building SwarmKit %s's scheduler benchmarks", swarmKitVersion)
	mod := filepath.Join(b.dir, "swarmkit")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return "", err
	}
	if !exists(filepath.Join(mod, "go.mod")) {
		if err := b.goRun(mod, "mod", "init", "peers/swarmkit"); err != nil {
			return "", err
		}
	}
	if err := b.goRun(mod, "get", "github.com/moby/swarmkit/v2@"+swarmKitVersion); err != nil {
		return "", err
	}
	return bin, b.goEnv(mod, []string{"GOFLAGS=-mod=mod"}, "test", "-c", "-o", bin, "github.com/moby/swarmkit/v2/manager/scheduler")
}

func (b *builder) nomad() (string, error) {
	bin := filepath.Join(b.dir, "nomad-scheduler.test")
	if exists(bin) {
		return bin, nil
	}
	log.Printf("building Nomad %s's scheduler benchmarks (a few minutes)", nomadVersion)
	tree := filepath.Join(b.dir, "nomad")
	if err := b.module("github.com/hashicorp/nomad", nomadVersion, tree); err != nil {
		return "", err
	}
	// The tree builds its api module from ./api, a nested module that its
	// module zip leaves out: take it from the proxy instead.
	if err := b.goRun(tree, "mod", "edit", "-dropreplace", "github.com/hashicorp/nomad/api",
		"-require", "github.com/hashicorp/nomad/api@"+nomadAPIVersion); err != nil {
		return "", err
	}
	return bin, b.goEnv(tree, []string{"GOFLAGS=-mod=mod", "GOWORK=off"}, "test", "-c", "-o", bin, "./scheduler/benchmarks")
}

// kubePkgs are the scheduler_perf packages the pairs use.
var kubePkgs = []string{"misc", "affinity"}

func kubeBin(dir, pkg string) string {
	return filepath.Join(dir, "kube-scheduler-perf-"+pkg+".test")
}

// kube builds scheduler_perf's packages and returns the directory that
// holds their test binaries and the tree.
func (b *builder) kube() (string, error) {
	if !slices.ContainsFunc(kubePkgs, func(p string) bool { return !exists(kubeBin(b.dir, p)) }) {
		return b.dir, nil
	}
	log.Printf("building kube-scheduler %s's scheduler_perf (about ten minutes)", kubeVersion)
	tree := filepath.Join(b.dir, "kubernetes")
	if err := b.module("k8s.io/kubernetes", kubeVersion, tree); err != nil {
		return "", err
	}
	// The staging modules are nested modules too, which the tree's go.mod
	// and go.work point at: fill them in from the proxy, and drop the
	// samples the proxy does not hold, which nothing here needs.
	gomod, err := os.ReadFile(filepath.Join(tree, "go.mod"))
	if err != nil {
		return "", err
	}
	staged := regexp.MustCompile(`(?m)^\s*(k8s\.io/\S+) => \./staging/src/(\S+)$`).FindAllStringSubmatch(string(gomod), -1)
	var drop []string
	for _, s := range staged {
		err := b.module(s[1], kubeStageVersion, filepath.Join(tree, "staging", "src", s[2]))
		switch {
		case err != nil && strings.HasPrefix(s[1], "k8s.io/sample-"):
			drop = append(drop, s[1])
		case err != nil:
			return "", err
		}
	}
	for _, d := range drop {
		if err := b.goRun(tree, "mod", "edit", "-dropreplace", d); err != nil {
			return "", err
		}
		work := filepath.Join(tree, "go.work")
		old, err := os.ReadFile(work)
		if err != nil {
			return "", err
		}
		trimmed := regexp.MustCompile(`(?m)^.*staging/src/`+regexp.QuoteMeta(d)+`\s*\n`).ReplaceAll(old, nil)
		if err := os.WriteFile(work, trimmed, 0o644); err != nil {
			return "", err
		}
	}
	// Use the etcd this program starts (see the package documentation).
	perf := filepath.Join(tree, "test", "integration", "scheduler_perf", "scheduler_perf.go")
	if err := replaceOnce(perf, "framework.StartEtcd(logger, t, true)", "framework.StartEtcd(logger, t, false)"); err != nil {
		return "", err
	}
	for _, p := range kubePkgs {
		if err := b.goRun(tree, "test", "-c", "-o", kubeBin(b.dir, p), "./test/integration/scheduler_perf/"+p); err != nil {
			return "", err
		}
	}
	return b.dir, nil
}

// replaceOnce replaces old with new in the file at path, unless new is
// there already.
func replaceOnce(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	switch {
	case strings.Contains(s, new):
		return nil
	case !strings.Contains(s, old):
		return fmt.Errorf("%s: %q is not there", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(s, old, new, 1)), 0o644)
}
