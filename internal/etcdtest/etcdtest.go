// Package etcdtest runs a real etcd server for tests: the etcd binary
// from the machine's packages (Debian's etcd-server), one member on
// loopback ports, its data in a temporary directory.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ErrNotInstalled is returned by Start when no etcd binary is on PATH.
var ErrNotInstalled = errors.New("etcd is not installed (Debian: apt-get install etcd-server)")

// Server is an etcd server Start started.
type Server struct {
	// Endpoint is its client URL.
	Endpoint string
	cmd      *exec.Cmd
	dir      string
	exited   chan struct{}
}

// Start starts an etcd server keeping its data and log under a new
// directory in dir, and waits until it answers.
func Start(dir string) (*Server, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, ErrNotInstalled
	}
	dir, err = os.MkdirTemp(dir, "podkit-etcd-")
	if err != nil {
		return nil, err
	}
	client, peer, err := freePorts()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	logFile, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin,
		"--name", "podkit-test",
		"--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "podkit-test="+peerURL,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	s := &Server{Endpoint: clientURL, cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() {
		cmd.Wait() //nolint:errcheck // Stop kills it
		close(s.exited)
	}()
	if err := s.waitReady(30 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "etcd.log"))
		s.Stop()
		return nil, fmt.Errorf("%w; its log:\n%s", err, log)
	}
	return s, nil
}

// freePorts returns two loopback ports free a moment ago.
func freePorts() (int, int, error) {
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

func (s *Server) waitReady(timeout time.Duration) error {
	cli, err := s.newClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "health")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("etcd exited: %v", s.cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd did not answer within %s: %w", timeout, err)
		}
	}
}

func (s *Server) newClient() (*clientv3.Client, error) {
	// The client's own log (retries, lease losses) would drown the tests'.
	return clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// Client returns a client of the server, closed when t ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := s.newClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Pause stops the server's process without ending it, as a machine that
// hangs or a network cut would; Resume lets it go on.
func (s *Server) Pause() error  { return s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	s.cmd.Process.Kill() //nolint:errcheck // it may have exited
	<-s.exited
	os.RemoveAll(s.dir)
}

// New starts a server for t, stopped when t ends. Without etcd installed
// it skips t, except in CI (CI=true), where that fails.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.TempDir())
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Main runs a package's tests with an etcd server, which *server is set
// to, and stops it after. Without etcd installed the tests run with
// *server nil (Need skips them), except in CI (CI=true), where that
// fails.
func Main(m *testing.M, server **Server) int {
	s, err := Start("")
	switch {
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true":
		fmt.Fprintln(os.Stderr, "etcdtest:", err, "- the tests that need it are skipped")
	case err != nil:
		fmt.Fprintln(os.Stderr, "etcdtest:", err)
		return 1
	default:
		*server = s
		defer s.Stop()
	}
	return m.Run()
}

// Need skips t when s is nil: etcd is not installed.
func Need(t testing.TB, s *Server) {
	t.Helper()
	if s == nil {
		t.Skip(ErrNotInstalled)
	}
}
