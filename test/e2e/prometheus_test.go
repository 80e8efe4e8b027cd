package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// promWait bounds each wait on the sandbox's Prometheus: it hands new
// targets to its scrapers on a 5 s tick, then scrapes and evaluates the
// rules every 2 s.
const promWait = 30 * time.Second

// TestSandboxPrometheus: the sandbox's Prometheus (on loopback) scrapes the
// master and both node agents, the agents through their metrics relays and
// labelled with their node; it evaluates the shipped rules without error;
// and a Service's programming latency reaches it once the Service is
// programmed.
func TestSandboxPrometheus(t *testing.T) {
	s := dataplane(t)
	var st struct {
		MetricsURL    string `json:"metricsURL"`
		PrometheusURL string `json:"prometheusURL"`
		Nodes         []struct {
			Name            string `json:"name"`
			MetricsRelayURL string `json:"metricsRelayURL"`
		} `json:"nodes"`
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "sandbox.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.PrometheusURL, "http://127.0.0.1:") {
		t.Fatalf("sandbox.json prometheusURL %q: want a loopback URL", st.PrometheusURL)
	}
	prom := st.PrometheusURL
	query := func(q string) ([]sandbox.PromSample, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return sandbox.QueryPrometheus(ctx, prom, q)
	}

	// Each agent's metrics relay answers in the root namespace.
	for _, n := range st.Nodes {
		if !strings.HasPrefix(n.MetricsRelayURL, "http://127.0.0.1:") {
			t.Fatalf("%s: metrics relay URL %q: want a loopback URL", n.Name, n.MetricsRelayURL)
		}
		m, err := sandbox.Scrape(n.MetricsRelayURL)
		if err != nil {
			t.Fatalf("%s agent metrics through the relay: %v", n.Name, err)
		}
		if m.Value("ovnkube_ready", nil) != 1 || m.Value("ovnkube_ovsdb_connected", map[string]string{"database": "Open_vSwitch"}) != 1 {
			t.Errorf("%s agent through the relay: ovnkube_ready %v, Open_vSwitch connected %v; want 1 and 1", n.Name,
				m.Value("ovnkube_ready", nil), m.Value("ovnkube_ovsdb_connected", map[string]string{"database": "Open_vSwitch"}))
		}
	}

	// Exactly the master and one agent per node, all up.
	want := []string{"ovnkube-master/"}
	for _, n := range st.Nodes {
		want = append(want, "ovnkube-node/"+n.Name)
	}
	slices.Sort(want)
	var targets []string
	var last error
	waitFor(t, promWait, func() bool {
		var up []sandbox.PromSample
		up, last = query("up")
		targets = targets[:0]
		allUp := last == nil
		for _, s := range up {
			targets = append(targets, s.Labels["job"]+"/"+s.Labels["node"])
			allUp = allUp && s.Value == 1
		}
		slices.Sort(targets)
		return allUp && slices.Equal(targets, want)
	}, func() string { return fmt.Sprintf("up targets %v (want %v, all 1): %v", targets, want, last) })
	t.Logf("Prometheus scrapes %d targets, all up: %v", len(targets), targets)

	// The shipped rules are loaded and evaluate without error on real data.
	var rules []promRule
	waitFor(t, promWait, func() bool {
		rules, last = promRules(prom)
		if last != nil || len(rules) == 0 {
			return false
		}
		for _, r := range rules {
			if r.LastEvaluation.IsZero() || r.Health != "ok" {
				last = fmt.Errorf("rule %s: health %q, last evaluation %s, error %q", r.Name, r.Health, r.LastEvaluation, r.LastError)
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("rules not all evaluated and ok: %v", last) })
	var alerts []string
	for _, r := range rules {
		if r.Type == "alerting" {
			alerts = append(alerts, r.Name)
		}
	}
	for _, a := range []string{"OVNKubeReconcileErrors", "OVNKubeNBDisconnected", "OVNKubeNoLeader", "OVNKubeLeaderNotReady",
		"OVNKubeServiceProgrammingLatencyHigh", "OVNKubeNetworkPolicyProgrammingLatencyHigh", "OVNKubeInvalidObjects",
		"OVNKubeNodeSubnetsNearlyExhausted"} {
		if !slices.Contains(alerts, a) {
			t.Errorf("alert %s not loaded; loaded: %v", a, alerts)
		}
	}

	// A new Service is programmed: its latency reaches Prometheus, and the
	// recorded p99 appears.
	m, err := sandbox.Scrape(st.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	before := m.Value("ovnkube_service_programming_latency_seconds", nil)
	ctx := context.Background()
	ns := "prom-e2e"
	if _, err := s.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	created := time.Now()
	if _, err := s.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var count, p99 []sandbox.PromSample
	waitFor(t, promWait, func() bool {
		count, last = query(`ovnkube_service_programming_latency_seconds_count{job="ovnkube-master"}`)
		return last == nil && len(count) == 1 && count[0].Value > before
	}, func() string {
		return fmt.Sprintf("ovnkube_service_programming_latency_seconds_count in Prometheus: %v (%v), want above %v", count, last, before)
	})
	t.Logf("service programming latency count %v -> %v in Prometheus %s after the create", before, count[0].Value, time.Since(created).Round(time.Millisecond))
	waitFor(t, promWait, func() bool {
		p99, last = query(`job:ovnkube_service_programming_latency_seconds:p99_rate5m{job="ovnkube-master"}`)
		return last == nil && len(p99) == 1 && p99[0].Value > 0
	}, func() string { return fmt.Sprintf("recorded service programming p99: %v (%v)", p99, last) })
	t.Logf("recorded service programming p99: %.4f s", p99[0].Value)
}

// promRule is the part of a rule in /api/v1/rules the test reads.
type promRule struct {
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// promRules lists every rule Prometheus at base has loaded.
func promRules(base string) ([]promRule, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(base + "/api/v1/rules")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Rules []promRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET /api/v1/rules: %s: %w", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("GET /api/v1/rules: %s, status %q", resp.Status, body.Status)
	}
	var out []promRule
	for _, g := range body.Data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}
