package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podkit/podkit/objects"
)

// healthCheck is what the health check node port of one Service answers.
type healthCheck struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints int  `json:"localEndpoints"`
	ProxyHealthy   bool `json:"serviceProxyHealthy"`
}

// healthChecks returns the health check of every Service that has a
// health check node port, by port. Every ready endpoint is local to the
// host, so all count, each address once as kube-proxy counts them.
func healthChecks(svcs []*objects.Service, endpoints func(objects.Key) *objects.Endpoints, healthy bool) map[uint16]*healthCheck {
	out := map[uint16]*healthCheck{}
	for _, s := range svcs {
		port := s.Spec.HealthCheckNodePort
		if !s.NeedsHealthCheck() || port <= 0 || port > 65535 {
			continue
		}
		hc := &healthCheck{ProxyHealthy: healthy}
		hc.Service.Namespace, hc.Service.Name = s.Namespace, s.Name
		if ep := endpoints(s.Key()); ep != nil {
			seen := map[string]bool{}
			for _, ss := range ep.Subsets {
				for _, a := range ss.Addresses {
					if !seen[a.IP] {
						seen[a.IP] = true
						hc.LocalEndpoints++
					}
				}
			}
		}
		out[uint16(port)] = hc
	}
	return out
}

// healthServers serves health check node ports: one HTTP server per port,
// listening on every configured host address.
type healthServers struct {
	addrs []netip.Addr
	log   *slog.Logger

	mu      sync.Mutex // servers; sync and closeAll
	servers map[uint16]*healthServer
	closed  bool
	wg      sync.WaitGroup
}

type healthServer struct {
	srv   *http.Server
	state atomic.Pointer[healthCheck]
}

func newHealthServers(addrs []netip.Addr, log *slog.Logger) *healthServers {
	return &healthServers{addrs: addrs, log: log, servers: map[uint16]*healthServer{}}
}

// sync serves want: a port no longer wanted stops, a new one starts, and
// the others answer from their new state at once.
func (h *healthServers) sync(want map[uint16]*healthCheck) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	for port, s := range h.servers {
		if want[port] == nil {
			s.srv.Close()
			delete(h.servers, port)
		}
	}
	var errs []error
	for port, hc := range want {
		if s := h.servers[port]; s != nil {
			s.state.Store(hc)
			continue
		}
		s, err := h.start(port)
		if err != nil {
			errs = append(errs, fmt.Errorf("health check node port %d of service %s/%s: %w", port, hc.Service.Namespace, hc.Service.Name, err))
			continue
		}
		s.state.Store(hc)
		h.servers[port] = s
	}
	return errors.Join(errs...)
}

func (h *healthServers) start(port uint16) (*healthServer, error) {
	var lns []net.Listener
	for _, a := range h.addrs {
		ln, err := net.Listen("tcp4", netip.AddrPortFrom(a, port).String())
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	s := &healthServer{}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelDebug)}
	for _, ln := range lns {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			_ = s.srv.Serve(ln) // returns once Close is called
		}()
	}
	return s, nil
}

// ServeHTTP answers as kube-proxy's service health check server does,
// whatever the method and path.
func (s *healthServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	hc := s.state.Load()
	body, _ := json.Marshal(hc)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(hc.LocalEndpoints))
	if hc.LocalEndpoints > 0 && hc.ProxyHealthy {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(body)
}

// closeAll stops every server and waits for their goroutines; later syncs
// start none.
func (h *healthServers) closeAll() {
	h.mu.Lock()
	h.closed = true
	for port, s := range h.servers {
		s.srv.Close()
		delete(h.servers, port)
	}
	h.mu.Unlock()
	h.wg.Wait()
}
