package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/explain"
)

// explain runs the built `ovnkube explain` with the sandbox's environment
// only (OVN_NB_DB, OVN_SB_DB, KUBECONFIG: what a user of the sandbox has)
// and returns its stdout.
func (s *runningSandbox) explain(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := s.cmd(ctx, filepath.Join(s.binDir, "ovnkube"), append([]string{"explain"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ovnkube explain %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, out)
	}
	return v
}

// TestExplainDataplane: on the data-plane sandbox, `ovnkube explain pod`
// of a running pod lists its port (up), its switch, the router path to its
// node's gateway router and its SB binding on its node's chassis, with
// nothing missing; `explain node` finds the node's chassis; and `explain
// trace` between pods on two nodes ends in output to the destination
// pod's port, which a real ping confirms.
func TestExplainDataplane(t *testing.T) {
	s := dataplane(t)
	ips, _ := s.createPods(t,
		podSpec("default", "explain-a", "node-1", "/", "sleep", "3600"),
		podSpec("default", "explain-b", "node-2", "/", "sleep", "3600"),
	)
	chassis := s.chassisID(t, "node-1")

	t.Run("pod", func(t *testing.T) {
		r := decode[explain.Report](t, s.explain(t, "pod", "default/explain-a", "-o", "json"))
		p := r.Pod
		if p == nil || p.Port == nil || p.Port.Name != "default_explain-a" || p.Port.Switch != "node-1" || !p.Port.Up ||
			len(p.IPs) != 1 || !strings.HasPrefix(p.IPs[0], ips["explain-a"]+"/") {
			t.Fatalf("pod report = %+v", r)
		}
		var path []string
		for _, h := range p.Path {
			path = append(path, h.Name)
		}
		want := []string{"node-1", "stor-node-1", "rtos-node-1", "ovn_cluster_router", "rtoj-ovn_cluster_router", "join",
			"jtor-GR_node-1", "rtoj-GR_node-1", "GR_node-1"}
		if !slices.Equal(path, want) {
			t.Errorf("router path = %v, want %v", path, want)
		}
		if b := p.Binding; b == nil || b.Chassis != chassis || b.Hostname != "node-1" || !b.Up {
			t.Errorf("SB binding = %+v, want up on chassis %s (node-1)", b, chassis)
		}
		if len(r.Missing) != 0 {
			t.Errorf("a running pod has missing lines: %q", r.Missing)
		}
		t.Logf("ovnkube explain pod default/explain-a:\n%s", s.explain(t, "pod", "default/explain-a"))
	})

	t.Run("node", func(t *testing.T) {
		r := decode[explain.Report](t, s.explain(t, "node", "node-1", "-o", "json"))
		n := r.Node
		if n == nil || n.Chassis == nil || n.Chassis.Name != chassis || n.Chassis.Hostname != "node-1" ||
			n.ManagementPort == nil || !n.ManagementPort.Up || n.ManagementPort.Chassis != chassis {
			t.Fatalf("node report = %+v", r)
		}
		if len(r.Missing) != 0 {
			t.Errorf("a running node has missing lines: %q", r.Missing)
		}
	})

	t.Run("trace", func(t *testing.T) {
		tr := decode[explain.TraceReport](t, s.explain(t, "trace", "default/explain-a", "default/explain-b:8080/tcp", "-o", "json"))
		if tr.DestinationPort != "default_explain-b" || tr.DstIP != ips["explain-b"] || tr.Delivered == nil || !*tr.Delivered ||
			len(tr.Verdicts) != 1 || tr.Verdicts[0].Port != "default_explain-b" || tr.Verdicts[0].Owner != "Pod/default/explain-b" {
			t.Errorf("trace a -> b:8080/tcp = %+v", tr)
		}
		text := s.explain(t, "trace", "default/explain-a", "default/explain-b")
		if !strings.Contains(text, "Verdict: output to default_explain-b (Pod/default/explain-b)") {
			t.Errorf("trace a -> b:\n%s", text)
		}
		t.Logf("ovnkube explain trace default/explain-a default/explain-b:\n%s", text)
		// What the trace says is what the data plane does.
		s.waitPing(t, "explain-a", ips["explain-b"], 30*time.Second)
	})
}
