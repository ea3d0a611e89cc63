package podkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

func ephemeralPod(name string) *objects.Pod {
	return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: "nginx:1.27",
			VolumeMounts: []objects.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}}},
		Volumes: []objects.Volume{{Name: "scratch", VolumeSource: objects.VolumeSource{Ephemeral: &objects.EphemeralVolumeSource{
			VolumeClaimTemplate: &objects.PersistentVolumeClaimTemplate{
				ObjectMeta: objects.ObjectMeta{Labels: map[string]string{"type": "scratch"}},
				Spec: objects.PersistentVolumeClaimSpec{
					AccessModes: []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce},
					Resources: objects.VolumeResourceRequirements{Requests: objects.ResourceList{
						objects.ResourceStorage: objects.MustParseQuantity("1Gi")}},
				},
			},
		}}}},
	}}
}

// A generic ephemeral volume: the pod's own claim is made from its
// template, provisioned where the pod is scheduled, mounted, and deleted
// with the pod. A claim of that name the pod does not own keeps the pod
// pending, with Kubernetes' reason.
func TestEphemeralVolume(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	rts := registerFakeNodes(t, ctx, o, 2)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	pod := ephemeralPod("web")
	require.NoError(t, o.Apply(ctx, pod))
	require.NoError(t, o.WaitFor(wctx, pod, podkit.Running))
	claim, err := podkit.Get[*objects.PersistentVolumeClaim](ctx, o, "default", "web-scratch")
	require.NoError(t, err)
	ref := claim.ControllerRef()
	require.NotNil(t, ref)
	assert.Equal(t, pod.UID, ref.UID)
	assert.Equal(t, "Pod", ref.Kind)
	assert.Equal(t, "scratch", claim.Labels["type"])
	assert.Equal(t, objects.ClaimBound, claim.Status.Phase)
	pv, err := podkit.Get[*objects.PersistentVolume](ctx, o, "", claim.Spec.VolumeName)
	require.NoError(t, err)
	require.NotNil(t, pv.Spec.Local)

	var mounted []string
	for _, c := range rts[pod.Spec.NodeName].Configs() {
		for _, m := range c.Config.Mounts {
			if m.ContainerPath == "/scratch" {
				mounted = append(mounted, m.HostPath)
			}
		}
	}
	assert.Equal(t, []string{pv.Spec.Local.Path}, mounted, "the container mounts the claim's volume")

	require.NoError(t, o.Delete(ctx, pod))
	require.NoError(t, o.WaitFor(wctx, claim, podkit.Deleted), "the claim goes with its pod")

	// Someone else's claim under the pod's claim name.
	other := &objects.PersistentVolumeClaim{ObjectMeta: objects.ObjectMeta{Name: "db-scratch"}, Spec: ephemeralPod("").Spec.Volumes[0].Ephemeral.VolumeClaimTemplate.Spec}
	require.NoError(t, o.Apply(ctx, other))
	db := ephemeralPod("db")
	require.NoError(t, o.Apply(ctx, db))
	_, err = podkit.WaitUntil(wctx, o, "default", "db", func(p *objects.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == objects.PodScheduled && c.Status == objects.ConditionFalse && c.Message != "" {
				return true
			}
		}
		return false
	})
	require.NoError(t, err)
	p, err := podkit.Get[*objects.Pod](ctx, o, "default", "db")
	require.NoError(t, err)
	assert.Empty(t, p.Spec.NodeName)
	for _, c := range p.Status.Conditions {
		if c.Type == objects.PodScheduled {
			assert.Contains(t, c.Message, "PVC default/db-scratch was not created for pod default/db (pod is not owner)")
		}
	}
}
