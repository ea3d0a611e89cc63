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
//     "ignore-sigterm", "fail-with /dev/termination-log oops 1"), or one
//     of those that read the pod: "cat FILE" prints the files of its
//     image mounts (runtime.Mount.Image; WithImageFiles gives an image
//     files, WithoutImageVolumes refuses such mounts), the files the
//     sandbox's configuration makes (/etc/hosts with its host aliases,
//     /etc/hostname, /proc/sys/... of its sysctls) and those written in
//     its /dev/shm, and /proc/self/status with the lines of the
//     container's credentials and confinement (Uid, Gid, Groups,
//     NoNewPrivs, Seccomp, from its User and runtime.Security);
//     "fail-with /dev/shm/NAME MESSAGE CODE" writes a file in /dev/shm
//     (the host's /dev/shm, the runtime's, for HostIPC), and "ps"
//     prints the command lines of the containers it sees (all of the
//     pod's running ones with a shared PID namespace, all of the
//     runtime's with HostPID, its target's and those of the others
//     targeting it with a TargetContainerID), as the test program does
//     on the real runtimes; "fill FILE BYTES" writes BYTES bytes to FILE,
//     prints "filled FILE" and runs until stopped: a real file, written
//     as the container starts, when FILE is under one of its mounts (the
//     mount's host path, such as a node agent's emptyDir directory), else
//     bytes counted into its writable layer;
//   - else it runs until stopped.
//
// Image pulls complete at once unless ScriptPull makes them take time on
// the clock and report progress in steps. An image's configuration names
// no user (it runs as root) unless WithImageUser or SetImageUser gives it
// one: ImageUser (runtime.ImageConfigReader) reports it, and a node agent
// enforces runAsNonRoot with it. Only the report changes: a container
// without a User of its own still says uid 0 in its /proc/self/status.
//
// ContainerDiskUsage (runtime.DiskUsageProvider) reports what fill wrote
// to a container's writable layer and the bytes of its logs, or what
// SetDiskUsage says, for tests of limits.ephemeral-storage.
//
// Faults are injected with Inject (a call fails), SetUnavailable (every call
// fails with runtime.ErrUnavailable), Kill (a container dies now) and
// SetHealthy (probes start failing); a whole node that vanishes, agent and
// all, is podkit.Orchestrator.DisconnectNode. History records every call
// and exit, for assertions such as "no container was created twice";
// Configs and SandboxConfigs what containers and sandboxes were created
// with.
//
// Pods get IPs from a CIDR (10.88.0.0/16 unless WithPodCIDR says otherwise;
// give each node's fake its own to keep IPs unique across nodes). Nothing is
// routable: the runtime implements runtime.Dialer, which connects to a
// container's HTTP handler in memory, and that is how a node agent's
// httpGet and tcpSocket probes reach fake pods.
//
// Sandbox and container ids are 16 hexadecimal digits counting up from 1 in
// each runtime: deterministic and unique within one runtime, but the same
// in two.
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
	"hash/maphash"
	"maps"
	"net/netip"
	"slices"
	"strconv"
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
	seq         uint64                // of the last id made, see newID
	sandboxes   map[uint64]*sandbox   // by the seq of their id
	containers  map[uint64]*container // by the seq of their id
	byPod       map[string]*sandbox   // pod uid -> its newest sandbox
	byIP        map[uint32]*sandbox   // the IPv4 address, as a number
	nextIP      netip.Addr
	images      map[string]*image            // by reference
	imageUsers  map[string]string            // the users of images, by reference (see WithImageUser); nil until one is set
	imageFiles  map[string]map[string]string // the files of images, by reference and path (see WithImageFiles); nil until one is set
	specs       map[uint64][]*spec           // by hashSpec
	specSeed    maphash.Seed
	rules       []rule
	pullRules   []pullRule
	faults      []*fault
	history     []Record
	historyHead int // of the oldest record, once a limited history is full
	subs        map[*subscriber]struct{}
	hostShm     map[string]string // the files HostIPC sandboxes' containers wrote in /dev/shm
	handlers    map[string]bool   // the runtime handlers it knows
	noRRO       bool              // WithoutRecursiveReadOnly
	noImageVols bool              // WithoutImageVolumes
	noPodRes    bool              // WithoutPodLevelResources
}

// sandbox keeps of its SandboxConfig only what the fake uses. A pod's
// sandboxes and a sandbox's containers are linked lists rather than slices
// of ids: a node agent lists one pod's at every sync of it, and following
// pointers is cheaper than map lookups, in time and in memory.
type sandbox struct {
	id           string
	uid, ns, pod string
	labels       map[string]string
	created      time.Time
	ipString     string     // of ip, formatted once: sandboxes are listed often
	older        *sandbox   // the pod's sandbox created before this one
	ctrs         *container // oldest first, linked by container.next
	attempt      uint32
	ip           uint32 // as a number, 0 for HostNetwork
	ready        bool
	hostname     string
	spec         *podSpec // nil unless the config has host aliases, a domain, sysctls, a shared or the host's namespaces, or /dev/shm files
}

// image is a present image. Containers point to it: its reference and id
// are read at every listing, and are the same for every container of it.
type image struct {
	ref, id string
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
			r.images[ref] = &image{ref: ref, id: imageID(ref)}
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

// WithRuntimeHandlers makes the runtime know the runtime handlers names
// (see runtime.SandboxConfig.RuntimeHandler) beside "runc". A sandbox's
// handler is recorded (Record.RuntimeHandler) and changes nothing else.
func WithRuntimeHandlers(names ...string) Option {
	return func(r *Runtime) error {
		for _, n := range names {
			if n == "" {
				return errors.New("fake.WithRuntimeHandlers: empty name")
			}
			r.handlers[n] = true
		}
		return nil
	}
}

// WithoutRecursiveReadOnly makes the runtime one that cannot make
// recursively read-only mounts, as the Docker backend: it reports so
// (runtime.RecursiveReadOnlyReporter), and refuses a container that asks
// for one with runtime.ErrRecursiveReadOnly. By default it makes them
// for every handler, as the containerd backend on runc.
func WithoutRecursiveReadOnly() Option {
	return func(r *Runtime) error {
		r.noRRO = true
		return nil
	}
}

// WithoutImageVolumes makes the runtime one that cannot mount images
// (runtime.Mount.Image), as the Docker backend: it refuses a container
// that asks for one with runtime.ErrImageVolume. By default it mounts
// them, as the containerd backend.
func WithoutImageVolumes() Option {
	return func(r *Runtime) error {
		r.noImageVols = true
		return nil
	}
}

// WithoutPodLevelResources makes the runtime one that cannot confine a
// sandbox's containers together, as the Docker backend: it says so
// (runtime.PodResourcesReporter), and RunSandbox refuses
// SandboxConfig.Resources with runtime.ErrPodResources. By default it
// records them (SandboxConfigs), as the containerd backend makes a pod
// cgroup of them.
func WithoutPodLevelResources() Option {
	return func(r *Runtime) error {
		r.noPodRes = true
		return nil
	}
}

// PodLevelResources implements runtime.PodResourcesReporter.
func (r *Runtime) PodLevelResources() bool { return !r.noPodRes }

// RecursiveReadOnlyMounts implements runtime.RecursiveReadOnlyReporter.
func (r *Runtime) RecursiveReadOnlyMounts(handler string) bool { return !r.noRRO }

// New returns an empty fake runtime.
func New(opts ...Option) (*Runtime, error) {
	r := &Runtime{
		clock:        clockwork.NewRealClock(),
		prefix:       netip.MustParsePrefix("10.88.0.0/16"),
		historyLimit: -1,
		sandboxes:    map[uint64]*sandbox{},
		containers:   map[uint64]*container{},
		byPod:        map[string]*sandbox{},
		byIP:         map[uint32]*sandbox{},
		images:       map[string]*image{},
		specs:        map[uint64][]*spec{},
		specSeed:     maphash.MakeSeed(),
		subs:         map[*subscriber]struct{}{},
		handlers:     map[string]bool{"runc": true},
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
	runtime.DiskUsageProvider
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

// idLen is the length of the ids of sandboxes and containers: the seq
// they were made from, in hexadecimal, fixed width so that ids sort in
// creation order.
const idLen = 16

// newID returns a new id of a sandbox or container, and the seq it holds.
// Ids are short: a node agent copies them into every status it publishes.
func (r *Runtime) newID() (uint64, string) {
	r.seq++
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], r.seq)
	var b [idLen]byte
	hex.Encode(b[:], n[:])
	return r.seq, string(b[:])
}

// seqOf returns the seq an id was made from (see newID); ok is false for
// a string newID does not make.
func seqOf(id string) (seq uint64, ok bool) {
	if len(id) != idLen {
		return 0, false
	}
	seq, err := strconv.ParseUint(id, 16, 64)
	return seq, err == nil
}

func imageID(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (r *Runtime) allocIP() (netip.Addr, error) {
	last := lastAddr(r.prefix)
	for range 1 << (32 - r.prefix.Bits()) {
		ip := r.nextIP
		r.nextIP = ip.Next()
		if !r.prefix.Contains(r.nextIP) || r.nextIP == last {
			r.nextIP = r.prefix.Addr().Next()
		}
		if _, used := r.byIP[ip4(ip)]; !used && ip != last {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("fake: no free IP in %s", r.prefix)
}

func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
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
	rec := Record{Op: OpRunSandbox, Namespace: cfg.PodNamespace, Pod: cfg.PodName, PodUID: cfg.PodUID, Attempt: cfg.Attempt,
		RuntimeHandler: cfg.RuntimeHandler}
	if err := r.injected(OpRunSandbox, cfg.PodNamespace, cfg.PodName, cfg.PodUID, "", ""); err != nil {
		r.record(rec, err)
		return "", err
	}
	if h := cfg.RuntimeHandler; h != "" && !r.handlers[h] {
		err := fmt.Errorf("fake: sandbox %s: %w %q", cfg, runtime.ErrUnknownRuntimeHandler, h)
		r.record(rec, err)
		return "", err
	}
	if cfg.Resources != nil && r.noPodRes {
		err := fmt.Errorf("fake: sandbox %s: %w", cfg, runtime.ErrPodResources)
		r.record(rec, err)
		return "", err
	}
	var ip netip.Addr
	if !cfg.HostNetwork {
		var err error
		if ip, err = r.allocIP(); err != nil {
			r.record(rec, err)
			return "", err
		}
	}
	seq, id := r.newID()
	sb := &sandbox{id: id, uid: cfg.PodUID, ns: cfg.PodNamespace, pod: cfg.PodName,
		labels: maps.Clone(cfg.Labels), attempt: cfg.Attempt, ready: true, created: r.clock.Now(),
		hostname: cfg.Hostname, spec: newPodSpec(cfg)}
	if ip.IsValid() {
		sb.ip, sb.ipString = ip4(ip), ip.String()
		r.byIP[sb.ip] = sb
	}
	r.sandboxes[seq] = sb
	sb.older = r.byPod[sb.uid]
	r.byPod[sb.uid] = sb
	rec.ID = sb.id
	r.record(rec, nil)
	return sb.id, nil
}

func (r *Runtime) sandbox(id string) (*sandbox, error) {
	if sb := r.lookupSandbox(id); sb != nil {
		return sb, nil
	}
	return nil, fmt.Errorf("fake: sandbox %s: %w", id, runtime.ErrNotFound)
}

// lookupSandbox returns the sandbox with that id, or nil.
func (r *Runtime) lookupSandbox(id string) *sandbox {
	seq, ok := seqOf(id)
	if !ok {
		return nil
	}
	if sb := r.sandboxes[seq]; sb != nil && sb.id == id {
		return sb
	}
	return nil
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
	for c := sb.ctrs; c != nil; c = c.next {
		if c.state == runtime.ContainerRunning {
			r.exit(c, 137, "Error", r.clock.Now())
		}
	}
	if sb.ready {
		sb.ready = false
		if sb.ip != 0 {
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
	for sb.ctrs != nil {
		r.removeContainer(sb.ctrs)
	}
	seq, _ := seqOf(id)
	delete(r.sandboxes, seq)
	if r.byPod[sb.uid] == sb {
		if sb.older != nil {
			r.byPod[sb.uid] = sb.older
		} else {
			delete(r.byPod, sb.uid)
		}
	} else {
		for x := r.byPod[sb.uid]; x != nil; x = x.older {
			if x.older == sb {
				x.older = sb.older
				break
			}
		}
	}
	r.record(rec, nil)
	return nil
}

// ListSandboxes implements runtime.Runtime, in creation order.
func (r *Runtime) ListSandboxes(ctx context.Context, f runtime.Filter) ([]runtime.SandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return nil, err
	}
	if uid, ok := f.Labels[runtime.LabelPodUID]; ok {
		// The pod's sandboxes are linked newest first: fill from the end.
		n := 0
		for sb := r.byPod[uid]; sb != nil; sb = sb.older {
			n++
		}
		out, i := make([]runtime.SandboxStatus, n), n
		for sb := r.byPod[uid]; sb != nil; sb = sb.older {
			if sb.matches(f) {
				i--
				out[i] = sb.status()
			}
		}
		return out[i:], nil
	}
	var sbs []*sandbox
	if f.SandboxID != "" {
		if sb := r.lookupSandbox(f.SandboxID); sb != nil && sb.matches(f) {
			sbs = append(sbs, sb)
		}
	} else {
		sbs = inOrder(r.sandboxes, func(sb *sandbox) bool { return sb.matches(f) })
	}
	out := make([]runtime.SandboxStatus, len(sbs))
	for i, sb := range sbs {
		out[i] = sb.status()
	}
	return out, nil
}

func (sb *sandbox) matches(f runtime.Filter) bool {
	return (f.SandboxID == "" || f.SandboxID == sb.id) && labelsMatch(sb.labels, f.Labels)
}

func (sb *sandbox) status() runtime.SandboxStatus {
	st := runtime.SandboxStatus{ID: sb.id, State: runtime.SandboxNotReady, CreatedAt: sb.created,
		Labels:  sb.labels, // read-only, see the package doc
		Attempt: sb.attempt}
	if sb.ready {
		st.State, st.IP = runtime.SandboxReady, sb.ipString
	}
	return st
}

// inOrder returns the values of m, sandboxes or containers by the seq of
// their ids, that keep accepts, in creation order.
func inOrder[T any](m map[uint64]*T, keep func(*T) bool) []*T {
	type entry struct {
		seq uint64
		v   *T
	}
	es := make([]entry, 0, len(m))
	for seq, v := range m {
		if keep(v) {
			es = append(es, entry{seq, v})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]*T, len(es))
	for i, e := range es {
		out[i] = e.v
	}
	return out
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
	if err == nil && r.images[ref] == nil {
		r.images[ref] = &image{ref: ref, id: imageID(ref)}
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
