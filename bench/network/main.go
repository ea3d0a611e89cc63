// Command network benchmarks HTTP through podkit's service networking
// against the pod directly, in one run on one machine:
//
//	go run ./bench/network    # docker, 1 pod, wrk -t1 -c64 -d5s --latency, 1000 req/s, 3 rounds
//	go run ./bench/network -runtime containerd -replicas 2 -c 128 -d 10s -rate 2000 -rounds 5
//
// It starts an orchestrator on the chosen runtime with the nftables data
// plane and the Ingress controller, and applies a Deployment of the demo
// image (-replicas pods), a NodePort Service selecting it and an Ingress
// routing / to that Service. A second orchestrator runs the userspace data
// plane: its Service has no selector and its Endpoints name the first
// orchestrator's pods, so both data planes forward to the same containers,
// and it runs no pods of its own (fake runtime). Each orchestrator has a
// service CIDR, node port range and nftables table of its own, and no
// cluster DNS, so the two (and other podkit processes) do not collide.
//
// The targets, all plain HTTP GET / answered by the demo program:
//
//	direct                  the first pod's IP, port 8080
//	clusterip/nftables      the Service's cluster IP, kernel DNAT
//	nodeport/nftables       the host address on the pods' bridge, the node port
//	clusterip/userspace     the second orchestrator's cluster IP, relayed by the process
//	nodeport/userspace      the same for its node port
//	ingress                 the Ingress controller's HTTP address (loopback)
//	peer/docker-proxy       Docker's userland proxy to the first pod, where installed
//	peer/nginx              nginx proxying to the pods as ingress-nginx does, where installed
//
// The peers (peers.go; -peers=false leaves them out) are well-known
// programs doing the proxies' jobs, measured the same way, so that the
// ratios can be read against what they reach on the same machine.
//
// Every target gets the same two loads, each for -d with -c connections:
//
//   - throughput: wrk from PATH (Debian package wrk), -t threads, as fast
//     as answers come (a closed loop); when wrk is missing, the built-in
//     Go load generator in a child process, same loop, GOMAXPROCS equal to
//     -t. Latency at this load is mostly queueing: with -c requests always
//     outstanding, a target with fewer requests/s has a longer queue.
//   - latency: the built-in generator at a fixed -rate requests/s, far
//     below any target's maximum, each latency counted from when its
//     request was due (Debian's wrk cannot pace; wrk2 would do the same).
//     The p99 the proxies add is measured here.
//
// The default -c 64 keeps the CPUs busy on every path, so that requests/s
// is what each path can carry. A proxied request takes longer to come
// back than a direct one, so the same number of connections has fewer
// requests at work: with -c 32 the machine sat idle 9% of the time while
// the Ingress was measured (4% with 64, 6% on the direct path with
// either), and the proxied paths' ratios came out 0.01 to 0.05 lower. The
// direct path carries as much with 32, 64 or 128 connections.
//
// The program says which generator runs and prints the exact commands.
// The load generator, the proxies (in this process) and the pods share the
// machine's CPUs, as they would on a node.
//
// Throughput on a shared machine drifts, so in both phases the direct
// target is measured between every two others (D T1 D T2 ... D) in each
// of -rounds rounds, in a different order each round; a target's ratio is
// its requests/s over the mean of the two direct runs around it, and its
// added p99 is its p99 minus theirs. The table shows the medians over the
// rounds and the verdict against the bars: requests/s at least 0.95 of
// direct for the kernel data plane, 0.7 for the userspace one, 0.5 for
// the Ingress, and added p99 at most 1 ms. Beside the median ratio, the
// lowest and highest of the rounds' ratios: on a shared two-core machine
// one round's ratio on the kernel data plane has been seen anywhere from
// 0.87 to 1.10, so a median near a bar says little without them and a
// few more -rounds. Its "proxy CPU/req" column is
// the CPU time this process (the userspace proxy and the Ingress
// controller; the rest is idle) spent per request in the throughput runs:
// the cost of the proxy itself, which, unlike throughput, hardly depends
// on what else the machine runs. With -replicas above 1, direct still
// targets one pod while the proxies spread the load over all of them.
//
// Everything created is deleted and both orchestrators are stopped at the
// end, also on Ctrl-C. -cpuprofile writes a CPU profile of this process
// (the userspace proxy and the Ingress controller) during the rounds.
//
// # What bounds the userspace proxy and the Ingress (2026-11-23)
//
// On two cores the load generator, the pod and the proxy share the CPU, so a
// proxy's ratio is the direct path's CPU per request over the direct path's
// plus its own. The userspace proxy's time is almost all in the four system
// calls a relayed request and answer take (network/proxy
// BenchmarkUserspaceHTTP); the Ingress parses and writes with fasthttp, one
// allocation a request (network/ingress BenchmarkProxy). Counted during a
// run (perf stat on the system calls), the userspace proxy makes 2.0 reads
// and 2.0 writes a request, the Ingress 3.0 reads (one finds nothing: the
// wait for the client's next request) and 2.0 writes. Waiting costs the
// userspace proxy 0.5 calls to epoll_pwait and 0.15 to futex a request, the
// Ingress 0.3 and 0.13 (2026-11-23). In the Ingress's CPU profile a write
// costs about 6 µs and a read under 1 µs: on loopback and veth a write
// carries the receiving socket's TCP work and the wakeup of its reader.
// Handing the bytes from one socket to the other in the kernel instead (a
// BPF sockmap, in a trial) took the proxy's own CPU to nothing and left the
// ratio where it was, 0.58: the kernel's worker threads made the same sends.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/nft"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// The bars of the benchmark.
const (
	kernelBar    = 0.95
	userspaceBar = 0.7
	ingressBar   = 0.5
	addedP99Bar  = time.Millisecond
)

type options struct {
	runtime    string
	replicas   int
	threads    int
	conns      int
	duration   time.Duration
	rounds     int
	rate       int
	loadgen    string
	only       string
	cpuprofile string
	verbose    bool
	peers      bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == loadFlag {
		if err := loadMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.runtime, "runtime", cluster.Docker, "container runtime of the pods: docker or containerd")
	flag.IntVar(&o.replicas, "replicas", 1, "pods behind the Service (direct targets the first)")
	flag.IntVar(&o.threads, "t", 1, "load generator threads (wrk -t)")
	flag.IntVar(&o.conns, "c", 64, "connections (wrk -c)")
	flag.DurationVar(&o.duration, "d", 5*time.Second, "duration of each run (wrk -d, whole seconds)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; the table shows medians")
	flag.IntVar(&o.rate, "rate", 1000, "requests/s of the latency runs (0: none, added p99 from the throughput runs)")
	flag.StringVar(&o.loadgen, "loadgen", "auto", "load generator: wrk, go, or auto (wrk when on PATH)")
	flag.StringVar(&o.only, "only", "", "comma-separated targets to measure besides direct (default all)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process during the rounds")
	flag.BoolVar(&o.verbose, "v", false, "log the orchestrators")
	flag.BoolVar(&o.peers, "peers", true, "also measure docker-proxy and nginx where installed (see peers.go)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/network:", err)
		os.Exit(1)
	}
}

// benchTablePrefix and the process's pid name the nftables table of a
// run (removeStaleTables).
const benchTablePrefix = "podkit-bench-"

// benchTable names the nftables table of the run whose process is pid.
func benchTable(pid int) string { return benchTablePrefix + strconv.Itoa(pid) }

// target is one address the load is sent to.
type target struct {
	name string
	url  string
	bar  float64 // minimum ratio to direct; 0 for direct and the peers
	peer bool
	cpu  func() time.Duration // CPU time of what serves it; nil: this process
}

func (t target) cpuTime() time.Duration {
	if t.cpu != nil {
		return t.cpu()
	}
	return processCPU()
}

func run(ctx context.Context, o options) error {
	if o.runtime == cluster.Fake {
		return errors.New("-runtime fake runs no pods to send traffic to: use docker or containerd")
	}
	lg, err := newLoader(o)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var paced loader
	if o.rate > 0 {
		paced = goLoader{exe: exe, threads: o.threads, conns: o.conns, d: o.duration, rate: o.rate}
	}
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	pid := os.Getpid()
	nftErr := nft.Available()

	// The first orchestrator: pods, the nftables data plane, the Ingress.
	netA := []network.Option{network.WithoutDNS(), network.WithServiceCIDR("10.234.0.0/24"),
		network.WithNodePortRange("30400-30449")}
	if nftErr == nil {
		if err := removeStaleTables(); err != nil {
			return fmt.Errorf("removing the tables of earlier runs: %w", err)
		}
		netA = append(netA, network.WithDataPlane(network.DataPlaneNFTables),
			network.WithNFTablesTable(benchTable(pid)))
	} else {
		fmt.Printf("note: no nftables data plane (%v); its targets are skipped\n", nftErr)
		netA = append(netA, network.WithDataPlane(network.DataPlaneNone))
	}
	fmt.Printf("starting an orchestrator on %s with %d demo pod(s)...\n", o.runtime, o.replicas)
	a, err := cluster.Start(ctx, cluster.Options{Runtime: o.runtime, Namespace: "podkit-netbench", Ingress: true,
		Network: netA, Logger: log})
	if err != nil {
		return err
	}
	defer stopCluster("first orchestrator", a)

	// The second: the userspace data plane only. Unprivileged, its cluster
	// IPs must be loopback addresses (see network/proxy).
	usCIDR := "10.235.0.0/24"
	if os.Geteuid() != 0 {
		usCIDR = "127.235.0.0/24"
	}
	b, err := cluster.Start(ctx, cluster.Options{Runtime: cluster.Fake, Namespace: "podkit-netbench-us", Logger: log,
		Orchestrator: []podkit.Option{podkit.WithNetwork(network.WithoutDNS(), network.WithServiceCIDR(usCIDR),
			network.WithNodePortRange("30450-30499"), network.WithDataPlane(network.DataPlaneUserspace),
			network.WithUserspaceOptions(proxy.WithDummyInterface(fmt.Sprintf("pkbench%d", pid%100000))),
			network.WithLogger(log))}})
	if err != nil {
		return err
	}
	defer stopCluster("second orchestrator", b)

	objsA, err := a.Scheme().Decode(strings.NewReader(fmt.Sprintf(manifestA, o.replicas, a.DemoImage)))
	if err != nil {
		return err
	}
	defer deleteAll(a, objsA, true)
	if err := a.Apply(ctx, objsA...); err != nil {
		return err
	}
	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := a.WaitFor(waitCtx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "netbench"}},
		podkit.Available); err != nil {
		return fmt.Errorf("waiting for the demo pods: %w", err)
	}
	pods, err := podkit.List[*objects.Pod](ctx, a.Orchestrator, "default", podkit.WithLabels("app=netbench"))
	if err != nil {
		return err
	}
	var podIPs []string
	for _, p := range pods {
		if p.Status.PodIP != "" && !p.IsDeleting() {
			podIPs = append(podIPs, p.Status.PodIP)
		}
	}
	if len(podIPs) == 0 {
		return errors.New("the demo pods have no IP")
	}
	slices.Sort(podIPs)

	var addrs []string
	for _, ip := range podIPs {
		addrs = append(addrs, "{ip: "+ip+"}")
	}
	objsB, err := b.Scheme().Decode(strings.NewReader(fmt.Sprintf(manifestB, strings.Join(addrs, ", "))))
	if err != nil {
		return err
	}
	defer deleteAll(b, objsB, false)
	if err := b.Apply(ctx, objsB...); err != nil {
		return err
	}

	svcA, svcB := &objects.Service{}, &objects.Service{}
	if err := a.Get(ctx, objects.Key{Namespace: "default", Name: "netbench"}, svcA); err != nil {
		return err
	}
	if err := b.Get(ctx, objects.Key{Namespace: "default", Name: "netbench"}, svcB); err != nil {
		return err
	}
	host := nodeAddress(podIPs[0])
	targets := []target{{name: "direct", url: "http://" + net.JoinHostPort(podIPs[0], "8080") + "/"}}
	if nftErr == nil {
		targets = append(targets,
			target{name: "clusterip/nftables", url: "http://" + svcA.Spec.ClusterIP + "/", bar: kernelBar},
			target{name: "nodeport/nftables", url: fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(svcA.Spec.Ports[0].NodePort))), bar: kernelBar})
	}
	targets = append(targets,
		target{name: "clusterip/userspace", url: "http://" + svcB.Spec.ClusterIP + "/", bar: userspaceBar},
		target{name: "nodeport/userspace", url: fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(svcB.Spec.Ports[0].NodePort))), bar: userspaceBar},
		target{name: "ingress", url: "http://" + a.IngressHTTP + "/", bar: ingressBar})
	if o.peers {
		ts, peers, err := startPeers(ctx, podIPs)
		if err != nil {
			return err
		}
		defer stopPeers(peers)
		targets = append(targets, ts...)
	}
	if o.only != "" {
		keep := strings.Split(o.only, ",")
		for _, k := range keep {
			if !slices.ContainsFunc(targets, func(t target) bool { return t.name == k }) {
				return fmt.Errorf("-only: no target %q here", k)
			}
		}
		targets = slices.DeleteFunc(targets, func(t target) bool { return t.name != "direct" && !slices.Contains(keep, t.name) })
	}
	for _, t := range targets {
		if err := waitOK(ctx, t.url); err != nil {
			return fmt.Errorf("%s (%s) does not answer: %w", t.name, t.url, err)
		}
	}

	printSetup(o, lg, paced, targets, podIPs)
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	through, err := measure(ctx, "throughput", lg, targets, o.rounds)
	if err != nil {
		return err
	}
	latency := through
	if paced != nil {
		if latency, err = measure(ctx, "latency", paced, targets, o.rounds); err != nil {
			return err
		}
	}
	printTable(os.Stdout, o, targets, through, latency)
	return nil
}

func newLoader(o options) (loader, error) {
	if o.threads < 1 || o.conns < o.threads || o.duration < time.Second || o.rounds < 1 {
		return nil, errors.New("need -t >= 1, -c >= -t, -d >= 1s and -rounds >= 1")
	}
	if o.loadgen != "go" {
		path, err := exec.LookPath("wrk")
		if err == nil {
			return wrk{path: path, threads: o.threads, conns: o.conns, d: o.duration.Round(time.Second)}, nil
		}
		if o.loadgen == "wrk" {
			return nil, fmt.Errorf("wrk: %w (apt-get install wrk)", err)
		}
		fmt.Println("note: wrk is not on PATH (apt-get install wrk); using the built-in Go load generator")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return goLoader{exe: exe, threads: o.threads, conns: o.conns, d: o.duration}, nil
}

// nodeAddress returns the host's address on the network of podIP (the
// runtime's bridge), where node ports are reached as a pod would; else
// 127.0.0.1.
func nodeAddress(podIP string) string {
	ip, err := netip.ParseAddr(podIP)
	if err != nil {
		return "127.0.0.1"
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(n.String()); err == nil && p.Contains(ip) && p.Addr() != ip {
				return p.Addr().String()
			}
		}
	}
	return "127.0.0.1"
}

// waitOK polls url until it answers 200, for at most a minute.
func waitOK(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

func printSetup(o options, lg, paced loader, targets []target, podIPs []string) {
	var load [3]float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &load[0], &load[1], &load[2])
	}
	fmt.Printf("\nmachine: %d CPUs, load average %.2f %.2f %.2f; Go %s; runtime %s, %d pod(s) %v\n",
		runtime.NumCPU(), load[0], load[1], load[2], runtime.Version(), o.runtime, len(podIPs), podIPs)
	fmt.Printf("throughput runs (closed loop, as fast as answers come): %s\n", lg.command("URL"))
	if w, ok := lg.(wrk); ok {
		out, _ := exec.Command(w.path, "-v").CombinedOutput()
		version, _, _ := strings.Cut(string(out), "\n")
		fmt.Printf("  %s: %s\n", w.path, strings.TrimSpace(version))
	}
	if paced != nil {
		fmt.Printf("latency runs (%d requests/s; Debian's wrk cannot pace): %s\n", o.rate, paced.command("URL"))
	}
	fmt.Println("targets:")
	for _, t := range targets {
		fmt.Printf("  %-20s %s\n", t.name, t.url)
	}
	fmt.Printf("%d round(s), direct measured between every two targets; one run takes %s\n\n", o.rounds, o.duration)
}

// run is one target's result in one round, with the mean of the direct
// runs around it.
type sample struct {
	res    result
	direct result
}

// measure runs the rounds: in each, direct between every two other
// targets, whose order rotates from round to round.
func measure(ctx context.Context, phase string, lg loader, targets []target, rounds int) (map[string][]sample, error) {
	direct, others := targets[0], targets[1:]
	out := map[string][]sample{}
	one := func(t target, round int) (result, error) {
		cpu0 := t.cpuTime()
		r, err := lg.run(ctx, t.url)
		if err != nil {
			return r, err
		}
		if r.Requests > 0 {
			r.CPUPerReq = (t.cpuTime() - cpu0) / time.Duration(r.Requests)
		}
		fmt.Printf("%-10s round %d  %-20s %9.0f req/s  p50 %8s  p99 %8s  proxy CPU/req %6s", phase, round, t.name, r.RPS,
			fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.CPUPerReq))
		if r.Errors > 0 {
			fmt.Printf("  %d errors", r.Errors)
		}
		fmt.Println()
		return r, nil
	}
	for round := 1; round <= rounds; round++ {
		before, err := one(direct, round)
		if err != nil {
			return nil, err
		}
		order := slices.Clone(others)
		if len(order) > 0 {
			k := (round - 1) % len(order)
			order = append(order[k:], order[:k]...)
		}
		out[direct.name] = append(out[direct.name], sample{res: before, direct: before})
		for _, t := range order {
			r, err := one(t, round)
			if err != nil {
				return nil, err
			}
			after, err := one(direct, round)
			if err != nil {
				return nil, err
			}
			out[direct.name] = append(out[direct.name], sample{res: after, direct: after})
			out[t.name] = append(out[t.name], sample{res: r, direct: mean(before, after)})
			before = after
		}
	}
	return out, nil
}

// processCPU returns the CPU time this process (the orchestrators and
// their proxies, not the load generator) has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mean(a, b result) result {
	return result{RPS: (a.RPS + b.RPS) / 2, P50: (a.P50 + b.P50) / 2, P99: (a.P99 + b.P99) / 2}
}

func printTable(w io.Writer, o options, targets []target, through, latency map[string][]sample) {
	at := "closed loop"
	if o.rate > 0 {
		at = fmt.Sprintf("@%d/s", o.rate)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "target\treq/s\tratio to direct\tratio's range\tp99 (max load)\tp50 %s\tadded p50\tp99 %s\tadded p99\tproxy CPU/req\terrors\tverdict\t\n", at, at)
	for _, t := range targets {
		ts, ls := through[t.name], latency[t.name]
		rps := median(ts, func(s sample) float64 { return s.res.RPS })
		p99max := time.Duration(median(ts, func(s sample) float64 { return float64(s.res.P99) }))
		p50 := time.Duration(median(ls, func(s sample) float64 { return float64(s.res.P50) }))
		p99 := time.Duration(median(ls, func(s sample) float64 { return float64(s.res.P99) }))
		cpu := time.Duration(median(ts, func(s sample) float64 { return float64(s.res.CPUPerReq) }))
		errs := 0
		for _, s := range append(slices.Clone(ts), ls...) {
			errs += s.res.Errors
		}
		if t.name == "direct" {
			fmt.Fprintf(tw, "%s\t%.0f\t1\t-\t%s\t%s\t-\t%s\t-\t%s\t%d\t-\t\n", t.name, rps, fmtDur(p99max), fmtDur(p50), fmtDur(p99), fmtDur(cpu), errs)
			continue
		}
		ratioOf := func(s sample) float64 { return s.res.RPS / s.direct.RPS }
		ratio := median(ts, ratioOf)
		lo, hi := bounds(ts, ratioOf)
		added := time.Duration(median(ls, func(s sample) float64 { return float64(s.res.P99 - s.direct.P99) }))
		added50 := time.Duration(median(ls, func(s sample) float64 { return float64(s.res.P50 - s.direct.P50) }))
		var miss []string
		if ratio < t.bar {
			miss = append(miss, fmt.Sprintf("ratio < %.2f", t.bar))
		}
		if added > addedP99Bar {
			miss = append(miss, fmt.Sprintf("added p99 > %s", fmtDur(addedP99Bar)))
		}
		if errs > 0 {
			miss = append(miss, "errors")
		}
		verdict := fmt.Sprintf("ok (ratio >= %.2f)", t.bar)
		if t.peer {
			verdict = "peer"
		} else if len(miss) > 0 {
			verdict = "MISS: " + strings.Join(miss, ", ")
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f-%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", t.name, rps, ratio, lo, hi, fmtDur(p99max),
			fmtDur(p50), fmtDur(added50), fmtDur(p99), fmtDur(added), fmtDur(cpu), errs, verdict)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nmedians over the rounds, each against the direct runs just before and after it:")
	fmt.Fprintln(w, "  req/s, ratio to direct, p99 (max load): throughput runs, closed loop (latency there is mostly queueing)")
	fmt.Fprintln(w, "  ratio's range: the lowest and highest of the rounds' ratios, the machine's noise around the median")
	if o.rate > 0 {
		fmt.Fprintf(w, "  p50, p99 and what they add: latency runs at %d requests/s, counted from when each request was due;\n", o.rate)
		fmt.Fprintln(w, "  added p50 is the cost of the hop, added p99 also the machine's scheduling noise")
	} else {
		fmt.Fprintln(w, "  p50, p99 and what they add: the throughput runs (-rate 0)")
	}
	fmt.Fprintln(w, "  proxy CPU/req: CPU time of this process (userspace proxy, Ingress; orchestrators idle) per request;")
	fmt.Fprintln(w, "  for a peer, of the peer's processes")
	fmt.Fprintf(w, "bars: requests/s >= %.2f of direct for the kernel data plane, >= %.2f userspace, >= %.2f Ingress; added p99 <= %s\n",
		kernelBar, userspaceBar, ingressBar, fmtDur(addedP99Bar))
}

// bounds returns the smallest and the largest of f over ss.
func bounds(ss []sample, f func(sample) float64) (lo, hi float64) {
	for i, s := range ss {
		v := f(s)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

func median(ss []sample, f func(sample) float64) float64 {
	if len(ss) == 0 {
		return 0
	}
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func fmtDur(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d >= time.Second:
		s = fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		s = fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		s = fmt.Sprintf("%.0fus", float64(d)/float64(time.Microsecond))
	}
	if neg {
		return "-" + s
	}
	return s
}

// deleteAll deletes objs from c and, when pods were made, waits for them
// to be gone, and then for the runtime to hold nothing of them (a node
// agent removes a pod's containers and sandbox after the pod left the
// store), so that no container outlives the run.
func deleteAll(c *cluster.Cluster, objs []objects.Object, pods bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, o := range objs {
		if err := c.Delete(ctx, o); err != nil && !errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(os.Stderr, "cleanup: deleting %s %s: %v\n", o.GetTypeMeta().Kind, o.GetObjectMeta().Name, err)
		}
	}
	if !pods {
		return
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []string
		stored, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, "default", podkit.WithLabels("app=netbench"))
		for _, p := range stored {
			left = append(left, "pod "+p.Name)
		}
		if err == nil && len(left) == 0 {
			left, err = c.Leftovers(ctx, "default")
		}
		if err == nil && len(left) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "cleanup: still there: %v (%v)\n", left, err)
			return
		case <-tick.C:
		}
	}
}

func stopCluster(name string, c *cluster.Cluster) {
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: stopping the %s: %v\n", name, err)
	}
}

const manifestA = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: netbench}
spec:
  replicas: %d
  selector: {matchLabels: {app: netbench}}
  template:
    metadata: {labels: {app: netbench}}
    spec:
      containers:
      - name: web
        image: %s
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: netbench}
spec:
  type: NodePort
  selector: {app: netbench}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: netbench}
spec:
  ingressClassName: podkit
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: netbench, port: {number: 80}}}}
`

// manifestB is the userspace orchestrator's Service: no selector, its
// Endpoints name the first orchestrator's pods.
const manifestB = `
apiVersion: v1
kind: Service
metadata: {name: netbench}
spec:
  type: NodePort
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: netbench}
subsets:
- addresses: [%s]
  ports: [{name: http, port: 8080}]
`
