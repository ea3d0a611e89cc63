package scheduler

import (
	"strconv"
	"strings"
)

// MaxNodeScore is the highest score a ScorePlugin gives a node (after
// normalization), as in Kubernetes.
const MaxNodeScore int64 = 100

// Plugin is one placement rule. A plugin is a FilterPlugin, a ScorePlugin,
// or both, and may implement the optional capabilities PreFilterPlugin,
// ScoreNormalizer, PodObserver and Localizer.
//
// The scheduler calls a plugin from one goroutine at a time; a plugin keeps
// no state between calls except what PreFilter returns.
type Plugin interface {
	// Name identifies the plugin in profiles and logs ("NodeResourcesFit").
	Name() string
}

// FilterPlugin rejects the nodes a pod cannot run on.
type FilterPlugin interface {
	Plugin
	// Filter returns nil if pod may run on node, or a Status whose reasons
	// say why not in the words of the pod's message ("Insufficient cpu").
	// state is what the plugin's PreFilter returned for this pod (nil
	// without one). Filter must not modify pod, node or state.
	Filter(state any, pod *PodInfo, node *NodeInfo) *Status
}

// ScorePlugin ranks the nodes that passed every filter.
type ScorePlugin interface {
	Plugin
	// Score rates node for pod, from 0 to MaxNodeScore unless the plugin
	// also implements ScoreNormalizer, which then maps its raw scores to
	// that range.
	Score(state any, pod *PodInfo, node *NodeInfo) int64
}

// NodeScore is the score of one node.
type NodeScore struct {
	Node  *NodeInfo
	Score int64
}

// ScoreNormalizer is an optional capability of a ScorePlugin: after Score
// has rated every candidate node, NormalizeScores rewrites the scores in
// place to the range 0 to MaxNodeScore.
type ScoreNormalizer interface {
	NormalizeScores(state any, pod *PodInfo, scores []NodeScore)
}

// PreScorer is an optional capability of a ScorePlugin: PreScore is told
// the nodes about to be scored, before Score rates them one by one (a
// spread score weighs domains by how many the candidates span).
type PreScorer interface {
	PreScore(state any, pod *PodInfo, nodes []*NodeInfo)
}

// scoreSkipper is implemented by built-in score plugins that can tell from
// their PreFilter state that every node would score alike, so scoring can
// be skipped.
type scoreSkipper interface {
	skipScore(state any) bool
}

// PreFilterPlugin is an optional capability of a filter or score plugin:
// PreFilter runs once for a group of identical pods, before any Filter or
// Score, and what it returns comes back to them as state.
//
// A Status with code Skip says the plugin has nothing to say about this pod
// (no constraint of its kind): its Filter and Score are not called. Any
// other non-nil Status rejects the pod on every node.
type PreFilterPlugin interface {
	Plugin
	PreFilter(snap *Snapshot, pod *PodInfo) (state any, status *Status)
}

// PodObserver is an optional capability of a PreFilterPlugin whose state
// depends on the pods in the snapshot (counts of matching pods per
// topology domain, for example). The scheduler tells it about every pod
// added to or removed from the snapshot while the state is in use, instead
// of running PreFilter again. It returns false when it cannot update the
// state, and PreFilter runs again.
//
// A PreFilterPlugin with a Cluster locality and no PodObserver has its
// PreFilter run again whenever a pod was added or removed since.
type PodObserver interface {
	PodAdded(state any, pod *PodInfo, added *PodInfo, node *NodeInfo) bool
	PodRemoved(state any, pod *PodInfo, removed *PodInfo, node *NodeInfo) bool
}

// Locality says what a plugin's answer for one pod and one node depends
// on, so that the scheduler can reuse it.
type Locality int

const (
	// LocalityCluster: the answer may depend on anything in the snapshot,
	// such as pods on other nodes. The plugin is asked for every pod.
	LocalityCluster Locality = iota
	// LocalityNode: the answer depends on the pod's spec and on the node
	// with its pods (requested resources, used ports). It is asked again
	// for a group when that node changes.
	LocalityNode
	// LocalityNodeObject: the answer depends on the pod's spec and the
	// Node object only (labels, taints, allocatable), and on volumes. It is
	// asked once per group of pods and node, again when the node changes.
	LocalityNodeObject
)

// Localizer is an optional capability that declares a plugin's Locality;
// a plugin without it is LocalityCluster. A LocalityNode score plugin that
// also normalizes its scores is treated as LocalityCluster.
type Localizer interface {
	Locality() Locality
}

func localityOf(p Plugin) Locality {
	if l, ok := p.(Localizer); ok {
		return l.Locality()
	}
	return LocalityCluster
}

// Code says whether a pod may run, and if not whether preemption could
// change that.
type Code int

const (
	// Success: the pod may run there. A nil *Status means Success.
	Success Code = iota
	// Unschedulable: the pod cannot run there now; evicting lower-priority
	// pods might help (resources, ports, anti-affinity).
	Unschedulable
	// UnschedulableAndUnresolvable: the pod cannot run there and evicting
	// pods would not help (node selector, taints).
	UnschedulableAndUnresolvable
	// Skip, from PreFilter only: the plugin does not apply to this pod.
	Skip
	// Error: the plugin failed; the pod is retried with backoff.
	Error
)

func (c Code) String() string {
	switch c {
	case Success:
		return "Success"
	case Unschedulable:
		return "Unschedulable"
	case UnschedulableAndUnresolvable:
		return "UnschedulableAndUnresolvable"
	case Skip:
		return "Skip"
	case Error:
		return "Error"
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Status is a plugin's answer: a code and the reasons, one per failed
// condition, as they appear in the pod's message. A nil *Status is
// Success. A Status is immutable once made.
type Status struct {
	code    Code
	reasons []string
	// monotone marks a rejection that stays true while pods are only added
	// to the snapshot (resources, ports, anti-affinity): the node can be
	// left out of later searches for the same group.
	monotone bool
}

// NewStatus returns a status with code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// monotoneStatus is NewStatus for rejections that more pods cannot undo.
func monotoneStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons, monotone: true}
}

// Code returns the status code; Success for nil.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether s is nil or has code Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// Reasons returns the reasons; the caller must not modify them.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message joins the reasons with ", ".
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

func (s *Status) String() string {
	return s.Code().String() + ": " + s.Message()
}

// WeightedPlugin is a plugin in a profile with the weight its scores get.
type WeightedPlugin struct {
	Plugin Plugin
	// Weight multiplies the plugin's normalized scores; 0 means 1. It is
	// ignored for plugins that only filter.
	Weight int64
}
