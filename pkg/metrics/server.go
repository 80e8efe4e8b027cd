package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
)

// Health tracks what /healthz and /readyz report. Live is true from start;
// Ready flips once the component has done its first full sync, so a
// Deployment's readiness probe (and the test harness) can wait on it, and
// drops while a database it needs is unreachable; /readyz says why.
type Health struct {
	ready  atomic.Bool
	reason atomic.Value // string: why not ready
	role   atomic.Value // string: what /readyz adds when ready, e.g. "leader"
}

// SetRole sets what /readyz reports beside "ok", e.g. "leader" or
// "standby, leader is X", so an operator sees which master writes.
func (h *Health) SetRole(role string) { h.role.Store(role) }

// Role is the last SetRole value.
func (h *Health) Role() string {
	r, _ := h.role.Load().(string)
	return r
}

// SetReady marks the component ready (or not) and mirrors it in ovnkube_ready.
func (h *Health) SetReady(ready bool) {
	if ready {
		h.reason.Store("")
	}
	h.ready.Store(ready)
	if ready {
		Ready.Set(1)
	} else {
		Ready.Set(0)
	}
}

// SetNotReady marks the component not ready for reason.
func (h *Health) SetNotReady(reason string) {
	h.reason.Store(reason)
	h.SetReady(false)
}

// IsReady reports the last SetReady value.
func (h *Health) IsReady() bool { return h.ready.Load() }

// Reason is why the component is not ready ("" when ready or not yet known).
func (h *Health) Reason() string {
	r, _ := h.reason.Load().(string)
	return r
}

// Handler serves /metrics, /healthz and /readyz.
func Handler(h *Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !h.IsReady() {
			reason := h.Reason()
			if reason == "" {
				reason = "waiting for the first full sync"
			}
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		if role := h.Role(); role != "" {
			fmt.Fprintln(w, "ok:", role)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Serve listens on addr and serves Handler(h) until ctx ends. The listener is
// opened before Serve returns so a bad --metrics-address fails the start.
func Serve(ctx context.Context, addr string, h *Health) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on --metrics-address %q: %w", addr, err)
	}
	srv := &http.Server{Handler: Handler(h), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "Metrics server stopped", "address", addr)
		}
	}()
	klog.InfoS("Serving metrics and health", "address", ln.Addr().String())
	return nil
}
