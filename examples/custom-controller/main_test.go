package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example as `go run` does on each runtime: a Website
// becomes available through its Deployment, its Service's endpoints answer
// (on the real runtimes), and its Deployment and Service go with it. Each
// run has node names (and a containerd namespace) of its own, so that
// concurrent test processes sharing a daemon keep their pods apart.
func TestRun(t *testing.T) {
	for _, rt := range cluster.Names {
		t.Run(rt, func(t *testing.T) {
			cluster.Require(t, rt)
			args := []string{"-runtime", rt, "-cluster", exampleutil.UniqueCluster("cc"), "-timeout", "2m"}
			if err := run(t.Context(), args, t.Output()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
