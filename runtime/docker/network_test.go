package docker_test

import (
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/runtime/docker"
)

// networksNamed lists the ids of the networks named name.
func networksNamed(t *testing.T, cli *client.Client, name string) []string {
	t.Helper()
	res, err := cli.NetworkList(testContext(t), client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range res.Items {
		if n.Name == name { // the filter matches substrings
			ids = append(ids, n.ID)
		}
	}
	return ids
}

// The runtimes of several nodes on one engine, started together, make one
// pod network between them: Docker 20.10 lets networks share a name, and
// sandboxes name theirs, so a second one would stop every sandbox.
func TestNetworkCreatedOnceByRuntimesRacing(t *testing.T) {
	newRuntime(t) // skips without a daemon
	name := "podkit-race-" + randHex(3)
	const n = 16
	rts := make([]*docker.Runtime, n)
	for i := range rts {
		rts[i] = newRuntime(t, docker.WithNetwork(name))
	}
	cli := rts[0].Client()
	t.Cleanup(func() {
		for _, id := range networksNamed(t, cli, name) {
			_, _ = cli.NetworkRemove(testContext(t), id, client.NetworkRemoveOptions{})
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, rt := range rts {
		wg.Go(func() { _, errs[i] = rt.HostAddress(testContext(t)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("runtime %d: %v", i, err)
		}
	}
	if ids := networksNamed(t, cli, name); len(ids) != 1 {
		t.Errorf("networks named %s: %v, want one", name, ids)
	}
}

// A network of the same name that another creator made after the first,
// and that has no container, is removed when a runtime ensures its network.
func TestNetworkDuplicateRemoved(t *testing.T) {
	newRuntime(t) // skips without a daemon
	name := "podkit-dup-" + randHex(3)
	rt := newRuntime(t, docker.WithNetwork(name))
	cli := rt.Client()
	t.Cleanup(func() {
		for _, id := range networksNamed(t, cli, name) {
			_, _ = cli.NetworkRemove(testContext(t), id, client.NetworkRemoveOptions{})
		}
	})
	var ids []string
	for range 2 { // what two processes racing may leave
		res, err := cli.NetworkCreate(testContext(t), name, client.NetworkCreateOptions{Driver: "bridge"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	if got := networksNamed(t, cli, name); len(got) != 2 {
		t.Fatalf("the engine kept %d networks named %s, want the two made (Docker 20.10 allows it)", len(got), name)
	}
	if _, err := rt.HostAddress(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if got := networksNamed(t, cli, name); len(got) != 1 || got[0] != ids[0] {
		t.Errorf("networks named %s: %v, want only the older, %s", name, got, ids[0])
	}
}
