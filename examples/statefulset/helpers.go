package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// follower prints the set's pods as `kubectl get pods -w` does, from one
// watch of the namespace, and checks the OrderedReady rule on the way: a
// pod db-N appears only after db-(N-1) was seen Running and Ready. The
// watch delivers changes in the order the store committed them, so what
// it shows is the order things happened in.
type follower struct {
	o       *podkit.Orchestrator
	w       store.Watcher
	out     io.Writer
	last    map[string]string // pod name -> last line printed
	ready   map[string]bool   // pods seen Running and Ready
	created []string          // pod names in the order they first appeared
	order   error             // the first breach of the order
	header  bool
}

func newFollower(o *podkit.Orchestrator, w store.Watcher, out io.Writer) *follower {
	return &follower{o: o, w: w, out: out, last: map[string]string{}, ready: map[string]bool{}}
}

// until prints pod changes until done holds for an object of the
// namespace, or ctx ends.
func (f *follower) until(ctx context.Context, done func(objects.Object) bool) error {
	if !f.header {
		fmt.Fprintf(f.out, "%-6s %-6s %-18s %-9s %s\n", "NAME", "READY", "STATUS", "RESTARTS", "AGE")
		f.header = true
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; pods seen: %s", ctx.Err(), f.summary())
		case ev, ok := <-f.w.Events():
			if !ok {
				if err := f.w.Err(); err != nil {
					return fmt.Errorf("watching the namespace: %w", err)
				}
				return fmt.Errorf("watching the namespace: %w; pods seen: %s", ctx.Err(), f.summary())
			}
			obj := ev.Object()
			if p, isPod := obj.(*objects.Pod); isPod && p.Labels["app"] == set {
				f.pod(p, ev.Type == store.Deleted)
			}
			if done(obj) {
				return nil
			}
		}
	}
}

func (f *follower) pod(p *objects.Pod, deleted bool) {
	if !slices.Contains(f.created, p.Name) {
		f.created = append(f.created, p.Name)
		if n, err := strconv.Atoi(strings.TrimPrefix(p.Name, set+"-")); err == nil && n > 0 {
			prev := fmt.Sprintf("%s-%d", set, n-1)
			if !f.ready[prev] && f.order == nil {
				f.order = fmt.Errorf("OrderedReady broken: %s was created before %s was Running and Ready", p.Name, prev)
			}
		}
	}
	if !deleted && p.Status.Phase == objects.PodRunning && objects.IsPodReady(p) {
		f.ready[p.Name] = true
	}
	ready, restarts := 0, int32(0)
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		restarts += cs.RestartCount
	}
	status := kubectl.PodStatus(p)
	line := fmt.Sprintf("%-6s %-6s %-18s %-9d", p.Name, fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)), status, restarts)
	if deleted {
		line = fmt.Sprintf("%-6s %-6s %-18s %-9d", p.Name, "0/1", "Terminating", restarts) + " (deleted)"
		delete(f.last, p.Name)
		fmt.Fprintln(f.out, line)
		return
	}
	if f.last[p.Name] == line {
		return
	}
	f.last[p.Name] = line
	fmt.Fprintf(f.out, "%s %s\n", line, kubectl.Age(f.o.Clock().Now(), p.CreationTimestamp.Time))
}

func (f *follower) orderErr() error {
	if f.order != nil {
		return f.order
	}
	for i, name := range f.created {
		if want := fmt.Sprintf("%s-%d", set, i); name != want {
			return fmt.Errorf("pods were created in the order %v, want %s-0, %s-1, ...", f.created, set, set)
		}
	}
	if len(f.created) != replicas {
		return fmt.Errorf("saw %d pods created (%v), want %d", len(f.created), f.created, replicas)
	}
	return nil
}

func (f *follower) summary() string {
	var parts []string
	for _, name := range f.created {
		parts = append(parts, fmt.Sprintf("%s(%s)", name, strings.Join(strings.Fields(f.last[name]), " ")))
	}
	return strings.Join(parts, ", ")
}

// printClaims prints the namespace's claims as `kubectl get pvc` does.
func printClaims(ctx context.Context, o *podkit.Orchestrator, out io.Writer) error {
	claims, err := podkit.List[*objects.PersistentVolumeClaim](ctx, o, namespace)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tVOLUME\tCAPACITY\tACCESS MODES\tSTORAGECLASS\tAGE")
	now := o.Clock().Now()
	for _, c := range claims {
		capacity := ""
		if q, ok := c.Status.Capacity[objects.ResourceStorage]; ok {
			capacity = q.String()
		}
		var modes []string
		for _, m := range c.Status.AccessModes {
			modes = append(modes, accessMode(m))
		}
		class := ""
		if c.Spec.StorageClassName != nil {
			class = *c.Spec.StorageClassName
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Status.Phase, c.Spec.VolumeName, capacity,
			strings.Join(modes, ","), class, kubectl.Age(now, c.CreationTimestamp.Time))
	}
	return tw.Flush()
}

func accessMode(m objects.PersistentVolumeAccessMode) string {
	switch m {
	case objects.ReadWriteOnce:
		return "RWO"
	case objects.ReadOnlyMany:
		return "ROX"
	case objects.ReadWriteMany:
		return "RWX"
	case objects.ReadWriteOncePod:
		return "RWOP"
	}
	return string(m)
}

// checkDNS resolves each pod's stable name, and with several pods the
// headless Service's name, through the DNS server at addr, until the
// answers are the pods' IPs. The server answers from its caches of
// Services and Endpoints, which follow the store closely but not in the
// same instant.
func checkDNS(ctx context.Context, addr string, pods []*objects.Pod, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	type query struct {
		name string
		want []string
	}
	var queries []query
	var all []string
	for _, p := range pods {
		queries = append(queries, query{fmt.Sprintf("%s.%s.%s.svc.cluster.local.", p.Name, set, namespace), []string{p.Status.PodIP}})
		all = append(all, p.Status.PodIP)
	}
	if len(pods) > 1 {
		slices.Sort(all)
		queries = append(queries, query{fmt.Sprintf("%s.%s.svc.cluster.local.", set, namespace), all})
	}
	client := &mdns.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, q := range queries {
		var got []string
		var err error
		for {
			got, err = lookupA(ctx, client, addr, q.name)
			if err == nil && slices.Equal(got, q.want) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s resolves to %v (err %v), want %v", q.name, got, err, q.want)
			case <-tick.C:
			}
		}
		fmt.Fprintf(out, "%-40s %s\n", strings.TrimSuffix(q.name, "."), strings.Join(got, " "))
	}
	return nil
}

func lookupA(ctx context.Context, client *mdns.Client, addr, name string) ([]string, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	r, _, err := client.ExchangeContext(ctx, m, addr)
	if err != nil {
		return nil, err
	}
	if r.Rcode != mdns.RcodeSuccess {
		return nil, fmt.Errorf("%s", mdns.RcodeToString[r.Rcode])
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// Keep-alives off: the example leaves no idle connection behind.
var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// putData writes body to the file name of the pod's data directory.
func putData(ctx context.Context, ip, name, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, dataURL(ip, name), strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT %s: %s: %s", req.URL, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// getData reads the file name of the pod's data directory.
func getData(ctx context.Context, ip, name string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dataURL(ip, name), nil)
	if err != nil {
		return "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", req.URL, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

func dataURL(ip, name string) string {
	return "http://" + net.JoinHostPort(ip, "8080") + "/data/" + name
}

func podNamed(pods []*objects.Pod, name string) *objects.Pod {
	for _, p := range pods {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// volumeOf returns the volume the claim is bound to.
func volumeOf(ctx context.Context, o *podkit.Orchestrator, claim string) (string, error) {
	pvc, err := podkit.Get[*objects.PersistentVolumeClaim](ctx, o, namespace, claim)
	if err != nil {
		return "", err
	}
	if pvc.Status.Phase != objects.ClaimBound {
		return "", fmt.Errorf("claim %s is %s, not Bound", claim, pvc.Status.Phase)
	}
	return pvc.Spec.VolumeName, nil
}

// claimOf returns the claim behind the pod's volume "data".
func claimOf(p *objects.Pod) string {
	for _, v := range p.Spec.Volumes {
		if v.Name == "data" && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}
