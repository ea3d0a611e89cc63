package nodeagent

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podkit/podkit/objects"
)

// slowHealth answers health checks only once release is closed.
type slowHealth struct {
	healthpb.UnimplementedHealthServer
	release chan struct{}
}

func (h slowHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	select {
	case <-h.release:
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	case <-ctx.Done():
		// The deadline the client sent can pass here a moment before it
		// passes in the client: an answer then would arrive in time.
		return nil, ctx.Err()
	}
}

// A server that connects but answers after the probe's timeout fails it
// as the kubelet words it; one that answers in time passes.
func TestGRPCProbeSlowAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, slowHealth{release: release})
	go srv.Serve(l)
	defer srv.Stop()
	ap := netip.MustParseAddrPort(l.Addr().String())
	a := &Agent{dial: (&net.Dialer{}).DialContext}
	g := &objects.GRPCAction{Port: int32(ap.Port())}

	probe := func(timeout time.Duration) (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return a.grpcProbe(ctx, ap.Addr().String(), g, timeout)
	}
	if ok, msg := probe(300 * time.Millisecond); ok || !strings.HasPrefix(msg, "timeout: health rpc did not complete within 300ms") {
		t.Errorf("a late answer: %v %q, want the health rpc timeout", ok, msg)
	}
	close(release)
	if ok, msg := probe(10 * time.Second); !ok {
		t.Errorf("an answer in time: failed, %q", msg)
	}
}
