package podkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// A Deployment whose replicas repel each other per node, with
// matchLabelKeys [pod-template-hash] as Kubernetes users write it, rolls
// out on nodes it fills: a new revision's pods repel only each other, so
// each may join an old one. The same Deployment without the key leaves
// its surge pods unschedulable.
func TestRolloutWithAntiAffinityMatchLabelKeys(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keys     []string
		complete bool
	}{{"matchLabelKeys", []string{objects.DefaultDeploymentUniqueLabelKey}, true}, {"without", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrchestrator(t)
			ctx := runOrchestrator(t, o)
			registerFakeNodes(t, ctx, o, 2)
			d := testDeployment("web", 2)
			zero, two := objects.FromInt32(0), objects.FromInt32(2)
			d.Spec.Strategy = objects.DeploymentStrategy{Type: objects.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &objects.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &two}}
			d.Spec.Template.Spec.Affinity = &objects.Affinity{PodAntiAffinity: &objects.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []objects.PodAffinityTerm{{
					LabelSelector: &objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					TopologyKey:   objects.LabelHostname, MatchLabelKeys: tc.keys,
				}},
			}}
			require.NoError(t, o.Create(ctx, d))
			wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
			defer cancel()
			require.NoError(t, o.WaitFor(wctx, d, podkit.Available))

			d.Spec.Template.Spec.Containers[0].Image = "registry.local/web:2"
			require.NoError(t, o.Update(ctx, d))
			rolled := func(d *objects.Deployment) bool {
				s := d.Status
				return s.ObservedGeneration == d.Generation && s.UpdatedReplicas == 2 && s.AvailableReplicas == 2 && s.Replicas == 2
			}
			if tc.complete {
				_, err := podkit.WaitUntil(wctx, o, "default", "web", rolled)
				require.NoError(t, err)
				return
			}
			// Without the key a surge pod is refused by every node.
			_, err := podkit.WaitUntil(wctx, o, "default", "web", func(d *objects.Deployment) bool { return d.Status.Replicas == 4 })
			require.NoError(t, err)
			// The scheduler tries the surge pods once they exist.
			pending := func() int {
				pods, err := podkit.List[*objects.Pod](ctx, o, "default")
				require.NoError(t, err)
				var n int
				for _, p := range pods {
					if c := objects.GetPodCondition(&p.Status, objects.PodScheduled); c != nil && c.Reason == "Unschedulable" {
						n++
					}
				}
				return n
			}
			require.Eventually(t, func() bool { return pending() == 2 }, apiWaitTimeout, 10*time.Millisecond, "surge pods unschedulable")
			got, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
			require.NoError(t, err)
			require.False(t, rolled(got), "rolled out without the key")
		})
	}
}
