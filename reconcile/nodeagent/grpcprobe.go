package nodeagent

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/podkit/podkit/objects"
)

// grpcProbe asks the gRPC health service (grpc.health.v1.Health/Check) on
// the pod's IP and the probe's port about the probe's service ("" the
// server's), as the kubelet does: over plain text, through the agent's
// dialer, within ctx (the probe's timeout). It passes when the answer is
// SERVING; a failure says why in the kubelet's words.
func (a *Agent) grpcProbe(ctx context.Context, podIP string, g *objects.GRPCAction, timeout time.Duration) (bool, string) {
	addr := net.JoinHostPort(podIP, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), // as the kubelet's: no TLS
		grpc.WithUserAgent("kube-probe/podkit"),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return a.dial(ctx, "tcp", addr) }))
	if err != nil {
		return false, fmt.Sprintf("error: failed to connect service at %q: %v", addr, err)
	}
	defer conn.Close()
	var service string
	if g.Service != nil {
		service = *g.Service
	}
	// Wait for the connection, as the kubelet's blocking dial does, so
	// that a server still starting is not a failure until the timeout.
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(true))
	if err != nil {
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.Unimplemented:
			return false, "this server does not implement the grpc health protocol (grpc.health.v1.Health): " + st.Message()
		case codes.DeadlineExceeded:
			if conn.GetState() == connectivity.Ready { // connected; the answer was late
				return false, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
			}
			return false, fmt.Sprintf("timeout: failed to connect service %q within %v", addr, timeout)
		}
		return false, fmt.Sprintf("error: health rpc probe failed: %v", err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", s.String())
	}
	return true, ""
}
