package docker_test

import (
	"crypto/rand"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/scratchimage"
	"github.com/podkit/podkit/runtime"
)

func TestPullUnreachableRegistry(t *testing.T) {
	rt := newRuntime(t)
	// Nothing listens on port 1 of the loopback address: the engine's
	// connection is refused at once, and no traffic leaves the machine.
	const ref = "127.0.0.1:1/podkit/unreachable:1"
	start := time.Now()
	err := rt.PullImage(testContext(t), ref, runtime.PullOptions{})
	if !errors.Is(err, runtime.ErrImagePull) {
		t.Fatalf("PullImage(%s) = %v, want ErrImagePull", ref, err)
	}
	if errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("an unreachable registry reported as an unreachable runtime: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q does not name the registry", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("failing pull took %v", d)
	}
}

// TestPullProgress runs a registry in the test process, on loopback (which
// Docker treats as an insecure registry, so plain HTTP works), pushes an
// image to it and pulls it through the runtime.
func TestPullProgress(t *testing.T) {
	rt := newRuntime(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	ref := l.Addr().String() + "/podkit/pulled:" + randHex(3)
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	// A layer of random bytes the engine cannot have yet, big enough for
	// progress reports.
	blob := make([]byte, 4<<20)
	_, _ = rand.Read(blob)
	img, err := scratchimage.New([]scratchimage.File{{Path: "/blob", Data: blob}}, scratchimage.Config{Entrypoint: []string{"/blob"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push to the test registry: %v", err)
	}
	ctx := testContext(t)
	t.Cleanup(func() {
		_, _ = rt.Client().ImageRemove(testContext(t), ref, client.ImageRemoveOptions{})
	})

	var mu sync.Mutex
	var reports []runtime.PullProgress
	err = rt.PullImage(ctx, ref, runtime.PullOptions{Progress: func(p runtime.PullProgress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatalf("PullImage(%s): %v", ref, err)
	}
	if ok, err := rt.ImagePresent(ctx, ref); !ok || err != nil {
		t.Errorf("ImagePresent after the pull = %v, %v", ok, err)
	}
	var sized bool
	for _, p := range reports {
		if p.Total > 0 && p.Current <= p.Total {
			sized = true
		}
	}
	if len(reports) == 0 || !sized {
		t.Errorf("progress reports = %+v, want some with sizes", reports)
	}
	t.Logf("%d progress reports; last %+v", len(reports), reports[len(reports)-1])
}
