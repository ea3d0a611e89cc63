package reconcile

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// PodMetrics is the resource usage of one pod at one moment, as
// Kubernetes' metrics API (metrics.k8s.io PodMetrics) reports it: per
// container, CPU in cores (a rate over Window) and memory as the working
// set in bytes.
type PodMetrics struct {
	Namespace string
	Name      string
	// Labels are the pod's, for selection.
	Labels    map[string]string
	Timestamp time.Time
	// Window is the interval the CPU rate was measured over.
	Window     time.Duration
	Containers []ContainerMetrics
}

// ContainerMetrics is the usage of one container.
type ContainerMetrics struct {
	Name  string
	Usage objects.ResourceList
}

// Usage returns the pod's usage of a resource: the sum over its
// containers, and whether any container reported it.
func (m *PodMetrics) Usage(name objects.ResourceName) (objects.Quantity, bool) {
	var sum objects.Quantity
	found := false
	for _, c := range m.Containers {
		if q, ok := c.Usage[name]; ok {
			sum.Add(q)
			found = true
		}
	}
	return sum, found
}

// containerUsage is Usage, or with a container that container's usage of
// a resource, and whether it reported it.
func (m *PodMetrics) containerUsage(container string, name objects.ResourceName) (objects.Quantity, bool) {
	if container == "" {
		return m.Usage(name)
	}
	for _, c := range m.Containers {
		if c.Name == container {
			q, ok := c.Usage[name]
			return q, ok
		}
	}
	return objects.Quantity{}, false
}

// MetricsSource gives the HorizontalPodAutoscaler the usage of pods: the
// role of Kubernetes' metrics server.
//
// PodMetrics returns the latest metrics of the pods in namespace whose
// labels selector matches; pods without metrics are left out. It is called
// from the autoscaler's workers concurrently and must be safe for that.
type MetricsSource interface {
	PodMetrics(ctx context.Context, namespace string, selector objects.Selector) ([]PodMetrics, error)
}

// MemoryMetrics is a MetricsSource held in memory, which node agents feed
// from their runtimes' statistics (ObserveContainer) and tests write
// directly (SetPodMetrics). The zero value is not usable; call
// NewMemoryMetrics. It is safe for concurrent use.
//
// Statistics cost a read of every running container, so the StatsScrapers
// feeding a MemoryMetrics scrape only while metrics are in demand: from a
// PodMetrics call (an autoscaler's sync, or a host's read) until
// MetricsIdle after the last one. A PodMetrics call that starts the demand
// wakes the scrapers and waits for them to take two samples WarmupWindow
// apart, so that it already answers with memory and CPU rates, as a
// metrics server that scrapes all the time would.
type MemoryMetrics struct {
	clock clockwork.Clock

	mu   sync.Mutex
	pods map[objects.Key]*podMetricsEntry

	asked   time.Time              // the last PodMetrics call
	wake    chan struct{}          // closed, and replaced, when demand begins
	feeders map[*StatsScraper]bool // running scrapers: true while one owes the warm-up
	warming int                    // feeders owing the warm-up
	warm    chan struct{}          // closed when warming reaches 0; nil when none do

	custom customMetrics // see CustomMetricsSource
}

// MetricsIdle is how long after the last PodMetrics call the scrapers of
// a MemoryMetrics go on scraping: longer than any autoscaler's sync
// period in practice, so that an autoscaler keeps its metrics warm.
const MetricsIdle = 5 * time.Minute

// WarmupWindow separates the two samples a scraper takes when demand
// begins: CPU usage is a rate between samples.
const WarmupWindow = time.Second

// warmupWait bounds how long a PodMetrics call that starts the demand
// waits for the scrapers' warm-up (a slow runtime answers with what it has
// by then).
const warmupWait = 10 * time.Second

type podMetricsEntry struct {
	uid     string
	metrics PodMetrics
	cpu     map[string]cpuSample // last cumulative CPU sample per container
}

type cpuSample struct {
	at    time.Time
	nanos uint64
}

// MemoryMetricsOption configures a MemoryMetrics.
type MemoryMetricsOption func(*MemoryMetrics)

// WithMetricsClock sets the clock that times the demand for metrics
// (default the real clock); give it the clock of the scrapers.
func WithMetricsClock(clk clockwork.Clock) MemoryMetricsOption {
	return func(m *MemoryMetrics) {
		if clk != nil {
			m.clock = clk
		}
	}
}

// NewMemoryMetrics returns an empty MemoryMetrics.
func NewMemoryMetrics(opts ...MemoryMetricsOption) *MemoryMetrics {
	m := &MemoryMetrics{clock: clockwork.NewRealClock(), pods: map[objects.Key]*podMetricsEntry{},
		wake: make(chan struct{}), feeders: map[*StatsScraper]bool{}}
	m.custom.init()
	for _, o := range opts {
		o(m)
	}
	return m
}

// inDemandLocked reports whether metrics were asked for within MetricsIdle
// of now. m.mu is held.
func (m *MemoryMetrics) inDemandLocked(now time.Time) bool {
	return !m.asked.IsZero() && now.Sub(m.asked) < MetricsIdle
}

// ask records a PodMetrics call. When it starts the demand, it wakes the
// scrapers and returns a channel closed once they are warm.
func (m *MemoryMetrics) ask() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if !m.inDemandLocked(now) && len(m.feeders) > 0 {
		for sc := range m.feeders {
			if !m.feeders[sc] {
				m.feeders[sc] = true
				m.warming++
			}
		}
		if m.warm == nil {
			m.warm = make(chan struct{})
		}
		close(m.wake)
		m.wake = make(chan struct{})
	}
	m.asked = now
	if m.warm == nil {
		return nil
	}
	return m.warm
}

// join registers a running scraper.
func (m *MemoryMetrics) join(sc *StatsScraper) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.feeders[sc] = false
}

// leave unregisters a scraper, settling a warm-up it owed.
func (m *MemoryMetrics) leave(sc *StatsScraper) {
	m.warmed(sc)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.feeders, sc)
}

// demand returns what a scraper should do: scrape (metrics are in demand),
// take the warm-up samples first (demand began since it last looked), and
// the channel closed when demand next begins.
func (m *MemoryMetrics) demand(sc *StatsScraper) (scrape, warmup bool, wake <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inDemandLocked(m.clock.Now()), m.feeders[sc], m.wake
}

// warmed records that sc took its warm-up samples.
func (m *MemoryMetrics) warmed(sc *StatsScraper) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.feeders[sc] {
		return
	}
	m.feeders[sc] = false
	m.warming--
	if m.warming == 0 && m.warm != nil {
		close(m.warm)
		m.warm = nil
	}
}

// SetPodMetrics stores the metrics of a pod, replacing what it had.
func (m *MemoryMetrics) SetPodMetrics(pm PodMetrics) {
	pm.Labels = maps.Clone(pm.Labels)
	pm.Containers = slices.Clone(pm.Containers)
	for i := range pm.Containers {
		pm.Containers[i].Usage = maps.Clone(pm.Containers[i].Usage)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := objects.Key{Namespace: pm.Namespace, Name: pm.Name}
	e := m.pods[key]
	if e == nil {
		e = &podMetricsEntry{}
		m.pods[key] = e
	}
	e.metrics = pm
}

// DeletePod forgets a pod's metrics, its custom ones too, when it is gone.
func (m *MemoryMetrics) DeletePod(namespace, name string) {
	key := objects.Key{Namespace: namespace, Name: name}
	m.custom.deletePod(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pods, key)
}

// ObserveContainer records a runtime statistics sample of one container of
// pod. Memory is the sample's working set; CPU is the rate of the
// cumulative usage since the container's previous sample, so it appears
// from the second sample on. A pod replaced by one of the same name (a
// new uid) starts afresh.
func (m *MemoryMetrics) ObserveContainer(pod *objects.Pod, container string, st runtime.Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := pod.Key()
	e := m.pods[key]
	if e == nil || e.uid != pod.UID {
		e = &podMetricsEntry{uid: pod.UID, cpu: map[string]cpuSample{}}
		m.pods[key] = e
	}
	if e.cpu == nil {
		e.cpu = map[string]cpuSample{}
	}
	e.metrics.Namespace, e.metrics.Name = pod.Namespace, pod.Name
	if !maps.Equal(e.metrics.Labels, pod.Labels) { // a scraper sees the same labels every time: no copy
		e.metrics.Labels = maps.Clone(pod.Labels)
	}
	// The usage map of a container is updated in place: PodMetrics hands
	// out copies.
	i := slices.IndexFunc(e.metrics.Containers, func(c ContainerMetrics) bool { return c.Name == container })
	if i < 0 {
		e.metrics.Containers = append(e.metrics.Containers, ContainerMetrics{Name: container, Usage: objects.ResourceList{}})
		i = len(e.metrics.Containers) - 1
	}
	usage := e.metrics.Containers[i].Usage
	usage[objects.ResourceMemory] = objects.NewQuantity(int64(st.MemoryWorkingSetBytes), objects.BinarySI)
	prev, had := e.cpu[container]
	e.cpu[container] = cpuSample{at: st.Timestamp, nanos: st.CPUUsageNanos}
	if had && st.Timestamp.After(prev.at) && st.CPUUsageNanos >= prev.nanos {
		window := st.Timestamp.Sub(prev.at)
		milli := int64((st.CPUUsageNanos - prev.nanos) * 1000 / uint64(window.Nanoseconds()))
		usage[objects.ResourceCPU] = objects.NewMilliQuantity(milli, objects.DecimalSI)
		e.metrics.Window = window
	} // else the last rate, if any, stays
	e.metrics.Timestamp = st.Timestamp
}

// PodMetrics implements MetricsSource. A call that starts the demand for
// metrics waits (up to ctx, or 10 seconds) for the running scrapers' first
// samples.
func (m *MemoryMetrics) PodMetrics(ctx context.Context, namespace string, selector objects.Selector) ([]PodMetrics, error) {
	if warm := m.ask(); warm != nil {
		t := m.clock.NewTimer(warmupWait)
		select {
		case <-warm:
		case <-t.Chan():
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PodMetrics
	for key, e := range m.pods {
		if key.Namespace != namespace || (selector != nil && !selector.Matches(e.metrics.Labels)) {
			continue
		}
		pm := e.metrics
		pm.Labels = maps.Clone(pm.Labels)
		pm.Containers = make([]ContainerMetrics, len(e.metrics.Containers))
		for i, c := range e.metrics.Containers {
			pm.Containers[i] = ContainerMetrics{Name: c.Name, Usage: maps.Clone(c.Usage)}
		}
		out = append(out, pm)
	}
	slices.SortFunc(out, func(a, b PodMetrics) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// Prune forgets the metrics of pods that no longer exist in s, for a
// feeder that does not call DeletePod itself.
func (m *MemoryMetrics) Prune(ctx context.Context, s store.Store) error {
	m.mu.Lock()
	keys := slices.Collect(maps.Keys(m.pods))
	m.mu.Unlock()
	gone := map[objects.Key]bool{}
	err := s.View(ctx, func(tx store.ReadTx) error {
		for _, k := range keys {
			if _, err := tx.Get(kindPod, k); errors.Is(err, store.ErrNotFound) {
				gone[k] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range gone {
		delete(m.pods, k)
	}
	return nil
}

// DefaultScrapeInterval is how often a StatsScraper reads its runtime, as
// the metrics server scrapes the kubelets.
const DefaultScrapeInterval = 15 * time.Second

// StatsScraper feeds a MemoryMetrics from the statistics of one node's
// container runtime: the part of the kubelet and metrics server that
// reports pod usage. Every interval it reads the usage of the running
// containers the runtime holds for the node (labelled runtime.LabelNode)
// and records it against their pods; pods that no longer run are
// forgotten. A runtime that does not implement runtime.StatsProvider
// reports nothing.
type StatsScraper struct {
	store    store.Store
	node     string
	rt       runtime.Runtime
	metrics  *MemoryMetrics
	clock    clockwork.Clock
	interval time.Duration
	fed      map[objects.Key]bool // the pods this scraper reported last time
	// hook, a test's, is called with "warmup" when Run waits between its
	// warm-up samples and with "round" when it waits for the next round.
	hook func(stage string)
}

// NewStatsScraper returns a scraper of node's runtime rt into ms, reading
// pods from s. interval <= 0 means DefaultScrapeInterval; clk nil the real
// clock.
func NewStatsScraper(s store.Store, node string, rt runtime.Runtime, ms *MemoryMetrics, clk clockwork.Clock, interval time.Duration) *StatsScraper {
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	if interval <= 0 {
		interval = DefaultScrapeInterval
	}
	return &StatsScraper{store: s, node: node, rt: rt, metrics: ms, clock: clk, interval: interval, fed: map[objects.Key]bool{}}
}

// Run scrapes every interval while metrics are in demand (see
// MemoryMetrics), until ctx ends. When demand begins it scrapes at once,
// and again WarmupWindow later; when demand ends it forgets what it fed.
// Failed scrapes (a runtime that is down) are retried at the next
// interval.
func (sc *StatsScraper) Run(ctx context.Context) error {
	sc.metrics.join(sc)
	defer sc.metrics.leave(sc)
	t := sc.clock.NewTicker(sc.interval)
	defer t.Stop()
	for {
		scrape, warmup, wake := sc.metrics.demand(sc)
		switch {
		case warmup:
			_ = sc.Scrape(ctx)
			w := sc.clock.NewTimer(WarmupWindow)
			if sc.hook != nil {
				sc.hook("warmup")
			}
			select {
			case <-ctx.Done():
				w.Stop()
				return nil
			case <-w.Chan():
			}
			_ = sc.Scrape(ctx)
			sc.metrics.warmed(sc)
		case scrape:
			_ = sc.Scrape(ctx)
		default:
			sc.forget()
		}
		if sc.hook != nil {
			sc.hook("round")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		case <-wake:
		}
	}
}

// forget drops the metrics the scraper fed, when nobody wants them.
func (sc *StatsScraper) forget() {
	for k := range sc.fed {
		sc.metrics.DeletePod(k.Namespace, k.Name)
	}
	clear(sc.fed)
}

// Scrape reads the runtime's statistics once. It is not safe to call
// concurrently with itself (Run calls it).
func (sc *StatsScraper) Scrape(ctx context.Context) error {
	sp, ok := sc.rt.(runtime.StatsProvider)
	if !ok {
		return nil
	}
	cs, err := sc.rt.ListContainers(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: sc.node}})
	if err != nil {
		return err
	}
	byPod := map[objects.Key][]runtime.ContainerStatus{}
	for _, c := range cs {
		if c.State != runtime.ContainerRunning {
			continue
		}
		k := objects.Key{Namespace: c.Labels[runtime.LabelPodNamespace], Name: c.Labels[runtime.LabelPodName]}
		byPod[k] = append(byPod[k], c)
	}
	pods := map[objects.Key]*objects.Pod{}
	err = sc.store.View(ctx, func(tx store.ReadTx) error {
		// Only metadata is read: peek when the store can, rather than
		// copy every pod of the node at every scrape.
		for k, cs := range byPod {
			o, err := store.Peek(tx, kindPod, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if p := o.(*objects.Pod); p.UID == cs[0].Labels[runtime.LabelPodUID] {
				pods[k] = p
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fed := map[objects.Key]bool{}
	var errs []error
	for k, p := range pods {
		for _, c := range byPod[k] {
			st, err := sp.ContainerStats(ctx, c.ID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			name := c.Labels[runtime.LabelContainerName]
			if name == "" {
				name = c.Name
			}
			sc.metrics.ObserveContainer(p, name, st)
			fed[k] = true
		}
	}
	for k := range sc.fed {
		if !fed[k] {
			sc.metrics.DeletePod(k.Namespace, k.Name)
		}
	}
	sc.fed = fed
	return errors.Join(errs...)
}
