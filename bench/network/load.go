package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// result is one load run against one URL.
type result struct {
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
	Requests int           `json:"requests"`
	// Errors counts socket errors and non-2xx answers.
	Errors int `json:"errors"`
	// CPUPerReq is the CPU time of this process per request.
	CPUPerReq time.Duration `json:"-"`
}

// loader runs one load test. Both implementations run in a process of
// their own, so that the load generator never shares the Go runtime of
// the proxies under test.
type loader interface {
	run(ctx context.Context, url string) (result, error)
	// command is the command line a run executes, URL last.
	command(url string) string
}

// wrk runs wrk: -t threads, -c connections, -d duration, --latency.
type wrk struct {
	path    string
	threads int
	conns   int
	d       time.Duration
}

func (w wrk) args(url string) []string {
	return []string{fmt.Sprintf("-t%d", w.threads), fmt.Sprintf("-c%d", w.conns),
		fmt.Sprintf("-d%ds", int(w.d.Round(time.Second)/time.Second)), "--latency", url}
}

func (w wrk) command(url string) string { return "wrk " + strings.Join(w.args(url), " ") }

func (w wrk) run(ctx context.Context, url string) (result, error) {
	out, err := exec.CommandContext(ctx, w.path, w.args(url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", w.command(url), err, out)
	}
	r, err := parseWrk(out)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", w.command(url), err, out)
	}
	return r, nil
}

var (
	wrkPercentile = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkRPS        = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkRequests   = regexp.MustCompile(`(?m)^\s+([0-9]+) requests in`)
	wrkSocketErrs = regexp.MustCompile(`(?m)^\s+Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
	wrkNon2xx     = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: ([0-9]+)`)
)

// parseWrk reads the report of wrk --latency.
func parseWrk(out []byte) (result, error) {
	var r result
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return r, errors.New("no Requests/sec in wrk's report")
	}
	r.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := wrkRequests.FindSubmatch(out); m != nil {
		r.Requests, _ = strconv.Atoi(string(m[1]))
	}
	for _, m := range wrkPercentile.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if r.P50 == 0 || r.P99 == 0 {
		return r, errors.New("no latency distribution in wrk's report (--latency)")
	}
	if m := wrkSocketErrs.FindSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(string(s))
			r.Errors += n
		}
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		r.Errors += n
	}
	return r, nil
}

// goLoader runs the built-in load generator (loadMain) in a child
// process of this program, with as many OS threads as wrk would use.
type goLoader struct {
	exe     string
	threads int
	conns   int
	d       time.Duration
	rate    int // requests/s in all, or 0 for a closed loop
}

func (g goLoader) args(url string) []string {
	args := []string{loadFlag, "-c", strconv.Itoa(g.conns), "-d", g.d.String()}
	if g.rate > 0 {
		args = append(args, "-r", strconv.Itoa(g.rate))
	}
	return append(args, url)
}

func (g goLoader) command(url string) string {
	return fmt.Sprintf("GOMAXPROCS=%d %s %s", g.threads, g.exe, strings.Join(g.args(url), " "))
}

func (g goLoader) run(ctx context.Context, url string) (result, error) {
	cmd := exec.CommandContext(ctx, g.exe, g.args(url)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", g.threads))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", g.command(url), err, stderr.Bytes())
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("%s: %w", g.command(url), err)
	}
	return r, nil
}

// loadFlag, as the first argument, makes this program the load generator
// child: loadMain.
const loadFlag = "-load-child"

// loadMain is the built-in load generator. Without -r it is wrk's closed
// loop: each of conns keep-alive connections sends GET, reads the whole
// answer, and sends the next, for d. With -r RATE the connections send
// RATE requests/s in all, each at fixed times, and a latency counts from
// the time a request was due, so that a stall delays the count of every
// request it held up (as wrk2 measures). It prints a result as JSON.
func loadMain(args []string) error {
	conns, d, rate := 64, 5*time.Second, 0
	var target string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-c", "-d", "-r":
			if i+1 == len(args) {
				return fmt.Errorf("%s needs a value", args[i])
			}
			i++
			switch args[i-1] {
			case "-c":
				conns, _ = strconv.Atoi(args[i])
			case "-d":
				d, _ = time.ParseDuration(args[i])
			case "-r":
				rate, _ = strconv.Atoi(args[i])
			}
		default:
			target = args[i]
		}
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || conns <= 0 || d <= 0 || rate < 0 {
		return fmt.Errorf("usage: %s -c CONNS -d DURATION [-r RATE] URL", loadFlag)
	}
	var interval time.Duration // between two requests of one connection
	if rate > 0 {
		interval = time.Duration(float64(conns) / float64(rate) * float64(time.Second))
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.RequestURI()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n")
	start := time.Now()
	end := start.Add(d)
	var (
		mu     sync.Mutex
		lat    []time.Duration
		errs   int
		wg     sync.WaitGroup
		dialer = net.Dialer{Timeout: time.Second}
	)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<14)
			nerr := 0
			var c net.Conn
			var br *bufio.Reader
			due := start.Add(interval * time.Duration(i) / time.Duration(conns))
			for {
				t0 := time.Now()
				if interval > 0 {
					if !due.Before(end) {
						break
					}
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
					t0, due = due, due.Add(interval)
				} else if !t0.Before(end) {
					break
				}
				if c == nil {
					var err error
					if c, err = dialer.Dial("tcp", addr); err != nil {
						nerr++ // and this connection is lost for the run
						break
					}
					_ = c.SetDeadline(end)
					br = bufio.NewReader(c)
				}
				resp, err := roundTrip(c, br, req)
				if err != nil {
					if time.Now().Before(end) {
						nerr++
					}
					c.Close()
					c = nil
					continue
				}
				mine = append(mine, time.Since(t0))
				if resp.StatusCode/100 != 2 {
					nerr++
				}
				if resp.Close {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += nerr
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := result{Requests: len(lat), Errors: errs, RPS: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func roundTrip(c net.Conn, br *bufio.Reader, req []byte) (*http.Response, error) {
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}
