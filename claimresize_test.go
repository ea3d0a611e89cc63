package podkit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
)

// A bound claim grows only when its class allows expansion, with
// Kubernetes' refusal otherwise; a local-path volume grown takes the new
// size at once, in the volume's capacity and the claim's status.
func TestClaimExpansion(t *testing.T) {
	o := newOrchestrator(t, podkit.WithControllers(reconcile.WithLocalPath(reconcile.LocalPathOptions{Root: t.TempDir()})))
	ctx := runOrchestrator(t, o)
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	yes, imm := true, objects.VolumeBindingImmediate
	require.NoError(t, o.Create(ctx, &objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: "fixed"},
		Provisioner: reconcile.LocalPathProvisioner, VolumeBindingMode: &imm}))
	require.NoError(t, o.Create(ctx, &objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: "growing"},
		Provisioner: reconcile.LocalPathProvisioner, VolumeBindingMode: &imm, AllowVolumeExpansion: &yes}))
	claim := func(name, class string) *objects.PersistentVolumeClaim {
		return &objects.PersistentVolumeClaim{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
			Spec: objects.PersistentVolumeClaimSpec{
				AccessModes: []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce}, StorageClassName: &class,
				Resources: objects.VolumeResourceRequirements{Requests: objects.ResourceList{objects.ResourceStorage: objects.MustParseQuantity("1Gi")}},
			}}
	}
	bound := func(c *objects.PersistentVolumeClaim) bool { return c != nil && c.Status.Phase == objects.ClaimBound }
	grow := func(name string) error {
		c, err := podkit.WaitUntil(wctx, o, "default", name, bound)
		require.NoError(t, err)
		c.Spec.Resources.Requests[objects.ResourceStorage] = objects.MustParseQuantity("2Gi")
		return o.Update(ctx, c)
	}
	require.NoError(t, o.Create(ctx, claim("fixed", "fixed")))
	require.NoError(t, o.Create(ctx, claim("growing", "growing")))

	err := grow("fixed")
	require.True(t, errors.Is(err, podkit.ErrForbidden), "growing a claim of a class without expansion: %v", err)
	assert.EqualError(t, err, `persistentvolumeclaims "fixed" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize: forbidden`)
	c, err := podkit.Get[*objects.PersistentVolumeClaim](ctx, o, "default", "fixed")
	require.NoError(t, err)
	assert.Equal(t, "1Gi", c.Spec.Resources.Requests.Name(objects.ResourceStorage, objects.BinarySI).String())

	require.NoError(t, grow("growing"))
	c, err = podkit.WaitUntil(wctx, o, "default", "growing", func(c *objects.PersistentVolumeClaim) bool {
		q := c.Status.Capacity.Name(objects.ResourceStorage, objects.BinarySI)
		return q.String() == "2Gi"
	})
	require.NoError(t, err)
	assert.Equal(t, "2Gi", c.Status.AllocatedResources.Name(objects.ResourceStorage, objects.BinarySI).String())
	pv, err := podkit.Get[*objects.PersistentVolume](ctx, o, "", c.Spec.VolumeName)
	require.NoError(t, err)
	assert.Equal(t, "2Gi", pv.Spec.Capacity.Name(objects.ResourceStorage, objects.BinarySI).String())
}
