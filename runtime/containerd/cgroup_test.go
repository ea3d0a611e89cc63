package containerd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/runtime/containerd"
)

// namespaceCgroups returns the cgroups named after containerd namespace ns
// in every hierarchy: where its containers' cgroups are made.
func namespaceCgroups(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/" + ns, "/sys/fs/cgroup/*/" + ns} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		out = append(out, m...)
	}
	return out
}

// RemoveNamespace leaves no cgroup of the namespace behind: runc removes
// each container's cgroup with the container, the runtime the cgroup they
// were made in, and the empty cgroup of a container whose delete did not
// remove it.
func TestRemoveNamespaceRemovesItsCgroup(t *testing.T) {
	ns := testNS + "-cg"
	rt := newRuntime(t, containerd.WithNamespace(ns))
	ctx := testContext(t)
	require.NoError(t, testimage.Ensure(ctx, rt, demo))
	p := newPod(t, rt, "cg-"+randHex(3))
	id := p.run("app", nil)
	waitContainer(t, rt, id, "running", running)
	cgs := namespaceCgroups(t, ns)
	require.NotEmpty(t, cgs, "the namespace's cgroup while a container runs")
	// A container's cgroup that runc left, empty, in each hierarchy.
	for _, cg := range cgs {
		require.NoError(t, os.Mkdir(filepath.Join(cg, "left-"+randHex(4)), 0o755))
	}

	require.NoError(t, rt.RemoveSandbox(ctx, p.id))
	require.NoError(t, rt.RemoveNamespace(ctx))
	require.Empty(t, namespaceCgroups(t, ns))
}
