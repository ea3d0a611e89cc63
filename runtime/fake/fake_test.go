package fake_test

import (
	"strconv"
	"testing"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/runtime/runtimetest"
)

const testImage = "podkit.local/test:1"

func TestConformance(t *testing.T) {
	defer goleak.VerifyNone(t)
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime {
		rt, err := fake.New(fake.WithImages(testImage))
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
	})
}
