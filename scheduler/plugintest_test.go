package scheduler

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
)

// pluginCase runs one plugin as the scheduler would: PreFilter once, then
// Filter on every node; or PreFilter, PreScore, Score on the candidate
// nodes and NormalizeScores.
type pluginCase struct {
	name     string
	pod      *objects.Pod
	nodes    []*objects.Node
	existing []*objects.Pod // with spec.nodeName set
	// failed are nodes that exist but are not candidates for scoring.
	failed     []*objects.Node
	namespaces []*objects.Namespace
	// volumes are PersistentVolumes, claims and StorageClasses.
	volumes []objects.Object

	// wantFilter maps node name to its reasons joined with "; ", "" when
	// the node fits. Every node must be listed.
	wantFilter map[string]string
	// wantCode, when set, is the code every rejection must have.
	wantCode Code
	// wantScore maps candidate node name to normalized score.
	wantScore map[string]int64
}

func (c *pluginCase) snapshot(t *testing.T) (*Snapshot, *PodInfo) {
	t.Helper()
	snap := newSnapshot()
	for _, ns := range c.namespaces {
		snap.setNamespace(ns)
	}
	for _, v := range c.volumes {
		switch v := v.(type) {
		case *objects.PersistentVolume:
			snap.pvs[v.Name] = v
		case *objects.PersistentVolumeClaim:
			snap.pvcs[objects.Key{Namespace: v.Namespace, Name: v.Name}] = v
		case *objects.StorageClass:
			snap.storageClasses[v.Name] = v
		}
	}
	for _, n := range append(append([]*objects.Node{}, c.nodes...), c.failed...) {
		snap.setNode(n.DeepCopy())
	}
	for i, p := range c.existing {
		p = p.DeepCopy()
		if p.UID == "" {
			p.UID = "existing-" + p.Name + "-" + string(rune('a'+i%26))
		}
		pi, err := snap.newPodInfo(p, false)
		require.NoError(t, err)
		snap.addPod(pi, p.Spec.NodeName)
	}
	pod := c.pod.DeepCopy()
	if pod.UID == "" {
		pod.UID = "incoming"
	}
	pi, err := snap.newPodInfo(pod, true)
	require.NoError(t, err)
	return snap, pi
}

func runPluginCases(t *testing.T, pl Plugin, cases []pluginCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap, pod := c.snapshot(t)
			var state any
			var pre *Status
			if pf, ok := pl.(PreFilterPlugin); ok {
				state, pre = pf.PreFilter(snap, pod)
			}
			if c.wantFilter != nil {
				f, ok := pl.(FilterPlugin)
				require.True(t, ok, "%s is not a filter", pl.Name())
				got := map[string]string{}
				for _, n := range snap.nodes {
					var st *Status
					switch pre.Code() {
					case Success:
						st = f.Filter(state, pod, n)
					case Skip:
					default:
						st = pre
					}
					got[n.name] = strings.Join(st.Reasons(), "; ")
					if st != nil && c.wantCode != Success {
						require.Equal(t, c.wantCode, st.Code(), "node %s: %s", n.name, st)
					}
				}
				require.Equal(t, c.wantFilter, got)
			}
			if c.wantScore != nil {
				s, ok := pl.(ScorePlugin)
				require.True(t, ok, "%s is not a score", pl.Name())
				var nodes []*NodeInfo
				for _, n := range c.nodes {
					nodes = append(nodes, snap.Node(n.Name))
				}
				got := map[string]int64{}
				if pre.Code() == Skip {
					for _, n := range nodes {
						got[n.name] = 0
					}
					require.Equal(t, c.wantScore, got, "skipped")
					return
				}
				require.True(t, pre.IsSuccess(), "PreFilter: %s", pre)
				if ps, ok := pl.(PreScorer); ok {
					ps.PreScore(state, pod, nodes)
				}
				scores := make([]NodeScore, len(nodes))
				for i, n := range nodes {
					scores[i] = NodeScore{Node: n, Score: s.Score(state, pod, n)}
				}
				if nz, ok := pl.(ScoreNormalizer); ok {
					nz.NormalizeScores(state, pod, scores)
				}
				for _, ns := range scores {
					got[ns.Node.name] = ns.Score
				}
				require.Equal(t, c.wantScore, got)
			}
		})
	}
}

// node is a bare node with labels (and hostname), 4 cpu and 16Gi.
func node(name string, labels ...string) *objects.Node {
	return makeNode(name, "4", "16Gi", withLabels(labels...))
}

// pod is a bare pod with labels.
func pod(name string, labels ...string) *objects.Pod {
	return makePod(name, "", "", podLabels(labels...))
}

func on(p *objects.Pod, n string) *objects.Pod {
	p.Spec.NodeName = n
	return p
}

func inNamespace(p *objects.Pod, ns string) *objects.Pod {
	p.Namespace = ns
	return p
}

// fits maps every named node to "" (fits).
func fits(names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = ""
	}
	return m
}
