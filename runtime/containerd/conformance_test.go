package containerd_test

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/runtimetest"
)

func TestConformance(t *testing.T) {
	rt := newRuntime(t) // skips without a daemon
	groups, err := testimage.Groups(testContext(t))
	if err == nil {
		err = testimage.Ensure(testContext(t), rt, groups)
	}
	if err != nil {
		t.Fatal(err)
	}
	const user = "1000:5555"
	userImg, err := testimage.User(testContext(t), user)
	if err == nil {
		err = testimage.Ensure(testContext(t), rt, userImg)
	}
	if err != nil {
		t.Fatal(err)
	}
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t) }, runtimetest.Config{
		Image:      idle.Ref,
		Exit:       func(code int) []string { return idle.Command("exit", strconv.Itoa(code)) },
		Print:      func(lines ...string) []string { return idle.Command(append([]string{"print"}, lines...)...) },
		IgnoreTerm: idle.Command("ignore-sigterm"),
		Cat:        idle.Command("cat"),
		Eprint:     func(lines ...string) []string { return idle.Command(append([]string{"eprint"}, lines...)...) },
		FailWith: func(path, message string, code int) []string {
			return idle.Command("fail-with", path, message, strconv.Itoa(code))
		},
		ReadFile:       func(path string) []string { return idle.Command("cat", path) },
		GroupsImage:    groups.Ref,
		GroupsReadFile: func(path string) []string { return groups.Command("cat", path) },
		UserImage:      userImg.Ref,
		UserImageUser:  user,
		Processes:      idle.Command("ps"),
		// containerd is this host's: the backend makes network namespaces
		// and files for it.
		SameHost: os.Geteuid() == 0,
		// Only ever a loopback address: nothing listens on port 1.
		AbsentImage: "127.0.0.1:1/podkit/absent:0",
	})
}

func isNotFound(err error) bool { return errors.Is(err, runtime.ErrNotFound) }
