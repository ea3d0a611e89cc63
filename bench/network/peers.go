package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Peers are other programs doing the proxies' jobs on the same machine,
// measured in the same rounds against the same pods, so that a ratio can
// be read against what a well-known implementation reaches here:
//
//	peer/docker-proxy  Docker's userland proxy (package docker.io), a
//	                   userspace TCP relay as the userspace data plane is,
//	                   from a loopback port to the first pod
//	peer/nginx         nginx (package nginx-light) as an HTTP reverse proxy
//	                   configured as ingress-nginx configures one: every
//	                   pod in a keepalive upstream, HTTP/1.1 to the pods,
//	                   X-Forwarded-For/-Host/-Proto set, no access log,
//	                   worker_processes auto
//
// A peer whose program is not installed is skipped with a note. Its
// "proxy CPU/req" column is that program's CPU time (all its processes)
// per request.
type peer struct {
	name string
	cmd  *exec.Cmd
	dir  string
}

// startPeers starts the peers found on this machine; stop them with
// stopPeers.
func startPeers(ctx context.Context, podIPs []string) ([]target, []*peer, error) {
	var targets []target
	var peers []*peer
	fail := func(err error) ([]target, []*peer, error) {
		stopPeers(peers)
		return nil, nil, err
	}
	if path, err := lookPath("docker-proxy", "/usr/sbin/docker-proxy"); err != nil {
		fmt.Println("note: docker-proxy not found (package docker.io); peer/docker-proxy skipped")
	} else {
		p, t, err := startDockerProxy(ctx, path, podIPs[0])
		if err != nil {
			return fail(fmt.Errorf("peer/docker-proxy: %w", err))
		}
		peers, targets = append(peers, p), append(targets, t)
	}
	if path, err := lookPath("nginx", "/usr/sbin/nginx"); err != nil {
		fmt.Println("note: nginx not found (package nginx-light); peer/nginx skipped")
	} else {
		p, t, err := startNginx(ctx, path, podIPs)
		if err != nil {
			return fail(fmt.Errorf("peer/nginx: %w", err))
		}
		peers, targets = append(peers, p), append(targets, t)
	}
	return targets, peers, nil
}

func lookPath(name, fallback string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	return exec.LookPath(fallback)
}

// startDockerProxy starts docker-proxy and waits for it to say, on the
// pipe given as its descriptor 3, that it listens ("0\n") or why not.
func startDockerProxy(ctx context.Context, path, podIP string) (*peer, target, error) {
	port, err := freePort()
	if err != nil {
		return nil, target{}, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, target{}, err
	}
	defer r.Close()
	cmd := exec.CommandContext(ctx, path, "-proto", "tcp", "-host-ip", "127.0.0.1", "-host-port", strconv.Itoa(port),
		"-container-ip", podIP, "-container-port", "8080")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, target{}, err
	}
	p := &peer{name: "peer/docker-proxy", cmd: cmd}
	line, err := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) != "0" {
		p.stop()
		return nil, target{}, fmt.Errorf("did not start: %q %v", line, err)
	}
	return p, target{name: p.name, url: fmt.Sprintf("http://127.0.0.1:%d/", port), peer: true, cpu: p.cpu}, nil
}

const nginxConf = `worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream pods {
%[2]s		keepalive 320;
	}
	server {
		listen 127.0.0.1:%[3]d;
		location / {
			proxy_pass http://pods;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Host $host;
			proxy_set_header X-Forwarded-Proto $scheme;
		}
	}
}
`

// startNginx writes a configuration to a temporary directory and runs
// nginx in the foreground on it.
func startNginx(ctx context.Context, path string, podIPs []string) (*peer, target, error) {
	port, err := freePort()
	if err != nil {
		return nil, target{}, err
	}
	dir, err := os.MkdirTemp("", "podkit-netbench-nginx-")
	if err != nil {
		return nil, target{}, err
	}
	var servers strings.Builder
	for _, ip := range podIPs {
		fmt.Fprintf(&servers, "\t\tserver %s;\n", net.JoinHostPort(ip, "8080"))
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, servers.String(), port), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, target{}, err
	}
	cmd := exec.CommandContext(ctx, path, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, target{}, err
	}
	p := &peer{name: "peer/nginx", cmd: cmd, dir: dir}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if err := waitOK(ctx, url); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		p.stop()
		return nil, target{}, fmt.Errorf("does not answer: %v; error log: %s", err, log)
	}
	return p, target{name: p.name, url: url, peer: true, cpu: p.cpu}, nil
}

// stop ends the peer (nginx finishes its requests first) and removes its
// directory.
func (p *peer) stop() {
	sig := os.Signal(syscall.SIGTERM)
	if p.dir != "" {
		sig = syscall.SIGQUIT
	}
	_ = p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

func stopPeers(peers []*peer) {
	for _, p := range peers {
		p.stop()
	}
}

// cpu returns the CPU time of the peer's process and its children (nginx's
// workers), from /proc.
func (p *peer) cpu() time.Duration {
	pid := p.cmd.Process.Pid
	total := procCPU(pid)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if ppid, _ := procStat(child); ppid == pid {
			total += procCPU(child)
		}
	}
	return total
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux.
const clockTick = 10 * time.Millisecond

func procCPU(pid int) time.Duration {
	_, f := procStat(pid)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// procStat returns a process's parent and the fields of /proc/PID/stat
// after the command name (the first is the state).
func procStat(pid int) (int, []string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, nil
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, nil
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid, f
}

// freePort returns a loopback port free at the time of the call.
func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
