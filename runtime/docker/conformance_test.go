package docker_test

import (
	"testing"

	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/runtime"
)

func TestConformance(t *testing.T) {
	rt := newRuntime(t) // skips without a daemon
	testimage.RunConformance(t, testContext(t), rt, idle, func(t *testing.T) runtime.Runtime { return newRuntime(t) })
}
