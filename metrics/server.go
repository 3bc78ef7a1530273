package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
)

// HealthCheckTimeout bounds the Temporal health check behind /healthz.
const HealthCheckTimeout = 2 * time.Second

// HealthChecker is the part of client.Client that Health uses.
type HealthChecker interface {
	CheckHealth(ctx context.Context, req *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// Health answers /healthz: 200 "ok" once the worker has started and Temporal answers a
// health check within HealthCheckTimeout, else 503 with the reason.
type Health struct {
	client  HealthChecker
	started atomic.Bool
	stopped atomic.Bool
}

// NewHealth returns a Health that checks Temporal through c; it reports unhealthy until
// SetStarted.
func NewHealth(c HealthChecker) *Health { return &Health{client: c} }

// SetStarted marks the worker as started (polling its task queue).
func (h *Health) SetStarted() { h.started.Store(true) }

// SetStopping marks the worker as shutting down: /healthz answers 503 from then on.
func (h *Health) SetStopping() { h.stopped.Store(true) }

// Check returns why the worker is not healthy, or nil.
func (h *Health) Check(ctx context.Context) error {
	switch {
	case h.stopped.Load():
		return errors.New("worker is stopping")
	case !h.started.Load():
		return errors.New("worker has not started yet")
	}
	ctx, cancel := context.WithTimeout(ctx, HealthCheckTimeout)
	defer cancel()
	if _, err := h.client.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("the Temporal health check failed (is the frontend in TEMPORAL_ADDRESS reachable?): %w", err)
	}
	return nil
}

func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.Check(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "unhealthy:", err)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Mux returns the worker's HTTP handler: /metrics from g (the Go runtime and process
// collectors included when g is the handler's registry, see RegisterRuntime) and /healthz
// from health.
func Mux(g prometheus.Gatherer, health http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.Handle("GET /healthz", health)
	return mux
}

// RegisterRuntime adds the Go runtime and process collectors (go_*, process_*: memory,
// CPU, goroutines) to reg.
func RegisterRuntime(reg prometheus.Registerer) error {
	return errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	)
}

// Server is the worker's HTTP server.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen listens on addr (host:port; port 0 picks a free one) for h.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for /metrics and /healthz on %s (--http-listen): %w", addr, err)
	}
	return &Server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown; it returns nil after Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits (until ctx ends) for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
