package containerd_test

import (
	"context"
	"log"
	"net/netip"

	"github.com/podkit/podkit/runtime/containerd"
)

// A runtime on the default socket, in a namespace and pod subnet of the
// host's choosing. Hand it to the orchestrator with RegisterNode; Close it
// once the node is gone: the pods keep running, and a later New adopts them.
func ExampleNew() {
	ctx := context.Background()
	rt, err := containerd.New(ctx,
		containerd.WithNamespace("myplatform"),
		containerd.WithSubnet(netip.MustParsePrefix("10.99.0.0/16")),
		containerd.WithNetwork("myplatform", "myplat0"),
	)
	if err != nil {
		log.Fatal(err) // wraps runtime.ErrUnavailable when containerd is not there
	}
	defer rt.Close()
	v, err := rt.Version(ctx)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s %s", v.Name, v.Version)
}
