package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example as `go run` does on each runtime: the Indexed
// Job, then two runs of the CronJob, then the deletion of both. On docker
// and containerd the CronJob's two runs take one to two minutes of wall
// clock (its schedule counts in minutes), so those subtests run in
// parallel; on the fake runtime the example's fast clock makes it seconds.
// Each runtime's cluster has a namespace of its own, so that concurrent
// test processes sharing a daemon keep their pods apart.
func TestRun(t *testing.T) {
	for _, rt := range cluster.Names {
		t.Run(rt, func(t *testing.T) {
			cluster.Require(t, rt)
			t.Parallel()
			args := []string{"-runtime", rt, "-cluster", exampleutil.UniqueCluster("jobs"), "-timeout", "4m"}
			if err := run(t.Context(), args, t.Output()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
