package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func newTestApp(t *testing.T) (*app, *httptest.Server) {
	a := &app{data: t.TempDir(), exit: make(chan int, 1)}
	a.healthy.Store(true)
	srv := httptest.NewServer(a.mux())
	t.Cleanup(srv.Close)
	return a, srv
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthzSwitch(t *testing.T) {
	_, srv := newTestApp(t)
	if code, _ := do(t, "GET", srv.URL+"/healthz", ""); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	do(t, "POST", srv.URL+"/healthz/fail", "")
	if code, _ := do(t, "GET", srv.URL+"/healthz", ""); code != 500 {
		t.Errorf("healthz after fail = %d, want 500", code)
	}
	do(t, "POST", srv.URL+"/healthz/ok", "")
	if code, _ := do(t, "GET", srv.URL+"/healthz", ""); code != 200 {
		t.Errorf("healthz after ok = %d, want 200", code)
	}
}

// With -grpc, the gRPC health service follows /healthz.
func TestGRPCHealthFollowsHealthz(t *testing.T) {
	a, srv := newTestApp(t)
	a.health = health.NewServer()
	check := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := a.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus()
	}
	if got := check(); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, want SERVING", got)
	}
	do(t, "POST", srv.URL+"/healthz/fail", "")
	if got := check(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after fail = %v, want NOT_SERVING", got)
	}
	do(t, "POST", srv.URL+"/healthz/ok", "")
	if got := check(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health after ok = %v, want SERVING", got)
	}
}

func TestDataFiles(t *testing.T) {
	a, srv := newTestApp(t)
	if code, _ := do(t, "PUT", srv.URL+"/data/f", "content"); code != http.StatusNoContent {
		t.Fatalf("PUT = %d", code)
	}
	if b, err := os.ReadFile(filepath.Join(a.data, "f")); err != nil || string(b) != "content" {
		t.Errorf("file = %q, %v", b, err)
	}
	if code, body := do(t, "GET", srv.URL+"/data/f", ""); code != 200 || body != "content" {
		t.Errorf("GET = %d %q", code, body)
	}
	if code, _ := do(t, "GET", srv.URL+"/data/missing", ""); code != 404 {
		t.Errorf("GET missing = %d", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/data/..%2Fx", ""); code == 200 {
		t.Errorf("a name leaving the data directory was served")
	}
}

func TestExitAndBurn(t *testing.T) {
	a, srv := newTestApp(t)
	if code, body := do(t, "GET", srv.URL+"/exit?code=7", ""); code != 200 || !strings.Contains(body, "7") {
		t.Fatalf("exit = %d %q", code, body)
	}
	if got := <-a.exit; got != 7 {
		t.Errorf("exit code requested = %d", got)
	}
	if code, _ := do(t, "GET", srv.URL+"/burn?d=20ms&n=2", ""); code != 200 {
		t.Errorf("burn = %d", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/burn?d=1h", ""); code != 400 {
		t.Errorf("burn for an hour = %d, want 400", code)
	}
}

func TestSubcommands(t *testing.T) {
	if subcommand("exit", []string{"3"}) != 3 || subcommand("print", []string{"a"}) != 0 || subcommand("nope", nil) != 2 {
		t.Error("subcommand exit codes")
	}
}

func TestFailWith(t *testing.T) {
	f := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(f, []byte("an older and longer message"), 0o666); err != nil {
		t.Fatal(err)
	}
	if code := subcommand("fail-with", []string{f, "disk full", "3"}); code != 3 {
		t.Errorf("fail-with exit code = %d, want 3", code)
	}
	if b, err := os.ReadFile(f); err != nil || string(b) != "disk full" {
		t.Errorf("termination file = %q, %v; want %q", b, err, "disk full")
	}
	if code := subcommand("fail-with", []string{f, "no code"}); code != 2 {
		t.Errorf("fail-with without a code = %d, want 2 (usage)", code)
	}
}

// TestFill runs fill as a container does: it writes the file, whole and
// in blocks, then runs until SIGTERM and exits 0.
func TestFill(t *testing.T) {
	f := filepath.Join(t.TempDir(), "filler")
	const size = 3<<20 + 5
	code := make(chan int, 1)
	go func() { code <- subcommand("fill", []string{f, strconv.Itoa(size)}) }()
	// The signal handler is in place before the file is written: once it
	// is whole, SIGTERM reaches fill, not the default action.
	deadline := time.Now().Add(10 * time.Second)
	var fi os.FileInfo
	for {
		var err error
		fi, err = os.Stat(f)
		if err == nil && fi.Size() == size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file not filled after 10s: %v, %v", fi, err)
		}
		select {
		case c := <-code:
			t.Fatalf("fill exited %d before filling the file", c)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 < size {
		t.Errorf("the filled file has %d bytes of blocks, want at least %d: a hole", st.Blocks*512, size)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if zeros := bytes.Count(b, []byte{0}); zeros > size/64 {
		t.Errorf("%d of the %d bytes are zero, want data", zeros, size)
	}
	select {
	case c := <-code:
		t.Fatalf("fill exited %d before SIGTERM", c)
	default:
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("fill exited %d on SIGTERM, want 0", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fill did not exit within 10s of SIGTERM")
	}
	for _, args := range [][]string{{f}, {f, "lots"}, {f, "-1"}} {
		if c := subcommand("fill", args); c != 2 {
			t.Errorf("fill %q = %d, want 2 (usage)", args, c)
		}
	}
}
