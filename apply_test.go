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

// applyYAML applies one manifest and returns the stored Deployment web.
func applyYAML(t *testing.T, o *podkit.Orchestrator, y string) *objects.Deployment {
	t.Helper()
	ctx := context.Background()
	objs, err := objects.DecodeYAML(strings.NewReader(y))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))
	d, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	return d
}

func names[T any](items []T, name func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

const webManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations:
      - {key: a, operator: Exists}
      containers:
      - name: app
        image: app:IMAGE
        env:
        - {name: MODE, value: demo}
        - {name: DEBUG, value: "1"}
        ports:
        - {containerPort: 8080}
        volumeMounts:
        - {name: config, mountPath: /etc/app}
      volumes:
      - name: config
        configMap: {name: app-config}
`

// Apply merges lists as kubectl apply does: by key where Kubernetes'
// patch strategy says so, keeping what another writer added; replaced
// where it says nothing.
func TestApplyMergesListsByKey(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	d := applyYAML(t, o, strings.ReplaceAll(webManifest, "IMAGE", "v1"))

	// Another writer adds a container, an env var and a toleration.
	spec := &d.Spec.Template.Spec
	spec.Containers = append(spec.Containers, objects.Container{Name: "proxy", Image: "proxy:1"})
	spec.Containers[0].Env = append(spec.Containers[0].Env, objects.EnvVar{Name: "INJECTED", Value: "yes"})
	spec.Tolerations = append(spec.Tolerations, objects.Toleration{Key: "b", Operator: objects.TolerationOpExists})
	require.NoError(t, o.Update(ctx, d))

	// The manifest again: a new image, DEBUG gone, the volume an emptyDir.
	next := strings.ReplaceAll(webManifest, "IMAGE", "v2")
	next = strings.Replace(next, "        - {name: DEBUG, value: \"1\"}\n", "", 1)
	next = strings.Replace(next, "configMap: {name: app-config}", "emptyDir: {}", 1)
	d = applyYAML(t, o, next)
	spec = &d.Spec.Template.Spec

	containerName := func(c objects.Container) string { return c.Name }
	assert.Equal(t, []string{"app", "proxy"}, names(spec.Containers, containerName), "the other writer's container is kept")
	assert.Equal(t, "app:v2", spec.Containers[0].Image)
	assert.Equal(t, []string{"MODE", "INJECTED"}, names(spec.Containers[0].Env, func(e objects.EnvVar) string { return e.Name }),
		"DEBUG, removed from the manifest, is gone; the other writer's variable is kept")
	assert.Equal(t, []string{"a"}, names(spec.Tolerations, func(t objects.Toleration) string { return t.Key }),
		"tolerations have no merge key: the manifest's list replaces the live one")
	require.Len(t, spec.Volumes, 1)
	assert.NotNil(t, spec.Volumes[0].EmptyDir, "the volume's source is replaced (retainKeys), not merged into two")
	assert.Nil(t, spec.Volumes[0].ConfigMap)

	// The container removed from the manifest goes; proxy, never applied,
	// stays.
	objs, err := objects.DecodeYAML(strings.NewReader(strings.Replace(next, "      - name: app\n        image: app:v2\n", "      - name: app2\n        image: app:v2\n", 1)))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))
	d, err = podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, []string{"proxy", "app2"}, names(d.Spec.Template.Spec.Containers, containerName))
}
