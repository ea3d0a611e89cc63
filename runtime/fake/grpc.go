package fake

import (
	"bufio"
	"context"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// serveGRPCHealth serves the gRPC health service on conn until the client
// goes, with the statuses of Behavior.GRPCHealth.
func serveGRPCHealth(conn *bufferedConn, statuses map[string]string) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, healthStatuses(statuses))
	conn.done = make(chan struct{})
	_ = srv.Serve(&oneConnListener{conn: conn})
	srv.Stop()
}

// healthStatuses answers health checks from Behavior.GRPCHealth.
type healthStatuses map[string]string

func (h healthStatuses) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if h == nil {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	st, ok := h[req.GetService()]
	if !ok {
		return nil, status.Error(codes.NotFound, "unknown service")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_ServingStatus(healthpb.HealthCheckResponse_ServingStatus_value[st])}, nil
}

func (h healthStatuses) List(ctx context.Context, _ *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{}}
	for name := range h {
		resp, _ := h.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
		out.Statuses[name] = resp
	}
	return out, nil
}

func (h healthStatuses) Watch(*healthpb.HealthCheckRequest, grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	return status.Error(codes.Unimplemented, "the fake runtime answers Check only")
}

// bufferedConn is a connection whose first bytes were read into r; done
// is closed when it is closed.
type bufferedConn struct {
	net.Conn
	r    *bufio.Reader
	done chan struct{}
	once sync.Once
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

// oneConnListener hands out one connection, then waits for it to close
// and says it is closed, which ends the server's Serve.
type oneConnListener struct {
	conn   *bufferedConn
	handed bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.handed {
		l.handed = true
		return l.conn, nil
	}
	<-l.conn.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
