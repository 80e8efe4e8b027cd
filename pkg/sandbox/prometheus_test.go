package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/yaml"

	"github.com/ovnkube/ovnkube/test/harness"
)

func TestPrometheusConfig(t *testing.T) {
	master := ScrapeJob{Name: "ovnkube-master", Targets: []ScrapeTarget{{Address: "127.0.0.1:4001"}}}
	nodes := ScrapeJob{Name: "ovnkube-node", Targets: []ScrapeTarget{
		{Address: "127.0.0.1:4002", Labels: map[string]string{"node": "node-1"}},
		{Address: "127.0.0.1:4003", Labels: map[string]string{"node": "node-2"}},
	}}
	for _, tc := range []struct {
		name     string
		opts     PrometheusOptions
		interval string
		jobs     map[string][]staticConfig
		wantErr  string
	}{{
		name:     "default interval, master and nodes with their labels",
		opts:     PrometheusOptions{Jobs: []ScrapeJob{master, nodes}, RuleFiles: []string{"/r/rules.yaml"}},
		interval: "2s",
		jobs: map[string][]staticConfig{
			"ovnkube-master": {{Targets: []string{"127.0.0.1:4001"}}},
			"ovnkube-node": {
				{Targets: []string{"127.0.0.1:4002"}, Labels: map[string]string{"node": "node-1"}},
				{Targets: []string{"127.0.0.1:4003"}, Labels: map[string]string{"node": "node-2"}},
			},
		},
	}, {
		name:     "sub-second interval in milliseconds",
		opts:     PrometheusOptions{Jobs: []ScrapeJob{master}, Interval: 1500 * time.Millisecond},
		interval: "1500ms",
		jobs:     map[string][]staticConfig{"ovnkube-master": {{Targets: []string{"127.0.0.1:4001"}}}},
	}, {
		name:     "a job without targets is kept, empty",
		opts:     PrometheusOptions{Jobs: []ScrapeJob{{Name: "ovnkube-node"}}},
		interval: "2s",
		jobs:     map[string][]staticConfig{"ovnkube-node": {}},
	}, {
		name:    "repeated job name",
		opts:    PrometheusOptions{Jobs: []ScrapeJob{master, master}},
		wantErr: `"ovnkube-master": empty or repeated`,
	}, {
		name:    "empty job name",
		opts:    PrometheusOptions{Jobs: []ScrapeJob{{}}},
		wantErr: `"": empty or repeated`,
	}, {
		name:    "interval below a millisecond",
		opts:    PrometheusOptions{Interval: time.Microsecond},
		wantErr: "must be at least 1ms",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := PrometheusConfig(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PrometheusConfig: error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got promConfig
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("rendered config is not YAML: %v\n%s", err, out)
			}
			if want := (promGlobal{tc.interval, tc.interval, tc.interval}); got.Global != want {
				t.Errorf("global = %+v, want %+v", got.Global, want)
			}
			if !reflect.DeepEqual(got.RuleFiles, tc.opts.RuleFiles) {
				t.Errorf("rule_files = %v, want %v", got.RuleFiles, tc.opts.RuleFiles)
			}
			jobs := map[string][]staticConfig{}
			for _, sc := range got.ScrapeConfigs {
				jobs[sc.JobName] = sc.StaticConfigs
			}
			if !reflect.DeepEqual(jobs, tc.jobs) {
				t.Errorf("scrape configs = %+v, want %+v\n%s", jobs, tc.jobs, out)
			}
		})
	}
}

// TestPrometheusConfigPromtool: what the sandbox writes, with the shipped
// rules file, passes `promtool check config` (which checks the rules too).
func TestPrometheusConfigPromtool(t *testing.T) {
	promtool, err := DebianBin("promtool")
	if err != nil {
		t.Fatal(err)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := PrometheusConfig(PrometheusOptions{
		Jobs: []ScrapeJob{
			{Name: "ovnkube-master", Targets: []ScrapeTarget{{Address: "127.0.0.1:4001"}}},
			{Name: "ovnkube-node", Targets: []ScrapeTarget{{Address: "127.0.0.1:4002", Labels: map[string]string{"node": "node-1"}}}},
		},
		RuleFiles: []string{filepath.Join(root, PrometheusRulesFile)},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, cfg)
	}
}

// TestMetricsRelayAndPrometheus: a metrics endpoint on the loopback of a
// network namespace of its own (as a node agent's) is reached from the root
// namespace through the relay, and the sandbox's Prometheus scrapes it
// there and evaluates the shipped rules.
func TestMetricsRelayAndPrometheus(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := harness.ShortTempDir(t)
	netns := fmt.Sprintf("ovnk-test-%d-metrics", os.Getpid())
	if err := AddNetNS(netns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		StopProcessesInNetNS([]string{netns}, StopTimeout)
		_ = DelNetNS(netns)
	})

	// A real metrics endpoint, listening inside the namespace only.
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sandbox_relay_test_value", Help: "A value only the namespace serves."})
	g.Set(42)
	reg.MustRegister(g)
	var ln net.Listener
	if err := InNetNS(NetNSPath(netns), func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:9410")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	relay, err := StartMetricsRelay(netns, "127.0.0.1:9410", filepath.Join(dir, "metrics.sock"), "metrics-relay-test", filepath.Join(dir, "relay.log"), Launch{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(relay.Stop)
	if !strings.HasPrefix(relay.URL, "http://127.0.0.1:") {
		t.Errorf("relay URL %s is not on the root namespace's loopback", relay.URL)
	}
	m, err := Scrape(relay.URL)
	if err != nil {
		t.Fatalf("scrape through the relay: %v", err)
	}
	if v := m.Value("sandbox_relay_test_value", nil); v != 42 {
		t.Errorf("sandbox_relay_test_value through the relay = %v, want 42", v)
	}

	prom, err := StartPrometheus(filepath.Join(dir, "prometheus"), PrometheusOptions{
		Jobs:      []ScrapeJob{{Name: "relay-test", Targets: []ScrapeTarget{{Address: relay.Address, Labels: map[string]string{"node": "n1"}}}}},
		RuleFiles: []string{filepath.Join(root, PrometheusRulesFile)},
		Interval:  time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prom.Stop)
	t.Logf("prometheus ready in %s at %s", prom.ReadyIn.Round(time.Millisecond), prom.URL)
	if !strings.HasPrefix(prom.URL, "http://127.0.0.1:") {
		t.Errorf("prometheus URL %s is not on loopback", prom.URL)
	}

	// Scraped through the relay with the target's labels (the first scrape
	// comes about 5 s after the start: Prometheus hands new targets to its
	// scrapers on a 5 s tick); and the rules are evaluated: nothing exports
	// ovnkube_leader here, so OVNKubeNoLeader turns pending at once.
	for _, q := range []struct{ query, labels string }{
		{`sandbox_relay_test_value{job="relay-test",node="n1"} == 42`, "job=relay-test node=n1"},
		{`up{job="relay-test"} == 1`, "job=relay-test"},
		{`ALERTS{alertname="OVNKubeNoLeader"}`, "alertname=OVNKubeNoLeader"},
	} {
		waitForQuery(t, prom.URL, q.query, 30*time.Second, func(s []PromSample) error {
			if len(s) != 1 {
				return fmt.Errorf("%d samples, want 1 (%s)", len(s), q.labels)
			}
			return nil
		})
	}

	procs := append(relay.Processes(), prom.Process)
	prom.Stop()
	relay.Stop()
	for _, p := range procs {
		if p.Running() {
			t.Errorf("%s (pid %d) still runs after Stop", p.Name(), p.Pid())
		}
	}
}

// waitForQuery polls the query (through waitReady, the package's one poll
// loop) until ok accepts its result or timeout.
func waitForQuery(t *testing.T, base, query string, timeout time.Duration, ok func([]PromSample) error) {
	t.Helper()
	var last []PromSample
	err := waitReady(query, timeout, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := QueryPrometheus(ctx, base, query)
		if err == nil {
			last = s
			err = ok(s)
		}
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("%v (last result %v)", err, last)
	}
}
