package fake_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type pod struct {
	rt  *fake.Runtime
	sb  string
	cfg *runtime.SandboxConfig
}

func newPod(t *testing.T, rt *fake.Runtime, name string) *pod {
	t.Helper()
	cfg := &runtime.SandboxConfig{PodUID: "uid-" + name, PodName: name, PodNamespace: "default",
		Labels: map[string]string{runtime.LabelPodUID: "uid-" + name, runtime.LabelNode: "n1"}}
	id, err := rt.RunSandbox(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &pod{rt: rt, sb: id, cfg: cfg}
}

func (p *pod) run(t *testing.T, name, image string, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	if err := p.rt.PullImage(ctx, image, runtime.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := p.rt.CreateContainer(ctx, p.sb, &runtime.ContainerConfig{Name: name, Image: image, Command: cmd,
		Ports:  []runtime.ContainerPort{{ContainerPort: 8080}},
		Labels: map[string]string{runtime.LabelPodUID: p.cfg.PodUID, runtime.LabelContainerName: name}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func status(t *testing.T, rt *fake.Runtime, id string) runtime.ContainerStatus {
	t.Helper()
	cs, err := rt.ListContainers(context.Background(), runtime.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no container %s", id)
	return runtime.ContainerStatus{}
}

func TestScriptedExitOnTheClock(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch)
	rt, _ := fake.New(fake.WithClock(clk))
	rt.Script(fake.Image("app:1"), fake.Behavior{Exit: &fake.Exit{Code: 7, After: time.Minute}})
	rt.Script(fake.Container("default", "p", "oom"), fake.Behavior{Exit: &fake.Exit{After: time.Second, OOMKilled: true}})
	p := newPod(t, rt, "p")
	app := p.run(t, "app", "app:1")
	oom := p.run(t, "oom", "app:1")
	forever := p.run(t, "forever", "other:1")
	if s := status(t, rt, app); s.State != runtime.ContainerRunning {
		t.Fatalf("state %s", s.State)
	}
	clk.Advance(time.Minute)
	waitState(t, rt, app, runtime.ContainerExited)
	if s := status(t, rt, app); s.ExitCode != 7 || s.Reason != "Error" || !s.FinishedAt.Equal(epoch.Add(time.Minute)) {
		t.Errorf("exit: %+v", s)
	}
	if s := status(t, rt, oom); s.ExitCode != 137 || s.Reason != "OOMKilled" {
		t.Errorf("oom: %+v", s)
	}
	if s := status(t, rt, forever); s.State != runtime.ContainerRunning {
		t.Errorf("an unscripted container stopped: %+v", s)
	}
	if n := rt.Kill(fake.Container("default", "p", "forever"), 2); n != 1 {
		t.Errorf("Kill matched %d", n)
	}
	if s := status(t, rt, forever); s.ExitCode != 2 || s.State != runtime.ContainerExited {
		t.Errorf("killed: %+v", s)
	}
	exits := rt.Records(fake.OpExit, fake.Pod("default", "p"))
	if len(exits) != 3 {
		t.Errorf("%d exits recorded", len(exits))
	}
}

// TestScriptedTerminationMessage: a scripted termination message is the
// Message of a container with a termination message path once it has
// exited, and of no other.
func TestScriptedTerminationMessage(t *testing.T) {
	ctx := context.Background()
	rt, _ := fake.New(fake.WithImages("app:1"))
	rt.Script(fake.Image("app:1"), fake.Behavior{TerminationMessage: "bye", TermExitCode: 1})
	p := newPod(t, rt, "p")
	run := func(name, path string) string {
		t.Helper()
		id, err := rt.CreateContainer(ctx, p.sb, &runtime.ContainerConfig{Name: name, Image: "app:1", TerminationMessagePath: path})
		if err == nil {
			err = rt.StartContainer(ctx, id)
		}
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	with, without := run("with", "/dev/termination-log"), run("without", "")
	if s := status(t, rt, with); s.State != runtime.ContainerRunning || s.Message != "" {
		t.Errorf("running: %+v, want no message yet", s)
	}
	for _, id := range []string{with, without} {
		if err := rt.StopContainer(ctx, id, runtime.StopOptions{Grace: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	if s := status(t, rt, with); s.ExitCode != 1 || s.Message != "bye" {
		t.Errorf("exited with a termination message path: %+v, want code 1 and message \"bye\"", s)
	}
	if s := status(t, rt, without); s.ExitCode != 1 || s.Message != "" {
		t.Errorf("exited without a termination message path: %+v, want code 1 and no message", s)
	}
}

func waitState(t *testing.T, rt *fake.Runtime, id string, want runtime.ContainerState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	// The fake clock runs timer callbacks in their own goroutine.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for status(t, rt, id).State != want {
		if time.Now().After(deadline) {
			t.Fatalf("container %s not %s", id, want)
		}
		<-tick.C
	}
}

func TestFaults(t *testing.T) {
	rt, _ := fake.New()
	ctx := context.Background()
	boom := errors.New("boom")
	rt.Inject(fake.Fault{Op: fake.OpPullImage, Match: fake.Image("bad:1"), Err: boom})
	if err := rt.PullImage(ctx, "bad:1", runtime.PullOptions{}); !errors.Is(err, boom) || !errors.Is(err, runtime.ErrImagePull) {
		t.Errorf("pull: %v", err)
	}
	remove := rt.Inject(fake.Fault{Op: fake.OpRunSandbox, Times: 1})
	cfg := &runtime.SandboxConfig{PodUID: "u", PodName: "p", PodNamespace: "default"}
	if _, err := rt.RunSandbox(ctx, cfg); err == nil {
		t.Errorf("RunSandbox did not fail")
	}
	if _, err := rt.RunSandbox(ctx, cfg); err != nil {
		t.Errorf("a fault with Times 1 failed twice: %v", err)
	}
	remove()
	rt.SetUnavailable(true)
	if _, err := rt.Version(ctx); !errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("Version while unavailable: %v", err)
	}
	if _, err := rt.ListContainers(ctx, runtime.Filter{}); !errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("List while unavailable: %v", err)
	}
	rt.SetUnavailable(false)
	p := newPod(t, rt, "q")
	rt.Inject(fake.Fault{Op: fake.OpStartContainer, Match: fake.Container("default", "q", "c")})
	if err := rt.PullImage(ctx, "img:1", runtime.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := rt.CreateContainer(ctx, p.sb, &runtime.ContainerConfig{Name: "c", Image: "img:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err == nil {
		t.Fatal("start did not fail")
	}
	if s := status(t, rt, id); s.State != runtime.ContainerExited || s.Reason != "StartError" || s.ExitCode != 128 {
		t.Errorf("after a failed start: %+v", s)
	}
}

func TestDialerServesHTTP(t *testing.T) {
	rt, _ := fake.New()
	rt.Script(fake.Image("web:1"), fake.Behavior{HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	})})
	p := newPod(t, rt, "web")
	p.run(t, "web", "web:1")
	sbs, _ := rt.ListSandboxes(context.Background(), runtime.Filter{})
	ip := sbs[0].IP
	client := &http.Client{Transport: &http.Transport{DialContext: rt.DialContext, DisableKeepAlives: true}}
	resp, err := client.Get("http://" + ip + ":8080/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello /x" {
		t.Errorf("body %q", b)
	}
	rt.SetHealthy(fake.Pod("default", "web"), false)
	if _, err := client.Get("http://" + ip + ":8080/x"); err == nil {
		t.Errorf("an unhealthy container accepted a connection")
	}
	if _, err := rt.DialContext(context.Background(), "tcp", "10.99.99.99:80"); err == nil {
		t.Errorf("dialled an IP no pod has")
	}
}

// The same ports answer gRPC health checks, from Behavior.GRPCHealth, on
// the same connections a gRPC client makes through the dialer.
func TestDialerServesGRPCHealth(t *testing.T) {
	rt, _ := fake.New()
	rt.Script(fake.Image("grpc:1"), fake.Behavior{GRPCHealth: map[string]string{"": "SERVING", "db": "NOT_SERVING"}})
	p := newPod(t, rt, "grpc")
	p.run(t, "grpc", "grpc:1")
	sbs, _ := rt.ListSandboxes(context.Background(), runtime.Filter{})
	conn, err := grpc.NewClient("passthrough:///"+sbs[0].IP+":9090", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return rt.DialContext(ctx, "tcp", addr) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for service, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{"": healthpb.HealthCheckResponse_SERVING, "db": healthpb.HealthCheckResponse_NOT_SERVING} {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != want {
			t.Errorf("Check(%q) = %v, %v; want %v", service, resp, err, want)
		}
	}
	if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "cache"}); grpcstatus.Code(err) != codes.NotFound {
		t.Errorf("Check of a service not named = %v, want NotFound", err)
	}
}

func TestLogsFollowAndStats(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch)
	rt, _ := fake.New(fake.WithClock(clk))
	rt.Script(fake.Image("busy:1"), fake.Behavior{CPUMillis: 500, MemoryBytes: 1 << 20, Logs: []string{"starting"}})
	p := newPod(t, rt, "busy")
	id := p.run(t, "busy", "busy:1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, err := rt.ContainerLogs(ctx, id, runtime.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	if l, _ := br.ReadString('\n'); l != "starting\n" {
		t.Errorf("first line %q", l)
	}
	rt.Log(fake.Pod("default", "busy"), "stderr", "later")
	if l, _ := br.ReadString('\n'); l != "later\n" {
		t.Errorf("followed line %q", l)
	}
	clk.Advance(10 * time.Second)
	st, err := rt.ContainerStats(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.CPUUsageNanos != uint64(5*time.Second) || st.MemoryWorkingSetBytes != 1<<20 {
		t.Errorf("stats %+v, want 5s of CPU (0.5 CPU for 10s) and 1MiB", st)
	}
	rt.SetUsage(fake.Pod("default", "busy"), 2000, 2<<20)
	clk.Advance(time.Second)
	st, _ = rt.ContainerStats(context.Background(), id)
	if st.CPUUsageNanos != uint64(7*time.Second) {
		t.Errorf("CPU after raising the usage = %v, want 7s", time.Duration(st.CPUUsageNanos))
	}
	rt.Kill(fake.Pod("default", "busy"), 0)
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("after exit: %q", rest)
	}
	if _, err := rt.Exec(context.Background(), id, runtime.ExecOptions{Command: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("exec in an exited container: %v", err)
	}
}

func TestHistoryLimit(t *testing.T) {
	pods := func(recs []fake.Record) string {
		var b strings.Builder
		for _, r := range recs {
			b.WriteString(r.Pod)
		}
		return b.String()
	}
	for _, tc := range []struct {
		limit, pods int
		want        string
	}{
		{1, 3, "c"},
		{2, 5, "de"},
		{3, 7, "efg"},
		{3, 2, "ab"},
		{0, 2, ""},
	} {
		rt, _ := fake.New(fake.WithHistoryLimit(tc.limit))
		for i := range tc.pods {
			newPod(t, rt, string(rune('a'+i)))
		}
		if got := pods(rt.History()); got != tc.want {
			t.Errorf("limit %d, %d pods: history of pods %q, want %q", tc.limit, tc.pods, got, tc.want)
		}
		if got := pods(rt.Records(fake.OpRunSandbox, fake.Match{})); got != tc.want {
			t.Errorf("limit %d, %d pods: records of pods %q, want %q", tc.limit, tc.pods, got, tc.want)
		}
	}
}

func TestScriptedPullTakesTimeAndReportsProgress(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch)
	rt, _ := fake.New(fake.WithClock(clk))
	rt.ScriptPull(fake.Image("big:1"), fake.Pull{Size: 3000, Duration: 3 * time.Second, Steps: 3})
	type report struct {
		at time.Time
		p  runtime.PullProgress
	}
	reports := make(chan report, 10)
	done := make(chan error, 1)
	go func() {
		done <- rt.PullImage(context.Background(), "big:1", runtime.PullOptions{Progress: func(p runtime.PullProgress) {
			// The runtime's lock is not held: the callback may call it.
			if _, err := rt.ImagePresent(context.Background(), "big:1"); err != nil {
				t.Errorf("ImagePresent from the progress callback: %v", err)
			}
			reports <- report{clk.Now(), p}
		}})
	}()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := clk.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("step %d: the pull is not waiting on the clock: %v", i, err)
		}
		cancel()
		if ok, _ := rt.ImagePresent(context.Background(), "big:1"); ok {
			t.Fatalf("image present before the pull's end")
		}
		clk.Advance(time.Second)
	}
	if err := <-done; err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	close(reports)
	var got []string
	for r := range reports {
		got = append(got, fmt.Sprintf("%s %s %d/%d", r.at.Sub(epoch), r.p.Status, r.p.Current, r.p.Total))
	}
	want := []string{"0s Downloading 0/3000", "1s Downloading 1000/3000", "2s Downloading 2000/3000", "3s Pull complete 3000/3000"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ok, _ := rt.ImagePresent(context.Background(), "big:1"); !ok {
		t.Errorf("image absent after the pull")
	}
	if recs := rt.Records(fake.OpPullImage, fake.Image("big:1")); len(recs) != 1 || !recs[0].Time.Equal(epoch.Add(3*time.Second)) || recs[0].Err != nil {
		t.Errorf("pull records %+v, want one, successful, at 3s", recs)
	}

	// An unscripted pull completes at once with the default size; a pull
	// whose context ends gives up.
	var last runtime.PullProgress
	if err := rt.PullImage(context.Background(), "small:1", runtime.PullOptions{Progress: func(p runtime.PullProgress) { last = p }}); err != nil {
		t.Fatal(err)
	}
	if last.Current != fake.DefaultImageSize || last.Total != fake.DefaultImageSize {
		t.Errorf("last progress of an unscripted pull = %+v", last)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rt.PullImage(ctx, "big:1", runtime.PullOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("pull with an ended context = %v, want context.Canceled", err)
	}
}

func TestExecStdinAndStderr(t *testing.T) {
	rt, _ := fake.New()
	p := newPod(t, rt, "io")
	id := p.run(t, "app", "app:1")
	var out, errb strings.Builder
	code, err := rt.Exec(context.Background(), id, runtime.ExecOptions{Command: []string{"cat"}, Stdin: strings.NewReader("a\nb\n"), Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 || out.String() != "a\nb\n" || errb.Len() != 0 {
		t.Errorf("cat = %d, %v, stdout %q, stderr %q", code, err, out.String(), errb.String())
	}
	out.Reset()
	code, err = rt.Exec(context.Background(), id, runtime.ExecOptions{Command: []string{"eprint", "oops"}, Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 || out.Len() != 0 || errb.String() != "oops\n" {
		t.Errorf("eprint = %d, %v, stdout %q, stderr %q", code, err, out.String(), errb.String())
	}
	// A container writing to both streams has both in its logs, stdout's
	// first; a running one uses some memory.
	rt.Script(fake.Image("both:1"), fake.Behavior{Logs: []string{"out"}, Stderr: []string{"err"}})
	both := p.run(t, "both", "both:1")
	rc, err := rt.ContainerLogs(context.Background(), both, runtime.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "out\nerr\n" {
		t.Errorf("logs %q", b)
	}
	st, err := rt.ContainerStats(context.Background(), both)
	if err != nil || st.MemoryWorkingSetBytes != fake.DefaultMemoryBytes {
		t.Errorf("stats of a running container = %+v, %v; want DefaultMemoryBytes", st, err)
	}
}
