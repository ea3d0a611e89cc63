// Command demo is podkit's test and example program: a small web app, and a
// handful of one-shot behaviours that tests run as commands or exec.
//
// With no subcommand it serves HTTP until SIGTERM or SIGINT, then exits 0:
//
//	GET  /                 hello, with the hostname and the pod name ($POD_NAME);
//	                       any path not below answers the same (Ingress routes)
//	GET  /healthz          200 "ok", or 500 after POST /healthz/fail (POST /healthz/ok heals)
//	GET  /exit?code=N      answers, then exits with N
//	GET  /burn?d=2s&n=1    burns n CPUs for d (for autoscaling tests)
//	GET  /env              the environment, one NAME=value a line
//	GET  /fetch?url=U      GETs U from inside the pod and returns its body
//	GET  /data/NAME        reads file NAME of the -data directory
//	PUT  /data/NAME        writes it
//
// Flags: -listen (default ":8080", or $PORT), -data (default "/data"),
// -exit N (exit at once with N, for Jobs), -burn N (burn N millicores
// for ever from the start), -grpc ADDR (serve the gRPC health service,
// grpc.health.v1.Health, on ADDR too: the server, "", is SERVING, or
// NOT_SERVING while /healthz fails).
//
// Subcommands, the same as the fake runtime's commands:
//
//	demo exit CODE [AFTER]            exit with CODE, after the duration AFTER
//	demo sleep DURATION               exit 0 after DURATION
//	demo print LINE...                write each LINE to stdout, exit 0
//	demo eprint LINE...               write each LINE to stderr, exit 0
//	demo ignore-sigterm               run until killed
//	demo fail-with FILE MESSAGE CODE  write MESSAGE to FILE (a termination
//	                                  message path), exit with CODE
//	demo wait                         run until SIGTERM or SIGINT, then exit 0
//	demo cat [FILE...]                copy each FILE (or stdin) to stdout
//	demo ps                           print the command line of each process
//	                                  it sees (from /proc), one a line
//	demo get URL                      print URL's body; exit 0 on a 2xx answer, 1 otherwise
//	demo oom                          allocate memory until the kernel kills it
//	demo fill FILE BYTES              write BYTES bytes of data (not zeros, no
//	                                  holes) to FILE and sync it, print
//	                                  "filled FILE", then run as wait does
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podkit/podkit/internal/diskfill"
)

func main() {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		os.Exit(subcommand(os.Args[1], os.Args[2:]))
	}
	listen := flag.String("listen", defaultListen(), "address to serve HTTP on")
	data := flag.String("data", "/data", "directory served under /data/")
	exit := flag.Int("exit", -1, "exit at once with this code")
	burn := flag.Int("burn", 0, "millicores to burn from the start")
	grpcAddr := flag.String("grpc", "", "address to serve the gRPC health service on (none when empty)")
	flag.Parse()
	if *exit >= 0 {
		os.Exit(*exit)
	}
	if err := serve(*listen, *grpcAddr, *data, *burn); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func defaultListen() string {
	if p := os.Getenv("PORT"); p != "" {
		return ":" + p
	}
	return ":8080"
}

func subcommand(name string, args []string) int {
	switch name {
	case "exit":
		if len(args) < 1 {
			return usage("exit CODE [AFTER]")
		}
		code, err := strconv.Atoi(args[0])
		if err != nil {
			return usage("exit CODE [AFTER]")
		}
		if len(args) > 1 {
			d, err := time.ParseDuration(args[1])
			if err != nil {
				return usage("exit CODE [AFTER]")
			}
			time.Sleep(d)
		}
		return code
	case "sleep":
		if len(args) != 1 {
			return usage("sleep DURATION")
		}
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return usage("sleep DURATION")
		}
		time.Sleep(d)
		return 0
	case "print":
		for _, l := range args {
			fmt.Println(l)
		}
		return 0
	case "eprint":
		for _, l := range args {
			fmt.Fprintln(os.Stderr, l)
		}
		return 0
	case "ignore-sigterm":
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ignoring SIGTERM")
		for {
			time.Sleep(time.Hour) // not select{}: the runtime would call that a deadlock
		}
	case "fail-with":
		if len(args) != 3 {
			return usage("fail-with FILE MESSAGE CODE")
		}
		code, err := strconv.Atoi(args[2])
		if err != nil {
			return usage("fail-with FILE MESSAGE CODE")
		}
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		return code
	case "wait":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		fmt.Println("waiting for SIGTERM")
		<-ctx.Done()
		return 0
	case "fill":
		if len(args) != 2 {
			return usage("fill FILE BYTES")
		}
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || n < 0 {
			return usage("fill FILE BYTES")
		}
		// Before the work: as PID 1 of a container, a SIGTERM that comes
		// sooner would be dropped, not end it.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if err := diskfill.Write(args[0], n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("filled", args[0])
		<-ctx.Done()
		return 0
	case "cat":
		if len(args) == 0 {
			io.Copy(os.Stdout, os.Stdin)
			return 0
		}
		for _, f := range args {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			os.Stdout.Write(b)
		}
		return 0
	case "ps":
		if len(args) != 0 {
			return usage("ps")
		}
		return ps()
	case "get":
		if len(args) != 1 {
			return usage("get URL")
		}
		return get(args[0])
	case "oom":
		var hog [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			hog = append(hog, b)
		}
	}
	return usage("exit|sleep|print|eprint|ignore-sigterm|fail-with|wait|cat|ps|get|oom|fill ...")
}

// ps prints the command line, its arguments joined by spaces, of each
// process in /proc, in PID order; kernel threads (no command line) and
// processes gone meanwhile are left out.
func ps() int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		fmt.Println(strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " "))
	}
	return 0
}

func usage(s string) int {
	fmt.Fprintln(os.Stderr, "usage: demo", s)
	return 2
}

func get(url string) int {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode/100 != 2 {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}

type app struct {
	data    string
	healthy atomic.Bool
	health  *health.Server // with -grpc
	exit    chan int
}

// setHealthy sets what /healthz and the gRPC health service answer.
func (a *app) setHealthy(ok bool) {
	a.healthy.Store(ok)
	if a.health == nil {
		return
	}
	st := healthpb.HealthCheckResponse_SERVING
	if !ok {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	a.health.SetServingStatus("", st)
}

func serve(listen, grpcAddr, data string, burnMillis int) error {
	a := &app{data: data, exit: make(chan int, 1)}
	a.healthy.Store(true)
	srv := &http.Server{Addr: listen, Handler: a.mux(), ReadHeaderTimeout: 10 * time.Second}
	if grpcAddr != "" {
		l, err := net.Listen("tcp", grpcAddr)
		if err != nil {
			return err
		}
		a.health = health.NewServer() // "" SERVING
		gs := grpc.NewServer()
		healthpb.RegisterHealthServer(gs, a.health)
		go gs.Serve(l)
		defer gs.Stop()
		fmt.Printf("demo: serving gRPC health on %s\n", grpcAddr)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if burnMillis > 0 {
		go burnForever(ctx, burnMillis)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("demo: serving on %s\n", listen)
	code := 0
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		fmt.Println("demo: terminating")
	case code = <-a.exit:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	os.Exit(code)
	return nil
}

func (a *app) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", a.hello)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("POST /healthz/fail", func(w http.ResponseWriter, r *http.Request) { a.setHealthy(false) })
	mux.HandleFunc("POST /healthz/ok", func(w http.ResponseWriter, r *http.Request) { a.setHealthy(true) })
	mux.HandleFunc("GET /exit", a.exitHandler)
	mux.HandleFunc("GET /burn", burnHandler)
	mux.HandleFunc("GET /env", env)
	mux.HandleFunc("GET /fetch", fetch)
	mux.HandleFunc("GET /data/{name}", a.readFile)
	mux.HandleFunc("PUT /data/{name}", a.writeFile)
	return mux
}

func (a *app) hello(w http.ResponseWriter, r *http.Request) {
	host, _ := os.Hostname()
	pod := os.Getenv("POD_NAME")
	if pod == "" {
		pod = host
	}
	fmt.Fprintf(w, "hello from %s (pod %s)\n", host, pod)
}

func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	if !a.healthy.Load() {
		http.Error(w, "failing", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (a *app) exitHandler(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil {
		http.Error(w, "code: want an integer", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "exiting with %d\n", code)
	w.(http.Flusher).Flush()
	select {
	case a.exit <- code:
	default:
	}
}

func burnHandler(w http.ResponseWriter, r *http.Request) {
	d := time.Second
	if s := r.URL.Query().Get("d"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d > 10*time.Minute {
			http.Error(w, "d: want a duration up to 10m", http.StatusBadRequest)
			return
		}
	}
	n := 1
	if s := r.URL.Query().Get("n"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 64 {
			http.Error(w, "n: want 1 to 64", http.StatusBadRequest)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	done := make(chan struct{})
	for range n {
		go func() { spin(ctx); done <- struct{}{} }()
	}
	for range n {
		<-done
	}
	fmt.Fprintf(w, "burned %d CPU for %v\n", n, d)
}

func spin(ctx context.Context) {
	x := 1
	for ctx.Err() == nil {
		for i := 0; i < 100000; i++ {
			x = x*31 + i
		}
	}
	_ = x
}

// burnForever uses about millis thousandths of a CPU by spinning and
// sleeping in 10 ms slices.
func burnForever(ctx context.Context, millis int) {
	runtime.LockOSThread()
	const slice = 10 * time.Millisecond
	busy := slice * time.Duration(millis) / 1000
	for ctx.Err() == nil {
		end := time.Now().Add(busy)
		for time.Now().Before(end) {
		}
		time.Sleep(slice - busy)
	}
}

func env(w http.ResponseWriter, r *http.Request) {
	e := os.Environ()
	sort.Strings(e)
	for _, kv := range e {
		fmt.Fprintln(w, kv)
	}
}

func fetch(w http.ResponseWriter, r *http.Request) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(r.URL.Query().Get("url"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// file returns the path of name in the data directory, refusing names that
// would leave it.
func (a *app) file(name string) (string, error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", errors.New("bad file name")
	}
	return filepath.Join(a.data, name), nil
}

func (a *app) readFile(w http.ResponseWriter, r *http.Request) {
	p, err := a.file(r.PathValue("name"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

func (a *app) writeFile(w http.ResponseWriter, r *http.Request) {
	p, err := a.file(r.PathValue("name"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err == nil {
		err = os.WriteFile(p, b, 0o644)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
