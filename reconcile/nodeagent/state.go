package nodeagent

import (
	"time"

	"github.com/podkit/podkit/objects"
)

// podState is what a worker remembers between syncs. None of it is needed
// for correctness after a restart: restart counts live in the runtime
// (container attempts); backoffs and probe results start afresh. It is
// kept for every pod the agent runs, so what only some pods need is made
// when first needed.
type podState struct {
	ctrs      *ctrState          // a list: pods have few containers
	sent      *objects.PodStatus // last status queued for the store, until stored
	sentSeq   uint64             // numbers the statuses queued
	seen      uint64             // the sandboxes and containers as last listed (see runtimePrint); under Agent.knownMu
	startTime int64              // Unix ns, 0 until known: a time.Time is thrice the size
	podIP     string
	trouble   *podTrouble  // while the pod cannot start or its sync fails
	failure   *podFailure  // why the agent failed the pod: refused, past its deadline, evicted
	resize    *resizeState // while a resize is not settled (see syncResize)
	stored    bool         // the pod holds the last status queued
	terminal  bool         // Succeeded or Failed: nothing restarts
	stopped   bool         // containers and sandbox of a terminal pod stopped
	killed    bool         // stopped for deletion
	finalized bool         // final status and delete queued
	// resync asks for another sync at once, for what a sync leaves to the
	// next: the probes of a container it started (set up by a sync that
	// finds it running), or a container it started that stopped at once
	// (whose exit event may have come before the agent was watching).
	resync bool
	// stale are the container instances a restart of the whole pod set
	// aside (see Agent.restartAll), by ID; restarting is true while it
	// kills them.
	stale      map[string]bool
	restarting bool
}

// podFailure is why the agent ended a pod that had not finished: the
// pod's status reason and message.
type podFailure struct {
	reason, message string
	// rejected: the agent refused the pod (see Agent.admit); nothing of it
	// ran, or will.
	rejected bool
	// now: its containers are killed at once, without preStop hooks, as
	// the kubelet kills a pod it evicts (a grace period override of 0).
	now bool
}

// podTrouble is what a pod that cannot start, or whose sync failed, needs
// remembered.
type podTrouble struct {
	sandbox string        // why the sandbox could not be created
	mount   string        // why the volumes could not be set up
	retry   time.Duration // delay after a runtime error, doubling
}

// troubles returns st.trouble, made if need be.
func (st *podState) troubles() *podTrouble {
	if st.trouble == nil {
		st.trouble = &podTrouble{}
	}
	return st.trouble
}

// settle lets st.trouble go once nothing is wrong.
func (st *podState) settle() {
	if st.trouble != nil && *st.trouble == (podTrouble{}) {
		st.trouble = nil
	}
}

// sandboxFailed records why the sandbox could not be created ("": it was).
func (st *podState) sandboxFailed(msg string) {
	if st.trouble != nil || msg != "" {
		st.troubles().sandbox = msg
		st.settle()
	}
}

// mountFailed records why the volumes could not be set up ("": they were).
func (st *podState) mountFailed(msg string) {
	if st.trouble != nil || msg != "" {
		st.troubles().mount = msg
		st.settle()
	}
}

// synced records a sync that met no runtime error.
func (st *podState) synced() {
	if st.trouble != nil {
		st.trouble.retry = 0
		st.settle()
	}
}

// storedAs records that the status write numbered seq is in the store: when
// it was of the last status queued, the pod has that status now. The sync
// must not be running.
func (st *podState) storedAs(seq uint64) {
	if seq == st.sentSeq {
		st.sent, st.stored = nil, true
	}
}

// ctr returns the state of container name, made if need be.
func (st *podState) ctr(name string) *ctrState {
	if c := st.findCtr(name); c != nil {
		return c
	}
	c := &ctrState{name: name, next: st.ctrs}
	st.ctrs = c
	return c
}

// findCtr returns the state of container name, or nil when it has none.
func (st *podState) findCtr(name string) *ctrState {
	for c := st.ctrs; c != nil; c = c.next {
		if c.name == name {
			return c
		}
	}
	return nil
}

// ctrState is what a worker remembers about one container of its pod: inline
// what a running container needs, the rest made when first needed.
type ctrState struct {
	name    string
	next    *ctrState          // the pod's next container
	hashOf  *objects.Container // the spec hash is of; stored specs never change
	hash    specHash
	probes  *probeSet   // made when the container's probes first run
	trouble *ctrTrouble // made when the container first cannot start
}

// ctrTrouble is what a container that cannot start, or restarts, needs
// remembered: why it waits and its backoffs. The restart backoff is of one
// spec of the container (restartOf), as the kubelet keys it by the
// container's hash: a changed spec restarts at once.
type ctrTrouble struct {
	reason     string
	message    string
	restart    backoffEntry
	restartOf  specHash
	pull       backoffEntry
	pullImage  string
	pullFailed time.Time
	// logMessages are the ends of the logs of exited instances, by
	// container id, for terminationMessagePolicy FallbackToLogsOnError.
	logMessages map[string]string
}

// specHash returns the hash of c, the spec of cs's container, computed once
// per spec: the versions of a pod share the memory of what they do not
// change, so a status write does not make the spec new.
func (cs *ctrState) specHash(c *objects.Container) specHash {
	if cs.hashOf != c {
		cs.hashOf, cs.hash = c, hashSpec(c)
	}
	return cs.hash
}

// troubles returns cs.trouble, made if need be.
func (cs *ctrState) troubles() *ctrTrouble {
	if cs.trouble == nil {
		cs.trouble = &ctrTrouble{}
	}
	return cs.trouble
}

// waiting returns why the container waits ("" when nothing stops it). cs
// may be nil: a container the worker has no state of.
func (cs *ctrState) waiting() (reason, message string) {
	if cs == nil || cs.trouble == nil {
		return "", ""
	}
	return cs.trouble.reason, cs.trouble.message
}

// setWaiting records why the container waits; "" clears it.
func (cs *ctrState) setWaiting(reason, message string) {
	if cs.trouble == nil && reason == "" && message == "" {
		return
	}
	t := cs.troubles()
	t.reason, t.message = reason, message
}
