package testimage

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/runtimetest"
)

// conformanceUser is the user of the image the suite's ImageUser case
// reads.
const conformanceUser = "1000:5555"

// RunConformance runs the runtime conformance suite (runtimetest.Run) on
// a backend of a daemon of this host, with this package's images: idle,
// already on rt, for the containers, and the Groups and User images,
// which it builds and loads into rt. newRuntime makes each case's
// runtime. The daemon's files are the test's to read (SameHost) when it
// runs as root.
func RunConformance(t *testing.T, ctx context.Context, rt Loader, idle Image, newRuntime func(*testing.T) runtime.Runtime) {
	t.Helper()
	groups, err := Groups(ctx)
	if err == nil {
		err = Ensure(ctx, rt, groups)
	}
	if err != nil {
		t.Fatal(err)
	}
	user, err := User(ctx, conformanceUser)
	if err == nil {
		err = Ensure(ctx, rt, user)
	}
	if err != nil {
		t.Fatal(err)
	}
	runtimetest.Run(t, newRuntime, runtimetest.Config{
		Image:      idle.Ref,
		Exit:       func(code int) []string { return idle.Command("exit", strconv.Itoa(code)) },
		Print:      func(lines ...string) []string { return idle.Command(append([]string{"print"}, lines...)...) },
		IgnoreTerm: idle.Command("ignore-sigterm"),
		Cat:        idle.Command("cat"),
		Eprint:     func(lines ...string) []string { return idle.Command(append([]string{"eprint"}, lines...)...) },
		FailWith: func(path, message string, code int) []string {
			return idle.Command("fail-with", path, message, strconv.Itoa(code))
		},
		ReadFile:         func(path string) []string { return idle.Command("cat", path) },
		GroupsImage:      groups.Ref,
		GroupsReadFile:   func(path string) []string { return groups.Command("cat", path) },
		VolumeImage:      groups.Ref,
		VolumeImageFiles: GroupsFiles,
		UserImage:        user.Ref,
		UserImageUser:    conformanceUser,
		Processes:        idle.Command("ps"),
		Fill:             func(path string, bytes int) []string { return idle.Command("fill", path, strconv.Itoa(bytes)) },
		SameHost:         os.Geteuid() == 0,
		// Only ever a loopback address: nothing listens on port 1.
		AbsentImage: "127.0.0.1:1/podkit/absent:0",
	})
}
