// Package nodeagent is podkit's kubelet: for one node, it makes a container
// runtime run the pods bound to that node and reports what it sees.
//
// An Agent watches the pods whose spec.nodeName is its node. Each pod has a
// worker (a goroutine while it has work, a timer while it waits) that
// converges the runtime on the pod, level-based, as the kubelet's pod
// workers do: the sandbox first; images per imagePullPolicy (one pull of
// an image however many pods wait for it, its progress an event every few
// seconds to each), and those of the image volumes a container mounts per
// their pullPolicy, before it is created; volumes; init containers in order, each to success,
// or for a sidecar (restartPolicy Always) until it has started, then kept
// running and restarted whatever the pod's restartPolicy; then the
// containers, restarted with CrashLoopBackOff per the pod's restartPolicy
// or their own restartPolicy and restartPolicyRules (Kubernetes'
// ContainerRestartRules: objects.Container.Restarts decides, for init
// containers too; a RestartAllContainers rule restarts the whole pod in
// place, from its first init container: objects.Container.RestartsAll); probes
// (exec, httpGet, tcpSocket and grpc, the last asking the gRPC health
// service, grpc.health.v1.Health, on the pod's IP as the kubelet does);
// postStart and preStop hooks; graceful termination, the sidecars last,
// in the reverse of their order (see objects.Container.IsSidecar).
// Ephemeral containers (spec.ephemeralContainers, added to a running pod
// by podkit's Orchestrator.UpdateEphemeralContainers, kubectl debug's
// pods/ephemeralcontainers) are started as soon as the pod has a
// sandbox, images pulled, volumes mounted, environment and security
// context applied as for the others, each once: one that exits, or fails
// to start, is not started again whatever the pod's restartPolicy. With
// a targetContainerName an ephemeral container joins that container's
// PID namespace (runtime.ContainerConfig.TargetContainerID), unless the
// pod's containers share one already, and waits in RunContainerError
// while its target is not running. They have no probes, hooks or
// resources, do not count for the pod's phase or readiness, are
// reported in status.ephemeralContainerStatuses and stop with the pod.
// Status goes to the store in batches shared by all of the agent's pods
// (and, in a Group, by all agents). A heartbeat renews the node's Lease
// and reports the Ready condition, which turns False while the runtime
// is unreachable.
//
// Before anything of a pod runs the agent admits it, as the kubelet's
// admission handlers do: a pod that sets a sysctl the node does not allow
// (the kubelet's safe ones, and those of WithAllowedUnsafeSysctls), or
// names another operating system than the node's (spec.os or the
// kubernetes.io/os label, against the node's kubernetes.io/os label, linux
// when it has none), fails at once with the kubelet's reason
// (ReasonSysctlForbidden, ReasonPodOSNotSupported...) and message "Pod was
// rejected: ...". An admitted pod's sandbox gets its hostname (its FQDN
// with setHostnameAsFQDN), with a subdomain its domain (its /etc/hosts
// names it by FQDN and hostname), DNS, host aliases, sysctls,
// with shareProcessNamespace one PID namespace for its containers, and
// with hostPID and hostIPC the node's: see runtime.SandboxConfig. Its
// containers' volume mounts get their subPathExpr expanded with their
// environment and their mountPropagation, which the runtime applies
// (runtime.Mount): the host path of a HostToContainer mount must be on a
// shared or slave mount of the node, that of a Bidirectional one on a
// shared mount, or the container fails to be created or started. The
// kubelet makes its own directory (/var/lib/kubelet) a shared mount at
// start so that every volume qualifies; the agent changes no mount of
// the node, so it holds for hostPath volumes on a shared mount (systemd
// makes / one) and for the agent's directory (WithRootDir) only where
// the host made it one.
//
// A container's security context is applied as the kubelet applies it:
// its user, groups, capabilities, seccomp, AppArmor and SELinux settings
// reach the runtime (runtime.ContainerConfig, runtime.Security), and
// with runAsNonRoot a container that would run as root is not created:
// one whose runAsUser is 0, or without a runAsUser one whose image's user
// (which the runtime reports, runtime.ImageConfigReader) is root or a
// name, which cannot be told from root. It waits in
// CreateContainerConfigError with the kubelet's message, a Failed event
// says why, and it is tried again after the base back-off
// (WithCrashLoopBackOff), so a changed image may pass. On a runtime
// that cannot report an image's user, a container whose check needs it
// is refused.
//
// A container's environment is built each time it is started, as the
// kubelet builds it: envFrom, then env, from ConfigMaps, Secrets, the
// downward API, and for env[].valueFrom.fileKeyRef (Kubernetes' EnvFiles)
// a key of an env file the pod wrote into one of its emptyDir volumes,
// typically from an init container (objects.FileKeySelector). A source,
// file or key that is missing and not optional keeps the container
// waiting in CreateContainerConfigError with the kubelet's message, tried
// again; an optional one leaves the variable unset.
//
// A pod's resources may be changed in place (podkit's Orchestrator.Resize,
// Kubernetes' pods/resize): the agent admits the whole resize when the
// pod's new requests fit the node beside its other pods, else reports it
// PodResizePending (Deferred, retried at once when a pod leaves the node
// or ends, else every second; Infeasible, not until the resources change
// again); it then applies it to the running containers
// through runtime.ResourceUpdater, or by a restart for a resource whose
// resizePolicy is RestartContainer, reporting PodResizeInProgress (reason
// Error while it cannot: a memory limit below what the container uses is
// not applied) until each runs with what was allocated. Every container's
// status reports allocatedResources and the resources it runs with.
//
// Local ephemeral storage is limited as the kubelet's eviction manager
// limits it: every eviction interval (WithEvictionInterval, 10s) the agent
// measures the pods that set a limit, and evicts the first found over
// one, checked in the kubelet's order: an emptyDir over its sizeLimit; the
// pod over the sum of its containers' limits.ephemeral-storage (what its
// containers wrote to their root file systems, their logs, its emptyDirs
// on disk, ConfigMap and downward API volumes); a container over its own
// limit. An evicted pod's containers are killed at once, without preStop
// hooks, and it fails with reason Evicted (ReasonEvicted), the kubelet's
// message ("Usage of EmptyDir volume "cache" exceeds the limit "1Mi". ")
// and a Warning event; its controller replaces it. Containers' writable
// layers and logs are counted on runtimes that report them
// (runtime.DiskUsageProvider: Docker, containerd and the fake runtime).
//
// An agent keeps no state of its own that matters: one started over a
// runtime that already runs pods adopts the sandboxes and containers of
// pods still bound to its node (nothing is created twice) and removes those
// of pods that are gone.
//
// For many nodes in one process use a Group: its agents share one pod
// watch and one status writer, so that thousands of agents cost the store
// a handful of watchers and few transactions.
package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/internal/events"
	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// Agent is the node agent of one node. Create it with New and start it with
// Run.
type Agent struct {
	store   store.Store
	node    string
	rt      runtime.Runtime
	cfg     config
	clock   clockwork.Clock
	log     *slog.Logger
	volumes *volumes.Manager
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	// http is the client of HTTP probes, made by the first (few pods have
	// any, and an agent runs on every node).
	httpOnce sync.Once
	http     *http.Client
	pulls    pulls

	writer  *writer       // set by Run or the group
	events  *events.Queue // set by Run or the group
	grouped bool
	hasEvts bool // the runtime reports events
	running atomic.Bool

	mu       sync.Mutex
	ctx      context.Context // of Run; workers use it
	pods     workerIndex
	synced   bool // the pods bound to the node have been listed once
	stopping bool
	wg       sync.WaitGroup
	// interrupts end the long waits of pod syncs, by pod UID, when the pod
	// is deleted (see syncCtx.waitCtx): few syncs have one at a time.
	interrupts map[string]context.CancelFunc
	// deferred are the pods whose resize waits for room (see
	// retryDeferred), by UID, and how many there are, read without the
	// lock by every pod update.
	deferredMu sync.Mutex
	deferred   map[string]bool
	nDeferred  atomic.Int32
	// evictions are the pods checkLocalStorage evicts, by UID, with the
	// kubelet's message, until their sync takes it; and how many.
	evictMu    sync.Mutex
	evictions  map[string]string
	nEvictions atomic.Int32
	// limited: a pod limited its local storage; from then on
	// checkLocalStorage runs every eviction interval.
	limited atomic.Bool

	runtimeName atomic.Value // string: "fake", "docker"...
	runtimeUp   atomic.Bool
	hostIPCache atomic.Value // string
	nodeOSCache atomic.Value // string: the node's kubernetes.io/os label
	nodefsOnce  sync.Once
	nodefs      int64 // see nodefsBytes
	sysctlsOnce sync.Once
	sysctls     *sysctlAllowlist // see sysctlAllowlist
	relistKick  chan struct{}
	nodeSel     map[string]string // what the runtime runs for the node; read-only
	// knownMu guards each pod's fingerprint of its containers as last
	// seen, by relist or by the pod's sync (podState.seen): relist syncs a
	// pod only for a change neither has seen.
	knownMu sync.Mutex
	seed    maphash.Seed // of the fingerprints
	self    selfEvents
	// syncHook, a test's, is called after each sync of a pod.
	syncHook func(uid string)
}

// New returns the agent of node nodeName, running its pods on rt.
func New(s store.Store, nodeName string, rt runtime.Runtime, opts ...Option) (*Agent, error) {
	cfg := defaultConfig()
	if err := cfg.apply(opts); err != nil {
		return nil, err
	}
	return newAgent(s, nodeName, rt, cfg)
}

func newAgent(s store.Store, nodeName string, rt runtime.Runtime, cfg config) (*Agent, error) {
	if s == nil {
		return nil, errors.New("nodeagent.New: store is nil")
	}
	if nodeName == "" {
		return nil, errors.New("nodeagent.New: node name is empty")
	}
	if rt == nil {
		return nil, fmt.Errorf("nodeagent.New %s: runtime is nil", nodeName)
	}
	_, hasEvts := rt.(runtime.EventWatcher)
	if cfg.relist == 0 {
		cfg.relist = time.Second
		if hasEvts {
			cfg.relist = DefaultRelistInterval
		}
	}
	a := &Agent{
		store: s, node: nodeName, rt: rt, cfg: cfg, clock: cfg.clock,
		log:        cfg.log.With("node", nodeName),
		volumes:    cfg.volumes(nodeName),
		hasEvts:    hasEvts,
		relistKick: make(chan struct{}, 1),
		nodeSel:    map[string]string{runtime.LabelNode: nodeName},
		pods:       newWorkerIndex(),
		seed:       maphash.MakeSeed(),
	}
	a.runtimeName.Store("")
	if d, ok := rt.(runtime.Dialer); ok {
		a.dial = d.DialContext
	} else {
		a.dial = (&net.Dialer{}).DialContext
	}
	return a, nil
}

// Node returns the name of the agent's node.
func (a *Agent) Node() string { return a.node }

// Run runs the agent until ctx ends, then returns after every goroutine it
// started has returned. Pods keep running in the runtime. It returns nil
// when ctx ended, or the error that stopped it (the store closed).
func (a *Agent) Run(ctx context.Context) error {
	if a.grouped {
		return fmt.Errorf("nodeagent %s: the agent belongs to a Group, which runs it", a.node)
	}
	if !a.running.CompareAndSwap(false, true) {
		return fmt.Errorf("nodeagent %s: Run is already running", a.node)
	}
	defer a.running.Store(false)
	a.writer = newWriter(a.store, &a.cfg)
	a.events = newEventQueue(&a.cfg)
	g, ctx := errgroup.WithContext(ctx)
	a.start(ctx)
	g.Go(func() error { return a.writer.run(ctx) })
	g.Go(func() error { a.events.Run(ctx); return nil })
	cfgSrc := newConfigSource(a.store, a.log, a.configChanged)
	g.Go(func() error { return cfgSrc.run(ctx) })
	src := &podSource{store: a.store, log: a.log, node: a.node, sink: a, after: cfgSrc.watching}
	g.Go(func() error { return src.run(ctx) })
	g.Go(func() error { return a.run(ctx) })
	return ignoreCanceled(g.Wait())
}

// newEventQueue returns the queue through which agents record events: a
// container start does not wait for the store, as the kubelet's events go
// through a broadcaster. Like it, a full queue drops events.
func newEventQueue(cfg *config) *events.Queue {
	return events.NewQueue(cfg.log, events.DefaultQueueLimit)
}

// event queues an event about obj for the agent's recorder.
func (a *Agent) event(obj objects.Object, eventType, reason, message string) {
	a.events.Push(a.cfg.recorder, obj, eventType, reason, message)
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// start readies the agent to take pods: workers run in ctx. Call it before
// feeding pods, then run.
func (a *Agent) start(ctx context.Context) {
	a.mu.Lock()
	a.ctx = ctx
	a.stopping = false
	a.mu.Unlock()
	a.refreshNode(ctx)
}

// run is the agent's own part: heartbeat, relist and housekeeping, and the
// pod workers, until ctx ends. The pod feed and the writer are the caller's.
func (a *Agent) run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.heartbeatLoop(ctx) }()
	go func() { defer wg.Done(); a.relistLoop(ctx) }()
	if a.hasEvts {
		wg.Add(1)
		go func() { defer wg.Done(); a.runtimeEvents(ctx) }()
	}
	<-ctx.Done()
	a.mu.Lock()
	a.stopping = true
	ws := a.pods.all()
	a.mu.Unlock()
	for _, w := range ws {
		w.stopTimer()
	}
	wg.Wait()
	a.wg.Wait()
	if err := a.volumes.Close(); err != nil {
		a.log.Warn("removing the volume directory", "err", err)
	}
	a.mu.Lock()
	a.pods = newWorkerIndex()
	a.synced = false
	a.mu.Unlock()
	return nil
}

// podWorker serialises the work on one pod. The agent keeps one for every
// pod it runs, so it is kept small: what only some pods need is made when
// first needed.
type podWorker struct {
	uid string

	mu   sync.Mutex
	pod  *objects.Pod // latest from the store; read-only, may be shared
	wake *wakeTimer   // while a sync is due later
	// echo is the agent's last status write of the pod, until the store
	// hands back the version it made; then (echo.seen) until the sync's
	// state learns that the write is stored, once no sync runs (see
	// podState.storedAs).
	echo   *ownWrite
	gone   bool // deleted from the store (or never in it: an orphan)
	active bool // a sync goroutine runs
	again  bool // sync again when it ends
	// synced is when the last sync started (the agent's clock, Unix
	// nanoseconds; 0 before the first): the relist resyncs the pod a
	// jittered resync interval after it (see resyncDue), again when it
	// is still running then. The start, not the end: what a sync does is
	// as of the clock it read then.
	synced int64

	st podState // owned by the running sync
}

// wakeTimer is the timer of a worker's next sync.
type wakeTimer struct {
	timer clockwork.Timer
	at    time.Time
}

// ownWrite is a status write of the agent: status merged over base, the
// pod as the write read it, stored as version rv; seq numbers the statuses
// a sync queued (podState.sentSeq).
type ownWrite struct {
	base    *objects.Pod // nil once seen
	written *objects.Pod // what the write gave the store; nil once seen
	rv      string
	status  *objects.PodStatus
	seq     uint64
	seen    bool // the store handed the version back
	// prev is the write this one replaced before the store handed that one
	// back: a sync that writes twice (before an image pull, then at its
	// end) may have both to come back.
	prev *ownWrite
}

// wrote records a status write of the pod; the writer calls it inside the
// transaction, so before the store hands the new version to anyone. It
// replaces a write seen but not yet handed to the sync's state, which was
// not of the last status queued: this one was queued after it. One not
// yet seen it keeps as prev.
func (w *podWorker) wrote(base, written *objects.Pod, status *objects.PodStatus, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var prev *ownWrite
	if e := w.echo; e != nil && !e.seen {
		prev, e.prev = e, nil
	}
	w.echo = &ownWrite{base: base, written: written, rv: written.ResourceVersion, status: status, seq: seq, prev: prev}
}

// isEcho reports whether pod is the version the agent's last status write
// made over the version the worker last had: nothing a sync would react
// to has changed (the status is what the sync computed), so it needs none.
// Versions are compared whole, not trusted by their resourceVersion: pod
// is the write's own object when the store kept it (store.StatusAdopter),
// built from the version the worker had, or else equal to it but for the
// resourceVersion. w.mu is held.
func (w *podWorker) isEcho(pod *objects.Pod) bool {
	e := w.echo
	if e == nil || e.seen {
		return false
	}
	if p := e.prev; p != nil && pod.ResourceVersion == p.rv {
		// The earlier of two writes: the later one is still to come.
		e.prev = nil
		return w.madeBy(p, pod)
	}
	if pod.ResourceVersion != e.rv {
		return false
	}
	w.echo = nil
	if !w.madeBy(e, pod) {
		return false
	}
	e.base, e.written, e.status, e.seen, e.prev = nil, nil, nil, true, nil
	w.echo = e
	return true
}

// madeBy reports whether pod, of e's resourceVersion, is what write e made
// over the version the worker has. w.mu is held.
func (w *podWorker) madeBy(e *ownWrite, pod *objects.Pod) bool {
	base := e.base
	if w.gone || w.pod == nil || w.pod.ResourceVersion != base.ResourceVersion || pod.UID != base.UID {
		return false
	}
	return pod == e.written || metaEqual(&pod.ObjectMeta, &base.ObjectMeta) && reflect.DeepEqual(&pod.Spec, &base.Spec) && reflect.DeepEqual(&pod.Status, e.status)
}

// metaEqual reports whether two versions of an object's metadata are
// equal but for their resourceVersion.
func metaEqual(x, y *objects.ObjectMeta) bool {
	if x.ResourceVersion == y.ResourceVersion {
		return reflect.DeepEqual(x, y)
	}
	// One copy, not one of each: it is made for every echo.
	m := *y
	m.ResourceVersion = x.ResourceVersion
	return reflect.DeepEqual(x, &m)
}

// storedLocked hands a write seen to the sync's state. w.mu is held, and
// no sync runs but the caller's.
func (w *podWorker) storedLocked() {
	if e := w.echo; e != nil && e.seen {
		w.echo = nil
		w.st.storedAs(e.seq)
	}
}

// stopTimerLocked stops the worker's timer. w.mu is held.
func (w *podWorker) stopTimerLocked() {
	if w.wake != nil {
		w.wake.timer.Stop()
		w.wake = nil
	}
}

func (w *podWorker) stopTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopTimerLocked()
}

// podUpdated is called with every version of a pod bound to the node. pod
// is read-only.
func (a *Agent) podUpdated(pod *objects.Pod) {
	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return
	}
	w := a.pods.get(pod.UID)
	if w == nil {
		w = &podWorker{uid: pod.UID}
		a.pods.add(w)
	}
	if !a.limited.Load() && limitsLocalStorage(pod) {
		a.limited.Store(true)
		a.kickRelist() // starts the checks
	}
	a.mu.Unlock()
	w.mu.Lock()
	if w.isEcho(pod) {
		w.pod = pod
		if !w.active { // else the sync hands it over when it ends
			w.storedLocked()
		}
		w.mu.Unlock()
		return
	}
	w.pod, w.gone = pod, false
	w.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		a.interrupt(pod.UID)
	}
	if pod.IsTerminal() {
		a.retryDeferred(pod.UID) // it leaves room
	}
	a.enqueue(w)
}

// interrupt ends the long wait the sync of pod uid is in, if any (see
// syncCtx.waitCtx): the pod is being deleted.
func (a *Agent) interrupt(uid string) {
	a.mu.Lock()
	stop := a.interrupts[uid]
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// podDeleted is called when a pod bound to the node leaves the store.
func (a *Agent) podDeleted(pod *objects.Pod) {
	w := a.worker(pod.UID)
	if w == nil {
		return
	}
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	a.interrupt(w.uid)
	a.retryDeferred(w.uid)
	a.enqueue(w)
}

// replacePods is called with the full list of pods bound to the node, at
// start and after the pod watch had to list again.
func (a *Agent) replacePods(pods []*objects.Pod) {
	seen := make(map[string]bool, len(pods))
	var fresh []*podWorker
	a.mu.Lock()
	for _, p := range pods {
		seen[p.UID] = true
		if a.pods.get(p.UID) == nil {
			fresh = append(fresh, &podWorker{uid: p.UID})
		}
	}
	if !a.stopping {
		a.pods.addAll(fresh)
	}
	a.mu.Unlock()
	for _, p := range pods {
		a.podUpdated(p)
	}
	a.mu.Lock()
	var gone []*podWorker
	for _, w := range a.pods.all() {
		if !seen[w.uid] {
			gone = append(gone, w)
		}
	}
	first := !a.synced
	a.synced = true
	a.mu.Unlock()
	for _, w := range gone {
		w.mu.Lock()
		w.gone = true
		w.mu.Unlock()
		a.interrupt(w.uid)
		a.enqueue(w)
	}
	if first {
		a.kickRelist()
	}
}

// boundPods returns the pods the agent was last told are bound to its
// node.
func (a *Agent) boundPods() []*objects.Pod {
	var pods []*objects.Pod
	for _, w := range a.workers() {
		w.mu.Lock()
		if w.pod != nil && !w.gone {
			pods = append(pods, w.pod)
		}
		w.mu.Unlock()
	}
	return pods
}

// adoptOrphan makes a worker for a pod the runtime has but the store does
// not bind to this node, so that it is cleaned up.
func (a *Agent) adoptOrphan(uid string) {
	a.mu.Lock()
	if a.stopping || a.pods.get(uid) != nil {
		a.mu.Unlock()
		return
	}
	w := &podWorker{uid: uid, gone: true}
	a.pods.add(w)
	a.mu.Unlock()
	a.enqueue(w)
}

// enqueueUID asks the worker of a pod, if any, to sync.
func (a *Agent) enqueueUID(uid string) {
	if w := a.worker(uid); w != nil {
		a.enqueue(w)
	}
}

// worker returns the worker of a pod, or nil.
func (a *Agent) worker(uid string) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pods.get(uid)
}

// enqueue starts a sync of w, or asks the running one to go again.
func (a *Agent) enqueue(w *podWorker) {
	w.mu.Lock()
	if w.active {
		w.again = true
		w.mu.Unlock()
		return
	}
	a.mu.Lock()
	if a.stopping || a.ctx == nil {
		a.mu.Unlock()
		w.mu.Unlock()
		return
	}
	ctx := a.ctx
	a.wg.Add(1)
	a.mu.Unlock()
	w.active = true
	w.mu.Unlock()
	go a.work(ctx, w)
}

func (a *Agent) work(ctx context.Context, w *podWorker) {
	defer a.wg.Done()
	for {
		w.mu.Lock()
		w.synced = a.clock.Now().UnixNano()
		w.mu.Unlock()
		wake, forget := a.syncPod(ctx, w)
		if a.syncHook != nil {
			a.syncHook(w.uid)
		}
		resync := w.st.resync
		w.st.resync = false
		w.mu.Lock()
		w.again = w.again || resync && !forget
		w.storedLocked()
		if forget && !w.again {
			w.active = false
			w.stopTimerLocked()
			w.mu.Unlock()
			a.setDeferred(w.uid, false)
			a.mu.Lock()
			a.pods.remove(w)
			a.mu.Unlock()
			return
		}
		if w.again && ctx.Err() == nil {
			w.again = false
			w.mu.Unlock()
			continue
		}
		w.active = false
		a.armLocked(w, wake)
		w.mu.Unlock()
		return
	}
}

// armLocked sets w's single timer to fire at wake (zero: none). w.mu is held.
func (a *Agent) armLocked(w *podWorker, wake time.Time) {
	if wake.IsZero() {
		w.stopTimerLocked()
		return
	}
	if w.wake != nil && w.wake.at.Equal(wake) {
		return
	}
	w.stopTimerLocked()
	a.mu.Lock()
	stopping := a.stopping
	a.mu.Unlock()
	if stopping {
		return
	}
	d := wake.Sub(a.clock.Now())
	if d < time.Millisecond {
		d = time.Millisecond
	}
	t := &wakeTimer{at: wake}
	w.wake = t
	t.timer = a.clock.AfterFunc(d, func() {
		w.mu.Lock()
		if w.wake == t {
			w.wake = nil
		}
		w.mu.Unlock()
		a.enqueue(w)
	})
}

// configChanged is called when a ConfigMap, Secret, PersistentVolumeClaim or
// PersistentVolume changes (kind "" after a gap: anything may have).
func (a *Agent) configChanged(kind, namespace, name string) {
	for _, w := range a.workers() {
		w.mu.Lock()
		p := w.pod
		w.mu.Unlock()
		if p != nil && refersTo(p, kind, namespace, name) {
			a.enqueue(w)
		}
	}
}

func (a *Agent) kickRelist() {
	select {
	case a.relistKick <- struct{}{}:
	default:
	}
}

// workers returns the pod workers. Lock order: a worker's mu before a.mu,
// never the reverse, so callers lock workers after this returns.
func (a *Agent) workers() []*podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pods.all()
}
