package scheduler

import (
	"fmt"

	"github.com/podkit/podkit/objects"
)

// NewTaintToleration returns the TaintToleration plugin. As a filter it
// rejects a node with a NoSchedule or NoExecute taint the pod does not
// tolerate ("node(s) had untolerated taint {dedicated: gpu}"). As a score
// it prefers nodes with fewer PreferNoSchedule taints the pod does not
// tolerate.
func NewTaintToleration() Plugin { return taintToleration{} }

type taintToleration struct{}

func (taintToleration) Name() string { return "TaintToleration" }

func (taintToleration) Locality() Locality { return LocalityNodeObject }

func (taintToleration) Filter(_ any, pod *PodInfo, node *NodeInfo) *Status {
	tols := pod.pod.Spec.Tolerations
	for i := range node.node.Spec.Taints {
		t := &node.node.Spec.Taints[i]
		if t.Effect != objects.TaintEffectNoSchedule && t.Effect != objects.TaintEffectNoExecute {
			continue
		}
		if !objects.TolerationsTolerateTaint(tols, t) {
			return untoleratedTaint(t.Key, t.Value)
		}
	}
	return nil
}

func untoleratedTaint(key, value string) *Status {
	return NewStatus(UnschedulableAndUnresolvable, fmt.Sprintf("node(s) had untolerated taint {%s: %s}", key, value))
}

// Score counts the PreferNoSchedule taints the pod does not tolerate;
// NormalizeScores turns fewer into higher.
func (taintToleration) Score(_ any, pod *PodInfo, node *NodeInfo) int64 {
	var n int64
	tols := pod.pod.Spec.Tolerations
	for i := range node.node.Spec.Taints {
		t := &node.node.Spec.Taints[i]
		if t.Effect != objects.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for j := range tols {
			// Only tolerations for PreferNoSchedule (or every effect) count.
			if e := tols[j].Effect; (e == "" || e == objects.TaintEffectPreferNoSchedule) && tols[j].ToleratesTaint(t) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			n++
		}
	}
	return n
}

func (taintToleration) NormalizeScores(_ any, _ *PodInfo, scores []NodeScore) {
	defaultNormalizeScore(MaxNodeScore, true, scores)
}

// defaultNormalizeScore scales scores to 0..maxPriority by the highest one,
// reversed if asked (Kubernetes' helper.DefaultNormalizeScore).
func defaultNormalizeScore(maxPriority int64, reverse bool, scores []NodeScore) {
	var maxCount int64
	for i := range scores {
		maxCount = max(maxCount, scores[i].Score)
	}
	if maxCount == 0 {
		if reverse {
			for i := range scores {
				scores[i].Score = maxPriority
			}
		}
		return
	}
	for i := range scores {
		s := maxPriority * scores[i].Score / maxCount
		if reverse {
			s = maxPriority - s
		}
		scores[i].Score = s
	}
}
