package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
)

// Server serves the CNI protocol on a unix socket.
type Server struct {
	handler *Handler
	socket  string
	srv     *http.Server
	ln      net.Listener
}

// NewServer prepares a server for h on socket; Listen opens it.
func NewServer(h *Handler, socket string) *Server {
	s := &Server{handler: h, socket: socket}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.Path, s.serveCNI)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Listen creates the socket: its directory 0700 and the socket 0600, so
// only root can ask for pod plumbing. A stale socket file left by a
// previous process is removed first.
func (s *Server) Listen() error {
	dir := filepath.Dir(s.socket)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create CNI socket directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("chmod CNI socket directory %s: %w", dir, err)
	}
	if err := os.Remove(s.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale CNI socket %s: %w", s.socket, err)
	}
	ln, err := net.Listen("unix", s.socket)
	if err != nil {
		return fmt.Errorf("listen on --cni-socket %s: %w", s.socket, err)
	}
	if err := os.Chmod(s.socket, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("chmod CNI socket %s: %w", s.socket, err)
	}
	s.ln = ln
	return nil
}

// Serve serves until ctx ends, then stops accepting, lets requests in
// flight finish briefly, and removes the socket.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
	}()
	klog.InfoS("Serving CNI", "socket", s.socket)
	err := s.srv.Serve(s.ln)
	_ = os.Remove(s.socket)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("CNI server on %s: %w", s.socket, err)
}

func (s *Server) serveCNI(w http.ResponseWriter, r *http.Request) {
	var req api.Request
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, api.Response{Error: fmt.Sprintf("bad CNI request: %v", err)})
		return
	}
	t0 := time.Now()
	res, err := s.handler.Handle(r.Context(), req)
	requestDuration.WithLabelValues(req.Command).Observe(time.Since(t0).Seconds())
	if err != nil {
		requestsTotal.WithLabelValues(req.Command, "error").Inc()
		klog.ErrorS(err, "CNI request failed", "command", req.Command, "pod", req.PodKey(), "containerID", req.ContainerID,
			"duration", time.Since(t0))
		writeJSON(w, http.StatusInternalServerError, api.Response{Error: err.Error()})
		return
	}
	requestsTotal.WithLabelValues(req.Command, "success").Inc()
	var raw json.RawMessage
	if res != nil {
		if raw, err = json.Marshal(res); err != nil {
			writeJSON(w, http.StatusInternalServerError, api.Response{Error: fmt.Sprintf("encode CNI result: %v", err)})
			return
		}
	}
	writeJSON(w, http.StatusOK, api.Response{Result: raw})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
