package containerd_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
)

// An image mount's view snapshot and host mount live as long as its
// container: RemoveContainer unmounts and removes them, and those of a
// container whose creation was cut short after them (its record deleted
// here behind the runtime's back) are removed by the repair at start,
// while a live container keeps its own.
func TestImageMountsGoWithTheirContainer(t *testing.T) {
	rt1 := newRuntime(t)
	ctx := testContext(t)
	img, err := testimage.Groups(ctx)
	if err == nil {
		err = testimage.Ensure(ctx, rt1, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := newPod(t, rt1, "imgvol")
	withImage := func(c *runtime.ContainerConfig) {
		c.Mounts = []runtime.Mount{{Image: img.Ref, ContainerPath: "/mnt/image"}}
	}
	live := p.run("live", withImage, "wait")
	removed := p.run("removed", withImage, "wait")
	cfg := &runtime.ContainerConfig{Name: "cut", Image: demo.Ref, Args: []string{"wait"}, Labels: map[string]string{runtime.LabelContainerName: "cut"}}
	for k, v := range p.cfg.Labels {
		cfg.Labels[k] = v
	}
	withImage(cfg)
	cut, err := rt1.CreateContainer(ctx, p.id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, want ...string) {
		t.Helper()
		got := map[string]int{}
		for _, m := range imageMountPoints(t) {
			got[filepath.Base(filepath.Dir(filepath.Dir(m)))]++
		}
		views := imageViews(t)
		if len(got) != len(want) || len(views) != len(want) {
			t.Errorf("%s: image mounts of containers %v, views %v; want one each for %v", when, got, views, want)
		}
		for _, id := range want {
			if got[id] != 1 || !views[id+"-image-0"] {
				t.Errorf("%s: container %s has %d image mounts, view %v; want 1 and a view", when, id, got[id], views[id+"-image-0"])
			}
		}
	}
	check("created", live, removed, cut)

	if err := rt1.RemoveContainer(ctx, removed); err != nil {
		t.Fatal(err)
	}
	check("after RemoveContainer", live, cut)

	nctx := namespaces.WithNamespace(ctx, testNS)
	if err := raw.ContainerService().Delete(nctx, cut); err != nil {
		t.Fatal(err)
	}
	rt1.Close()
	rt2 := newRuntime(t)
	p.handOver(rt2)
	check("after the repair", live)
	if _, err := os.Stat(filepath.Join(stateDir, testNS, "containers", cut)); !os.IsNotExist(err) {
		t.Errorf("the directory of the cut-short container is still there (%v)", err)
	}
	if err := rt2.RemoveSandbox(ctx, p.id); err != nil {
		t.Fatal(err)
	}
	check("after RemoveSandbox")
}

// imageMountPoints returns the mount points of the test namespace's image
// mounts.
func imageMountPoints(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	prefix := filepath.Join(stateDir, testNS, "containers") + "/"
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 4 && strings.HasPrefix(fs[4], prefix) && strings.Contains(fs[4], "/image-mounts/") {
			out = append(out, fs[4])
		}
	}
	return out
}

// imageViews returns the keys of the test namespace's image mount views.
func imageViews(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	ctx := namespaces.WithNamespace(context.Background(), testNS)
	err := raw.SnapshotService(containerd.DefaultSnapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if strings.Contains(info.Name, "-image-") {
			out[info.Name] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
