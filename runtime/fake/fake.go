// Package fake is an in-memory container runtime for tests: pods "run"
// without processes, deterministically, on an injectable clock, fast enough
// for 150,000 pods. It passes runtime/runtimetest like the real backends.
//
// What a fake container does is scripted, most specific first:
//
//   - rules set with Script (the most recent matching rule wins), by pod,
//     container name or image: run forever, exit with a code after a
//     duration, fail probes, use CPU and memory, answer HTTP;
//   - else its command line, when it is one of the fake commands
//     ("exit 3", "exit 1 5s", "sleep 10", "print a b", "eprint oops",
//     "ignore-sigterm");
//   - else it runs until stopped.
//
// Image pulls complete at once unless ScriptPull makes them take time on
// the clock and report progress in steps.
//
// Faults are injected with Inject (a call fails), SetUnavailable (every call
// fails with runtime.ErrUnavailable), Kill (a container dies now) and
// SetHealthy (probes start failing). History records every call and exit,
// for assertions such as "no container was created twice".
//
// Pods get IPs from a CIDR (10.88.0.0/16 unless WithPodCIDR says otherwise;
// give each node's fake its own to keep IPs unique across nodes). Nothing is
// routable: the runtime implements runtime.Dialer, which connects to a
// container's HTTP handler in memory, and that is how a node agent's
// httpGet and tcpSocket probes reach fake pods.
//
// The Labels of the statuses ListSandboxes and ListContainers return are
// the runtime's own copy, shared and read-only: a node agent lists its pods
// at every sync, and copying every label map each time was most of what
// the fake cost at scale. The labels of a sandbox or container never change
// after it is created.
package fake

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/runtime"
)

// Version is what the fake reports as its runtime version.
const Version = "0.1.0"

// Runtime is the fake runtime. It is safe for concurrent use.
type Runtime struct {
	clock        clockwork.Clock
	prefix       netip.Prefix
	historyLimit int

	mu          sync.Mutex
	closed      bool
	unavailable bool
	seq         uint64
	sandboxes   map[string]*sandbox
	containers  map[string]*container
	byPod       map[string]*podIndex // pod uid
	byIP        map[netip.Addr]*sandbox
	nextIP      netip.Addr
	images      map[string]string // ref -> image id
	rules       []rule
	pullRules   []pullRule
	faults      []*fault
	history     []Record
	subs        map[*subscriber]struct{}
}

type podIndex struct {
	sandboxes  []string
	containers []string
}

// sandbox keeps of its SandboxConfig only what the fake uses.
type sandbox struct {
	id           string
	seq          uint64
	uid, ns, pod string
	labels       map[string]string
	attempt      uint32
	state        runtime.SandboxState
	ip           netip.Addr
	ipString     string // of ip, formatted once: sandboxes are listed often
	created      time.Time
}

// Option configures a Runtime.
type Option func(*Runtime) error

// WithClock sets the clock of timestamps, scripted exits, grace periods and
// CPU accounting (default the real clock).
func WithClock(c clockwork.Clock) Option {
	return func(r *Runtime) error {
		if c == nil {
			return errors.New("fake.WithClock: clock is nil")
		}
		r.clock = c
		return nil
	}
}

// WithPodCIDR sets the range pod IPs come from (default "10.88.0.0/16").
func WithPodCIDR(cidr string) Option {
	return func(r *Runtime) error {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("fake.WithPodCIDR: %w", err)
		}
		if !p.Addr().Is4() || p.Bits() > 30 {
			return fmt.Errorf("fake.WithPodCIDR %s: want an IPv4 range of at least 4 addresses", cidr)
		}
		r.prefix = p.Masked()
		return nil
	}
}

// WithImages makes images present from the start, as if pulled.
func WithImages(refs ...string) Option {
	return func(r *Runtime) error {
		for _, ref := range refs {
			r.images[ref] = imageID(ref)
		}
		return nil
	}
}

// WithHistoryLimit keeps only the last n records of the history (0 keeps
// none), bounding memory in long or large runs. The default keeps all.
func WithHistoryLimit(n int) Option {
	return func(r *Runtime) error {
		if n < 0 {
			return errors.New("fake.WithHistoryLimit: n must not be negative")
		}
		r.historyLimit = n
		return nil
	}
}

// New returns an empty fake runtime.
func New(opts ...Option) (*Runtime, error) {
	r := &Runtime{
		clock:        clockwork.NewRealClock(),
		prefix:       netip.MustParsePrefix("10.88.0.0/16"),
		historyLimit: -1,
		sandboxes:    map[string]*sandbox{},
		containers:   map[string]*container{},
		byPod:        map[string]*podIndex{},
		byIP:         map[netip.Addr]*sandbox{},
		images:       map[string]string{},
		subs:         map[*subscriber]struct{}{},
	}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	r.nextIP = r.prefix.Addr().Next()
	return r, nil
}

// Clock returns the runtime's clock.
func (r *Runtime) Clock() clockwork.Clock { return r.clock }

var _ interface {
	runtime.Runtime
	runtime.LogReader
	runtime.Execer
	runtime.StatsProvider
	runtime.Dialer
	runtime.EventWatcher
} = (*Runtime)(nil)

// Version implements runtime.Runtime.
func (r *Runtime) Version(ctx context.Context) (runtime.VersionInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return runtime.VersionInfo{}, err
	}
	return runtime.VersionInfo{Name: "fake", Version: Version}, nil
}

// Close implements runtime.Runtime: later calls fail with ErrUnavailable and
// event watches end. Containers keep their state; timers of scripted exits
// are stopped.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	for _, c := range r.containers {
		c.stopTimer()
	}
	r.endSubscribers()
	return nil
}

// SetUnavailable makes every call fail with runtime.ErrUnavailable (and
// ends event watches) until called with false. Containers keep running and
// exiting meanwhile, as they do when a daemon's socket is gone.
func (r *Runtime) SetUnavailable(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unavailable = down
	if down {
		r.endSubscribers()
	}
}

func (r *Runtime) check() error {
	if r.closed {
		return fmt.Errorf("fake runtime is closed: %w", runtime.ErrUnavailable)
	}
	if r.unavailable {
		return fmt.Errorf("fake runtime: connection refused: %w", runtime.ErrUnavailable)
	}
	return nil
}

// Script makes containers matching m behave as b from their next start on;
// the most recent matching rule wins.
func (r *Runtime) Script(m Match, b Behavior) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rules = append(r.rules, rule{m, b})
}

// ScriptPull makes pulls of the images m matches go as p from the next one
// on; the most recent matching rule wins. A pull belongs to no pod: m
// names an image (see Image), and one naming a pod or container matches
// no pull.
func (r *Runtime) ScriptPull(m Match, p Pull) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pullRules = append(r.pullRules, pullRule{m, p})
}

// Inject adds a fault; the returned function removes it.
func (r *Runtime) Inject(f Fault) (remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ft := &fault{Fault: f, left: f.Times}
	r.faults = append(r.faults, ft)
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.faults = slices.DeleteFunc(r.faults, func(x *fault) bool { return x == ft })
	}
}

// ClearFaults removes every injected fault.
func (r *Runtime) ClearFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = nil
}

// injected returns the error of the first fault matching a call, using up
// one of its times.
func (r *Runtime) injected(op Op, ns, pod, uid, ctr, image string) error {
	for i, f := range r.faults {
		if f.Op != op || !f.Match.matches(ns, pod, uid, ctr, image) {
			continue
		}
		if f.Times > 0 {
			f.left--
			if f.left <= 0 {
				r.faults = slices.Delete(r.faults, i, i+1)
			}
		}
		err := f.Err
		if err == nil {
			err = errInjected
		}
		return fmt.Errorf("fake %s: %w", op, err)
	}
	return nil
}

func (r *Runtime) newID(kind string) string {
	r.seq++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], r.seq)
	sum := sha256.Sum256(append([]byte(kind), b[:]...))
	return hex.EncodeToString(sum[:])
}

func imageID(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (r *Runtime) index(uid string) *podIndex {
	ix := r.byPod[uid]
	if ix == nil {
		ix = &podIndex{}
		r.byPod[uid] = ix
	}
	return ix
}

func (r *Runtime) allocIP() (netip.Addr, error) {
	last := lastAddr(r.prefix)
	for range 1 << (32 - r.prefix.Bits()) {
		ip := r.nextIP
		r.nextIP = ip.Next()
		if !r.prefix.Contains(r.nextIP) || r.nextIP == last {
			r.nextIP = r.prefix.Addr().Next()
		}
		if _, used := r.byIP[ip]; !used && ip != last {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("fake: no free IP in %s", r.prefix)
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a)
}

// RunSandbox implements runtime.Runtime.
func (r *Runtime) RunSandbox(ctx context.Context, cfg *runtime.SandboxConfig) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return "", err
	}
	rec := Record{Op: OpRunSandbox, Namespace: cfg.PodNamespace, Pod: cfg.PodName, PodUID: cfg.PodUID, Attempt: cfg.Attempt}
	if err := r.injected(OpRunSandbox, cfg.PodNamespace, cfg.PodName, cfg.PodUID, "", ""); err != nil {
		r.record(rec, err)
		return "", err
	}
	id := r.newID("sandbox")
	sb := &sandbox{id: id, seq: r.seq, uid: cfg.PodUID, ns: cfg.PodNamespace, pod: cfg.PodName,
		labels: maps.Clone(cfg.Labels), attempt: cfg.Attempt, state: runtime.SandboxReady, created: r.clock.Now()}
	if !cfg.HostNetwork {
		ip, err := r.allocIP()
		if err != nil {
			r.record(rec, err)
			return "", err
		}
		sb.ip, sb.ipString = ip, ip.String()
		r.byIP[ip] = sb
	}
	r.sandboxes[sb.id] = sb
	ix := r.index(cfg.PodUID)
	ix.sandboxes = append(ix.sandboxes, sb.id)
	rec.ID = sb.id
	r.record(rec, nil)
	return sb.id, nil
}

func (r *Runtime) sandbox(id string) (*sandbox, error) {
	sb := r.sandboxes[id]
	if sb == nil {
		return nil, fmt.Errorf("fake: sandbox %s: %w", short(id), runtime.ErrNotFound)
	}
	return sb, nil
}

// StopSandbox implements runtime.Runtime.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return err
	}
	sb, err := r.sandbox(id)
	if err != nil {
		return err
	}
	rec := sb.record(OpStopSandbox)
	if err := r.injected(OpStopSandbox, sb.ns, sb.pod, sb.uid, "", ""); err != nil {
		r.record(rec, err)
		return err
	}
	r.stopSandbox(sb)
	r.record(rec, nil)
	return nil
}

func (r *Runtime) stopSandbox(sb *sandbox) {
	for _, cid := range r.byPod[sb.uid].containers {
		if c := r.containers[cid]; c != nil && c.sandboxID == sb.id && c.state == runtime.ContainerRunning {
			r.exit(c, 137, "Error", r.clock.Now())
		}
	}
	if sb.state == runtime.SandboxReady {
		sb.state = runtime.SandboxNotReady
		if sb.ip.IsValid() {
			delete(r.byIP, sb.ip)
		}
		r.publish(runtime.Event{Type: runtime.EventSandboxStopped, ID: sb.id, SandboxID: sb.id, PodUID: sb.uid, Time: r.clock.Now()})
	}
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return err
	}
	sb, err := r.sandbox(id)
	if err != nil {
		return err
	}
	rec := sb.record(OpRemoveSandbox)
	if err := r.injected(OpRemoveSandbox, sb.ns, sb.pod, sb.uid, "", ""); err != nil {
		r.record(rec, err)
		return err
	}
	r.stopSandbox(sb)
	ix := r.byPod[sb.uid]
	for _, cid := range slices.Clone(ix.containers) {
		if c := r.containers[cid]; c != nil && c.sandboxID == id {
			r.removeContainer(c)
		}
	}
	delete(r.sandboxes, id)
	ix.sandboxes = slices.DeleteFunc(ix.sandboxes, func(s string) bool { return s == id })
	r.dropIndex(sb.uid)
	r.record(rec, nil)
	return nil
}

func (r *Runtime) dropIndex(uid string) {
	if ix := r.byPod[uid]; ix != nil && len(ix.sandboxes) == 0 && len(ix.containers) == 0 {
		delete(r.byPod, uid)
	}
}

// ListSandboxes implements runtime.Runtime, in creation order.
func (r *Runtime) ListSandboxes(ctx context.Context, f runtime.Filter) ([]runtime.SandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return nil, err
	}
	var sbs []*sandbox
	if uid, ok := f.Labels[runtime.LabelPodUID]; ok {
		if ix := r.byPod[uid]; ix != nil {
			sbs = make([]*sandbox, 0, len(ix.sandboxes))
			for _, id := range ix.sandboxes {
				sbs = append(sbs, r.sandboxes[id])
			}
		}
	} else {
		sbs = slices.Collect(maps.Values(r.sandboxes))
	}
	slices.SortFunc(sbs, func(a, b *sandbox) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]runtime.SandboxStatus, 0, len(sbs))
	for _, sb := range sbs {
		if f.SandboxID != "" && f.SandboxID != sb.id || !labelsMatch(sb.labels, f.Labels) {
			continue
		}
		st := runtime.SandboxStatus{ID: sb.id, State: sb.state, CreatedAt: sb.created, Labels: sb.labels, Attempt: sb.attempt}
		if sb.state == runtime.SandboxReady {
			st.IP = sb.ipString
		}
		out = append(out, st)
	}
	return out, nil
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// ImagePresent implements runtime.Runtime.
func (r *Runtime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return false, err
	}
	_, ok := r.images[ref]
	return ok, nil
}

// PullImage implements runtime.Runtime. Every reference pulls, except those
// whose registry host ends in ".invalid" (a reserved top-level domain) and
// those an OpPullImage fault matches. A pull goes as ScriptPull says (by
// default at once, reporting DefaultImageSize); progress is reported to
// opts.Progress without the runtime's lock held, so the callback may call
// the runtime.
func (r *Runtime) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	r.mu.Lock()
	if err := r.check(); err != nil {
		r.mu.Unlock()
		return err
	}
	rec := Record{Op: OpPullImage, Image: ref}
	err := r.injected(OpPullImage, "", "", "", "", ref)
	if err == nil && unresolvable(ref) {
		err = fmt.Errorf("fake: pull %s: dial tcp: lookup %s: no such host", ref, host(ref))
	}
	if err != nil {
		if !errors.Is(err, runtime.ErrImagePull) {
			err = fmt.Errorf("%w: %w", runtime.ErrImagePull, err)
		}
		r.record(rec, err)
		r.mu.Unlock()
		return err
	}
	p := r.pullScript(ref)
	r.mu.Unlock()

	err = r.pull(ctx, ref, p, opts.Progress)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		err = r.check()
	}
	if err == nil {
		r.images[ref] = imageID(ref)
	}
	r.record(rec, err)
	return err
}

// pullScript returns how a pull of ref goes: the most recent matching
// ScriptPull. r.mu is held.
func (r *Runtime) pullScript(ref string) Pull {
	for i := len(r.pullRules) - 1; i >= 0; i-- {
		if r.pullRules[i].m.matches("", "", "", "", ref) {
			return r.pullRules[i].p
		}
	}
	return Pull{}
}

// pull reports the progress of a pull of ref, taking p.Duration on the
// runtime's clock.
func (r *Runtime) pull(ctx context.Context, ref string, p Pull, progress func(runtime.PullProgress)) error {
	size, steps := p.Size, max(p.Steps, 1)
	if size <= 0 {
		size = DefaultImageSize
	}
	report := func(status string, cur int64) {
		if progress != nil {
			progress(runtime.PullProgress{Status: status, Current: cur, Total: size})
		}
	}
	report("Downloading", 0)
	for i := 1; i <= steps; i++ {
		if p.Duration > 0 {
			// Even steps, the last ending at exactly p.Duration.
			at := func(i int) time.Duration { return p.Duration * time.Duration(i) / time.Duration(steps) }
			t := r.clock.NewTimer(at(i) - at(i-1))
			select {
			case <-t.Chan():
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("fake: pull %s: %w", ref, ctx.Err())
			}
		}
		status := "Downloading"
		if i == steps {
			status = "Pull complete"
		}
		report(status, size*int64(i)/int64(steps))
	}
	return nil
}

func host(ref string) string {
	h, _, _ := strings.Cut(ref, "/")
	return h
}

func unresolvable(ref string) bool {
	if !strings.Contains(ref, "/") {
		return false
	}
	h := host(ref)
	h, _, _ = strings.Cut(h, ":")
	return strings.HasSuffix(h, ".invalid")
}

// RemoveImage forgets an image, as if it was garbage collected.
func (r *Runtime) RemoveImage(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.images, ref)
}

func (sb *sandbox) record(op Op) Record {
	return Record{Op: op, ID: sb.id, SandboxID: sb.id, Namespace: sb.ns, Pod: sb.pod, PodUID: sb.uid, Attempt: sb.attempt}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
