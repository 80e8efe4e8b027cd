package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"
)

// PrometheusRulesFile is the shipped rules file, relative to the repository
// root; the sandbox's Prometheus evaluates it.
const PrometheusRulesFile = "dist/prometheus/ovnkube-rules.yaml"

// DefaultScrapeInterval is the sandbox's scrape and rule evaluation
// interval: short, so a change shows in Prometheus (and a test waiting for
// it) within seconds.
const DefaultScrapeInterval = 2 * time.Second

// PrometheusReadyTimeout bounds the wait for /-/ready.
const PrometheusReadyTimeout = 60 * time.Second

// ScrapeJob is one scrape_configs entry with static targets.
type ScrapeJob struct {
	Name    string
	Targets []ScrapeTarget
}

// ScrapeTarget is one host:port serving /metrics, with extra target labels
// (e.g. node=node-1).
type ScrapeTarget struct {
	Address string
	Labels  map[string]string
}

// PrometheusOptions describe the sandbox's Prometheus.
type PrometheusOptions struct {
	Jobs []ScrapeJob
	// RuleFiles are absolute paths of rules files to evaluate.
	RuleFiles []string
	// Interval is the scrape and evaluation interval;
	// DefaultScrapeInterval when zero.
	Interval time.Duration
	Launch   Launch
}

// Prometheus is a running Prometheus server on 127.0.0.1. Its
// configuration, data and log live in Dir.
type Prometheus struct {
	Dir     string
	URL     string // http://127.0.0.1:PORT
	Config  string // Dir/prometheus.yml
	ReadyIn time.Duration
	Process *Process
}

// The parts of prometheus.yml the sandbox writes.
type promConfig struct {
	Global        promGlobal     `json:"global"`
	RuleFiles     []string       `json:"rule_files,omitempty"`
	ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string `json:"scrape_interval"`
	ScrapeTimeout      string `json:"scrape_timeout"`
	EvaluationInterval string `json:"evaluation_interval"`
}

type scrapeConfig struct {
	JobName       string         `json:"job_name"`
	StaticConfigs []staticConfig `json:"static_configs"`
}

type staticConfig struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// PrometheusConfig renders prometheus.yml: every job's targets scraped and
// the rule files evaluated every interval. One static_configs entry per
// target, so each carries its own labels.
func PrometheusConfig(opts PrometheusOptions) ([]byte, error) {
	interval := opts.Interval
	if interval == 0 {
		interval = DefaultScrapeInterval
	}
	if interval < time.Millisecond {
		return nil, fmt.Errorf("scrape interval %s: must be at least 1ms", interval)
	}
	d := promDuration(interval)
	cfg := promConfig{
		// The timeout may not exceed the interval.
		Global:    promGlobal{ScrapeInterval: d, ScrapeTimeout: d, EvaluationInterval: d},
		RuleFiles: opts.RuleFiles,
	}
	seen := map[string]bool{}
	for _, j := range opts.Jobs {
		if j.Name == "" || seen[j.Name] {
			return nil, fmt.Errorf("scrape job name %q: empty or repeated", j.Name)
		}
		seen[j.Name] = true
		sc := scrapeConfig{JobName: j.Name, StaticConfigs: []staticConfig{}}
		for _, t := range j.Targets {
			sc.StaticConfigs = append(sc.StaticConfigs, staticConfig{Targets: []string{t.Address}, Labels: t.Labels})
		}
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, sc)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render prometheus.yml: %w", err)
	}
	return append([]byte("# Written by the ovnkube sandbox (pkg/sandbox/prometheus.go).\n"), out...), nil
}

// promDuration formats d as a Prometheus duration, which takes whole
// numbers of one unit only ("2s", "1500ms", not "1.5s").
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// StartPrometheus writes dir/prometheus.yml and runs Debian's prometheus
// with it, listening on a free port of 127.0.0.1 only, its TSDB in
// dir/data and its log in dir/prometheus.log. It returns once /-/ready
// answers 200 (the rules are loaded then; the first scrapes follow within
// one interval).
func StartPrometheus(dir string, opts PrometheusOptions) (*Prometheus, error) {
	t0 := time.Now()
	bin, err := DebianBin("prometheus")
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg, err := PrometheusConfig(opts)
	if err != nil {
		return nil, err
	}
	pr := &Prometheus{Dir: dir, Config: filepath.Join(dir, "prometheus.yml")}
	if err := os.WriteFile(pr.Config, cfg, 0o644); err != nil {
		return nil, err
	}
	err = retryOnPortRace(func() (*Process, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		pr.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
		p, err := opts.Launch.start("prometheus", filepath.Join(dir, "prometheus.log"), nil, bin,
			"--config.file="+pr.Config,
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--storage.tsdb.retention.time=1d",
			"--web.listen-address="+fmt.Sprintf("127.0.0.1:%d", port),
		)
		if err != nil {
			return nil, err
		}
		pr.Process = p
		hc := &http.Client{Timeout: 2 * time.Second}
		if err := waitReady("prometheus", PrometheusReadyTimeout, func() (bool, error) { return httpOK(hc, pr.URL+"/-/ready", "") }, p); err != nil {
			p.Stop()
			return p, err
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	pr.ReadyIn = time.Since(t0)
	return pr, nil
}

// Stop stops Prometheus and waits for it. Idempotent.
func (p *Prometheus) Stop() {
	if p != nil {
		p.Process.Stop()
	}
}

// PromSample is one element of an instant vector.
type PromSample struct {
	Labels map[string]string
	Value  float64
}

// QueryPrometheus evaluates the PromQL expression query now, through the
// HTTP API of the Prometheus at base (http://127.0.0.1:PORT), and returns
// the resulting instant vector.
func QueryPrometheus(ctx context.Context, base, query string) ([]PromSample, error) {
	u := base + "/api/v1/query?" + url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: %s: decode the answer: %w", query, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s: %s", query, resp.Status, body.ErrorType, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %q, want an instant vector", query, body.Data.ResultType)
	}
	out := make([]PromSample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, ok := r.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("query %q: sample value %v is not a string", query, r.Value[1])
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: sample value %q: %w", query, s, err)
		}
		out = append(out, PromSample{Labels: r.Metric, Value: v})
	}
	return out, nil
}
