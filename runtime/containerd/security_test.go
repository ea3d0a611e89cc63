package containerd_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/podkit/podkit/internal/scratchimage"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/runtime"
)

// groupsImage is the demo program in an image whose /etc/passwd has a
// user app (1000:1000) and whose /etc/group puts app in group extra
// (5555).
func groupsImage(t *testing.T) testimage.Image {
	t.Helper()
	bin, err := testimage.Binary(testContext(t), testimage.DemoPackage)
	if err != nil {
		t.Fatal(err)
	}
	img, err := scratchimage.New([]scratchimage.File{
		{Path: "/demo", Mode: 0o755, Data: bin},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/:/demo\napp:x:1000:1000:app:/:/demo\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\napp:x:1000:\nextra:x:5555:app\n")},
	}, scratchimage.Config{Entrypoint: []string{"/demo"}, Cmd: []string{"wait"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return testimage.Image{Ref: "podkit.local/groups:" + d.Hex[:12], Image: img, Path: "/demo"}
}

// The groups the image's /etc/group gives the container's user are added
// (Kubernetes' supplementalGroupsPolicy Merge), whether or not the user
// names its group, and left out with StrictGroups.
func TestSupplementalGroupsPolicy(t *testing.T) {
	rt := newRuntime(t)
	img := groupsImage(t)
	if err := testimage.Ensure(testContext(t), rt, img); err != nil {
		t.Fatal(err)
	}
	p := newPod(t, rt, "groups")
	for _, tc := range []struct {
		name   string
		user   string
		strict bool
		want   []string
	}{
		{"merge-uid", "1000", false, []string{"1000", "2000", "5555"}},
		{"merge-uid-gid", "1000:3000", false, []string{"2000", "3000", "5555"}},
		{"strict-uid", "1000", true, []string{"1000", "2000"}},
		{"strict-uid-gid", "1000:3000", true, []string{"2000", "3000"}},
	} {
		cfg := &runtime.ContainerConfig{Name: tc.name, Image: img.Ref, Command: img.Command("cat", "/proc/self/status"),
			User: tc.user, Labels: map[string]string{runtime.LabelContainerName: tc.name},
			Security: runtime.Security{SupplementalGroups: []int64{2000}, StrictGroups: tc.strict}}
		for k, v := range p.cfg.Labels {
			cfg.Labels[k] = v
		}
		id, err := rt.CreateContainer(testContext(t), p.id, cfg)
		if err != nil {
			t.Fatalf("%s: CreateContainer: %v", tc.name, err)
		}
		if err := rt.StartContainer(testContext(t), id); err != nil {
			t.Fatalf("%s: StartContainer: %v", tc.name, err)
		}
		waitContainer(t, rt, id, "exited", exited)
		rc, err := rt.ContainerLogs(testContext(t), id, runtime.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(rc)
		rc.Close()
		var got []string
		for _, line := range strings.Split(string(out), "\n") {
			if g, ok := strings.CutPrefix(line, "Groups:"); ok {
				got = strings.Fields(g)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: groups %q, want %q; status:\n%s", tc.name, got, tc.want, out)
		}
	}
}
