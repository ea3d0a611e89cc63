package main

import (
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/internal/etcdtest"
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

// TestRunOnEtcd runs it with its store in etcd, on the fake runtime.
func TestRunOnEtcd(t *testing.T) {
	server := etcdtest.New(t)
	args := []string{"-runtime", cluster.Fake, "-etcd", server.Endpoint, "-timeout", "2m"}
	if err := run(t.Context(), args, t.Output()); err != nil {
		t.Fatal(err)
	}
	cli := server.Client(t)
	resp, err := cli.Get(t.Context(), "/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Fatalf("etcd holds %d keys after the example", resp.Count)
	}
}
