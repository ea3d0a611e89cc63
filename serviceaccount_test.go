package podkit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// A new pod runs as its namespace's "default" ServiceAccount unless it
// names another, which must exist, and gets its account's imagePullSecrets
// when it has none, as Kubernetes' ServiceAccount admission gives them.
func TestServiceAccountAdmission(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	objs, err := objects.DecodeYAML(strings.NewReader(`apiVersion: v1
kind: ServiceAccount
metadata: {name: builder}
imagePullSecrets: [{name: registry}]
`))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))

	pod := func(name, sa string, secrets ...string) *objects.Pod {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.PodSpec{
			ServiceAccountName: sa, Containers: []objects.Container{{Name: "app", Image: "app:1"}}}}
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, objects.LocalObjectReference{Name: s})
		}
		return p
	}
	plain := pod("plain", "")
	require.NoError(t, o.Create(ctx, plain))
	assert.Equal(t, "default", plain.Spec.ServiceAccountName)

	build := pod("build", "builder")
	require.NoError(t, o.Create(ctx, build))
	assert.Equal(t, []objects.LocalObjectReference{{Name: "registry"}}, build.Spec.ImagePullSecrets)

	own := pod("own", "builder", "mine")
	require.NoError(t, o.Create(ctx, own))
	assert.Equal(t, []objects.LocalObjectReference{{Name: "mine"}}, own.Spec.ImagePullSecrets, "a pod's own secrets are kept")

	err = o.Create(ctx, pod("lost", "nobody"))
	require.ErrorIs(t, err, podkit.ErrForbidden)
	assert.EqualError(t, err, `pods "lost" is forbidden: error looking up service account default/nobody: serviceaccount "nobody" not found: forbidden`)
}
