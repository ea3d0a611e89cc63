package scheduler

import (
	"errors"
	"fmt"
	"reflect"
)

// Profile chooses the plugins a scheduler runs and the weights of their
// scores.
type Profile struct {
	// Plugins in the order their filters run: a node rejected by several
	// is reported under the first. Plugins that only score may come
	// anywhere.
	Plugins []WeightedPlugin
	// PercentageOfNodesToScore bounds the search for pods whose placement
	// depends on other pods (pod affinity, topology spread, or plugins of
	// LocalityCluster): nodes are filtered, round-robin from where the last
	// search stopped, until this percentage of the nodes (at least 100)
	// has been found feasible; the best of those wins. 0 picks Kubernetes'
	// adaptive default: 50% minus 1% per 125 nodes, at least 5%. 100
	// scores every feasible node. Pods without such constraints are placed
	// on the best of all nodes whatever this says (see the package doc).
	PercentageOfNodesToScore int
	// DisablePreemption stops pods from evicting lower-priority pods.
	DisablePreemption bool
}

// DefaultProfile returns Kubernetes' default plugins, in its filter order,
// with its default score weights: NodeUnschedulable, NodeName,
// TaintToleration (3), NodeReady, NodeAffinity (2), NodePorts,
// NodeResourcesFit with LeastAllocated (1), VolumeRestrictions,
// VolumeBinding, PodTopologySpread (2), InterPodAffinity (2) and
// NodeResourcesBalancedAllocation (1).
func DefaultProfile() Profile {
	return Profile{Plugins: []WeightedPlugin{
		{Plugin: NewNodeUnschedulable()},
		{Plugin: NewNodeName()},
		{Plugin: NewTaintToleration(), Weight: 3},
		{Plugin: NewNodeReady()},
		{Plugin: NewNodeAffinity(), Weight: 2},
		{Plugin: NewNodePorts()},
		{Plugin: NewNodeResourcesFit(LeastAllocated), Weight: 1},
		{Plugin: NewVolumeRestrictions()},
		{Plugin: NewVolumeBinding()},
		{Plugin: NewPodTopologySpread(), Weight: 2},
		{Plugin: NewInterPodAffinity(), Weight: 2},
		{Plugin: NewBalancedAllocation(), Weight: 1},
	}}
}

// BinPackingProfile is DefaultProfile with NodeResourcesFit scoring by
// MostAllocated: pods fill nodes before using empty ones.
func BinPackingProfile() Profile {
	p := DefaultProfile()
	for i := range p.Plugins {
		if p.Plugins[i].Plugin.Name() == "NodeResourcesFit" {
			p.Plugins[i].Plugin = NewNodeResourcesFit(MostAllocated)
		}
	}
	return p
}

// framework is a profile compiled for the scheduling loop.
type framework struct {
	plugins   []Plugin
	prefilter []PreFilterPlugin // by plugin, nil when none
	observer  []PodObserver
	locality  []Locality
	keyers    []PodKeyer

	filters []int // plugin indices, in order
	scores  []scoreRef

	percentage int
	preemption bool
	// perGroupClasses: a host's LocalityNode or LocalityNodeObject plugin
	// without a PodKeyer may read any field of the pod, so pods share node
	// evaluations only within a group.
	perGroupClasses bool
}

type scoreRef struct {
	idx        int
	plugin     ScorePlugin
	weight     int64
	normalizer ScoreNormalizer
	prescorer  PreScorer
	locality   Locality
}

// PodKeyer is an optional capability of a plugin that reads fields of the
// pod being scheduled other than those the built-in plugins read
// (namespace, labels, node selector and affinity, pod (anti-)affinity,
// tolerations, spread constraints, requests, host ports, claims, priority).
// The scheduler asks plugins about one pod of a group of pods it considers
// identical; PodKey must return different strings for pods the plugin
// would treat differently. While a LocalityNode or LocalityNodeObject
// plugin of the host has no PodKey, annotations also tell groups apart and
// node evaluations are not shared between groups.
type PodKeyer interface {
	PodKey(pod *PodInfo) string
}

func compileProfile(p Profile) (*framework, error) {
	if len(p.Plugins) == 0 {
		return nil, errors.New("profile has no plugins")
	}
	if p.PercentageOfNodesToScore < 0 || p.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("percentageOfNodesToScore %d: must be between 0 and 100", p.PercentageOfNodesToScore)
	}
	fw := &framework{percentage: p.PercentageOfNodesToScore, preemption: !p.DisablePreemption}
	seen := map[string]bool{}
	for _, wp := range p.Plugins {
		pl := wp.Plugin
		if pl == nil {
			return nil, errors.New("profile has a nil plugin")
		}
		if seen[pl.Name()] {
			return nil, fmt.Errorf("plugin %q appears twice in the profile", pl.Name())
		}
		seen[pl.Name()] = true
		_, isFilter := pl.(FilterPlugin)
		s, isScore := pl.(ScorePlugin)
		if !isFilter && !isScore {
			return nil, fmt.Errorf("plugin %q is neither a FilterPlugin nor a ScorePlugin", pl.Name())
		}
		idx := len(fw.plugins)
		fw.plugins = append(fw.plugins, pl)
		pf, _ := pl.(PreFilterPlugin)
		fw.prefilter = append(fw.prefilter, pf)
		ob, _ := pl.(PodObserver)
		fw.observer = append(fw.observer, ob)
		loc := localityOf(pl)
		fw.locality = append(fw.locality, loc)
		k, _ := pl.(PodKeyer)
		fw.keyers = append(fw.keyers, k)
		if k == nil && loc != LocalityCluster && !isBuiltin(pl) {
			fw.perGroupClasses = true
		}
		if isFilter {
			fw.filters = append(fw.filters, idx)
		}
		if isScore {
			w := wp.Weight
			if w < 0 {
				return nil, fmt.Errorf("plugin %q: weight %d: must not be negative", pl.Name(), w)
			}
			if w == 0 {
				w = 1
			}
			n, _ := pl.(ScoreNormalizer)
			ps, _ := pl.(PreScorer)
			sloc := loc
			if (n != nil || ps != nil) && sloc == LocalityNode {
				sloc = LocalityCluster // needs every candidate
			}
			fw.scores = append(fw.scores, scoreRef{idx: idx, plugin: s, weight: w, normalizer: n, prescorer: ps, locality: sloc})
		}
	}
	return fw, nil
}

// isBuiltin reports whether p is one of this package's plugins, whose
// reads of the pod the class and group keys cover.
func isBuiltin(p Plugin) bool {
	t := reflect.TypeOf(p)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == reflect.TypeOf(framework{}).PkgPath()
}

// Kubernetes' bounds for the number of feasible nodes to find.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// numFeasibleNodesToFind is Kubernetes' rule for how many feasible nodes a
// search looks for before scoring them.
func (fw *framework) numFeasibleNodesToFind(all int) int {
	if all < minFeasibleNodesToFind {
		return all
	}
	pct := fw.percentage
	if pct == 0 {
		pct = max(50-all/125, minFeasibleNodesPercentageToFind)
	}
	return max(all*pct/100, minFeasibleNodesToFind)
}
