package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/reconcile"
)

// target is where the load sends its requests: a URL, and the Host header
// an Ingress rule matches (empty for the Service).
type target struct {
	name, url, host string
}

// load sends GET requests to each target at a steady pace, each on a new
// connection, and counts the answers and the failures until stop.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	sent      map[string]int // per target
	failed    map[string]int // per target
	firstErrs []string
	pods      map[string]int // answers per pod
}

// workers per target, each sending a request every period.
const (
	loadWorkers = 2
	loadPeriod  = 25 * time.Millisecond
)

func startLoad(ctx context.Context, targets ...target) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel, sent: map[string]int{}, failed: map[string]int{}, pods: map[string]int{}}
	for _, t := range targets {
		for range loadWorkers {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				tick := time.NewTicker(loadPeriod)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					body, err := exampleutil.HTTPGet(ctx, t.url, t.host)
					if ctx.Err() != nil {
						return // stopped mid-request: not the server's failure
					}
					l.record(t.name, body, err)
				}
			}()
		}
	}
	return l
}

var podInAnswer = regexp.MustCompile(`\(pod ([^)]+)\)`)

func (l *load) record(target, body string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent[target]++
	if err != nil {
		l.failed[target]++
		if len(l.firstErrs) < 5 {
			l.firstErrs = append(l.firstErrs, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), target, err))
		}
		return
	}
	l.pods[podOf(body)]++
}

// podOf is the pod name in an answer of the demo app.
func podOf(answer string) string {
	if m := podInAnswer.FindStringSubmatch(answer); m != nil {
		return m[1]
	}
	return ""
}

// loadReport is what the load saw.
type loadReport struct {
	sent, failed map[string]int
	errs         []string
	pods         map[string]int
}

// stop ends the load once the requests in flight have finished.
func (l *load) stop() loadReport {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadReport{sent: l.sent, failed: l.failed, errs: l.firstErrs, pods: l.pods}
}

func (r loadReport) totalFailed() int {
	n := 0
	for _, f := range r.failed {
		n += f
	}
	return n
}

// String gives the requests and failures per target, and the answers per
// version of the app, telling a pod's version by the revision whose
// ReplicaSet named it.
func (r loadReport) String(history []reconcile.Revision) string {
	var b strings.Builder
	names := make([]string, 0, len(r.sent))
	for n := range r.sent {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "requests through the %s: %d, failed: %d\n", n, r.sent[n], r.failed[n])
	}
	byVersion := map[string]int{}
	for pod, n := range r.pods {
		byVersion[versionOf(history, pod)] += n
	}
	versions := make([]string, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	b.WriteString("answers by version:")
	for _, v := range versions {
		fmt.Fprintf(&b, " %s %d", v, byVersion[v])
	}
	b.WriteString("\n")
	for _, e := range r.errs {
		fmt.Fprintf(&b, "  failed: %s\n", e)
	}
	return b.String()
}

// versionOf is the VERSION of the revision whose ReplicaSet made pod.
func versionOf(history []reconcile.Revision, pod string) string {
	for _, rev := range history {
		if strings.HasPrefix(pod, rev.ReplicaSet+"-") {
			for _, c := range rev.Template.Spec.Containers {
				for _, e := range c.Env {
					if e.Name == "VERSION" {
						return e.Value
					}
				}
			}
		}
	}
	return "unknown"
}
