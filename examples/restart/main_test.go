package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example as `go run` does on each runtime: the pods run
// on while no orchestrator does, and the new one adopts them. Each
// runtime's cluster has a namespace of its own, so that concurrent test
// processes sharing a daemon keep their pods apart.
func TestRun(t *testing.T) {
	for _, rt := range cluster.Names {
		t.Run(rt, func(t *testing.T) {
			cluster.Require(t, rt)
			args := []string{"-runtime", rt, "-cluster", exampleutil.UniqueCluster("restart"), "-timeout", "2m"}
			if err := run(t.Context(), args, t.Output()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
