package scheduler

import (
	"slices"
	"strconv"
	"strings"
)

// noNodesMessage is Kubernetes' message when there are no nodes at all.
const noNodesMessage = "no nodes available to schedule pods"

// diagnosis records why each node rejected a pod.
type diagnosis struct {
	numNodes  int
	preFilter *Status // a PreFilter rejected the pod outright
	nodes     []*NodeInfo
	statuses  []*Status
	plugins   uint64 // bit i: plugin i rejected some node (bit 63: one beyond)
	errored   bool   // a plugin failed (code Error): the pod is retried with backoff

	// postFilter is what preemption said, when it found no way.
	postFilter string
}

func (d *diagnosis) add(node *NodeInfo, st *Status, plugin int) {
	d.nodes = append(d.nodes, node)
	d.statuses = append(d.statuses, st)
	if st.Code() == Error {
		d.errored = true
	}
	if plugin >= 0 {
		d.plugins |= 1 << min(plugin, 63)
	}
}

func (d *diagnosis) statusOf(node *NodeInfo) *Status {
	if i := slices.Index(d.nodes, node); i >= 0 {
		return d.statuses[i]
	}
	return nil
}

// message is Kubernetes' FitError text: "0/3 nodes are available: 2
// Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}." —
// each reason with the number of nodes giving it, sorted as strings — then
// what preemption said.
func (d *diagnosis) message() string {
	if d.numNodes == 0 {
		return noNodesMessage
	}
	var b strings.Builder
	b.WriteString(fitMessage(d.numNodes, d.preFilter, d.statuses))
	if d.postFilter != "" {
		b.WriteString(" preemption: ")
		b.WriteString(d.postFilter)
	}
	return b.String()
}

// fitMessage formats the reasons of statuses: "0/n nodes are available:
// 2 Insufficient cpu, 1 ...." A prefilter rejection is the whole reason.
func fitMessage(n int, preFilter *Status, statuses []*Status) string {
	var b strings.Builder
	b.WriteString("0/")
	b.WriteString(strconv.Itoa(n))
	b.WriteString(" nodes are available:")
	if preFilter != nil {
		b.WriteByte(' ')
		b.WriteString(preFilter.Message())
		b.WriteByte('.')
		return b.String()
	}
	b.WriteString(histogram(statuses))
	return b.String()
}

// histogram is " 2 reason a, 1 reason b." or "" without reasons.
func histogram(statuses []*Status) string {
	counts := map[string]int{}
	for _, st := range statuses {
		for _, r := range st.Reasons() {
			counts[r]++
		}
	}
	if len(counts) == 0 {
		return ""
	}
	lines := make([]string, 0, len(counts))
	for r, n := range counts {
		lines = append(lines, strconv.Itoa(n)+" "+r)
	}
	slices.Sort(lines)
	return " " + strings.Join(lines, ", ") + "."
}
