package fake_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/runtime/runtimetest"
)

const (
	testImage = "podkit.local/test:1"
	userImage = "podkit.local/user:1"
)

func TestConformance(t *testing.T) {
	defer goleak.VerifyNone(t)
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime {
		rt, err := fake.New(fake.WithImages(testImage, userImage, volumeImage), fake.WithImageUser(userImage, "1000:5555"),
			fake.WithImageFiles(volumeImage, volumeImageFiles))
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}, runtimetest.Config{
		Image:      testImage,
		Exit:       func(code int) []string { return []string{"exit", strconv.Itoa(code)} },
		Print:      func(lines ...string) []string { return append([]string{"print"}, lines...) },
		IgnoreTerm: []string{"ignore-sigterm"},
		Cat:        []string{"cat"},
		Eprint:     func(lines ...string) []string { return append([]string{"eprint"}, lines...) },
		FailWith: func(path, message string, code int) []string {
			return []string{"fail-with", path, message, strconv.Itoa(code)}
		},
		ReadFile:         func(path string) []string { return []string{"cat", path} },
		Processes:        []string{"ps"},
		Fill:             func(path string, bytes int) []string { return []string{"fill", path, strconv.Itoa(bytes)} },
		UserImage:        userImage,
		UserImageUser:    "1000:5555",
		VolumeImage:      volumeImage,
		VolumeImageFiles: volumeImageFiles,
	})
}

// volumeImage is an image with files, for image volumes.
const volumeImage = "registry.local/models:1"

var volumeImageFiles = map[string]string{"/models/small.bin": "weights", "/README": "read me"}

func ids[T any](t *testing.T, list func(context.Context, runtime.Filter) ([]T, error), f runtime.Filter, id func(T) string) []string {
	t.Helper()
	xs, err := list(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if xs == nil {
		t.Errorf("list %+v returned nil, want an empty slice", f)
	}
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func TestListsInCreationOrder(t *testing.T) {
	ctx := context.Background()
	rt, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	p := newPod(t, rt, "p")
	a1 := p.run(t, "a", "app:1")
	q := newPod(t, rt, "q")
	q1 := q.run(t, "q", "app:1")
	s2, err := rt.RunSandbox(ctx, p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	b1 := (&pod{rt: rt, sb: s2, cfg: p.cfg}).run(t, "b", "app:1")
	a2 := p.run(t, "a2", "app:1")

	ctrs := func(f runtime.Filter) []string {
		return ids(t, rt.ListContainers, f, func(c runtime.ContainerStatus) string { return c.ID })
	}
	sbs := func(f runtime.Filter) []string {
		return ids(t, rt.ListSandboxes, f, func(s runtime.SandboxStatus) string { return s.ID })
	}
	ofP := runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: p.cfg.PodUID}}
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"containers of p", ctrs(ofP), []string{a1, b1, a2}},
		{"all containers", ctrs(runtime.Filter{}), []string{a1, q1, b1, a2}},
		{"containers of the first sandbox", ctrs(runtime.Filter{SandboxID: p.sb}), []string{a1, a2}},
		{"containers of p's sandbox and q", ctrs(runtime.Filter{SandboxID: p.sb, Labels: q.cfg.Labels}), []string{}},
		{"containers of no sandbox", ctrs(runtime.Filter{SandboxID: a1}), []string{}},
		{"sandboxes of p", sbs(ofP), []string{p.sb, s2}},
		{"all sandboxes", sbs(runtime.Filter{}), []string{p.sb, q.sb, s2}},
		{"sandbox by id", sbs(runtime.Filter{SandboxID: s2}), []string{s2}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	if err := rt.RemoveContainer(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if got, want := ctrs(ofP), []string{b1, a2}; !slices.Equal(got, want) {
		t.Errorf("containers of p after removing the first: %v, want %v", got, want)
	}
	if err := rt.RemoveSandbox(ctx, p.sb); err != nil {
		t.Fatal(err)
	}
	if got, want := ctrs(runtime.Filter{}), []string{q1, b1}; !slices.Equal(got, want) {
		t.Errorf("containers after removing p's first sandbox: %v, want %v", got, want)
	}
	if got, want := sbs(ofP), []string{s2}; !slices.Equal(got, want) {
		t.Errorf("sandboxes of p after removing its first: %v, want %v", got, want)
	}
	if err := rt.RemoveSandbox(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if got := append(sbs(ofP), ctrs(ofP)...); len(got) != 0 {
		t.Errorf("p's sandboxes and containers after removing both sandboxes: %v, want none", got)
	}
	for _, id := range []string{a1, "g" + q1[1:], q.sb, q1 + "0", ""} {
		if err := rt.StartContainer(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("StartContainer(%q) = %v, want ErrNotFound", id, err)
		}
	}
}
