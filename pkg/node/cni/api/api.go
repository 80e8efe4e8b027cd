// Package api is the wire protocol between the ovn-k8s-cni-overlay plugin
// and the CNI server of `ovnkube node`: JSON over HTTP on a unix socket. It
// depends on the standard library only, so the plugin binary stays small.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Path is the HTTP path the server answers CNI requests on.
const Path = "/cni"

// CNI commands.
const (
	CommandAdd   = "ADD"
	CommandDel   = "DEL"
	CommandCheck = "CHECK"
)

// Request is one CNI invocation, as the plugin received it from the
// container runtime.
type Request struct {
	Command      string `json:"command"`
	PodNamespace string `json:"podNamespace,omitempty"`
	PodName      string `json:"podName,omitempty"`
	PodUID       string `json:"podUID,omitempty"`
	ContainerID  string `json:"containerID"`
	Netns        string `json:"netns,omitempty"` // path, e.g. /var/run/netns/x
	IfName       string `json:"ifName"`
	CNIVersion   string `json:"cniVersion,omitempty"`
}

// PodKey is "namespace/name", the key logs and errors use.
func (r Request) PodKey() string { return r.PodNamespace + "/" + r.PodName }

// Response is the server's answer: a CNI 1.0 result (ADD) or a
// human-readable error.
type Response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Do sends req to the server listening on socket and returns the CNI
// result (nil for DEL and CHECK). Server-side failures come back as an
// error carrying the server's message unchanged.
func Do(ctx context.Context, socket string, req Request) (json.RawMessage, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	httpc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://ovnkube-node"+Path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := httpc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the ovnkube node CNI server at %s (is ovnkube node running on this node?): %w", socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read CNI server response after %s: %w", time.Since(t0).Round(time.Millisecond), err)
	}
	var r Response
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("CNI server answered HTTP %d with non-JSON %q", resp.StatusCode, truncate(data))
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CNI server answered HTTP %d without a message", resp.StatusCode)
	}
	return r.Result, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
