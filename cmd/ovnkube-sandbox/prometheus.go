package main

import (
	"fmt"
	"io"
	"net/url"
	"path/filepath"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// prometheusSubdir holds the sandbox Prometheus's prometheus.yml, TSDB
// (data/) and log.
const prometheusSubdir = "prometheus"

// Scrape job names, the same as docs/monitoring.md's cluster configuration,
// so queries and the shipped rules read the same in both.
const (
	masterJob = "ovnkube-master"
	nodeJob   = "ovnkube-node"
)

// startPrometheus runs Debian's prometheus in the root namespace on
// 127.0.0.1 only, scraping every sandbox.DefaultScrapeInterval the master
// (on the root namespace's loopback) and every node agent through its
// metrics relay (the agents listen on their node namespace's loopback; see
// pkg/sandbox/metricsrelay.go), and evaluating the shipped rules file.
// Node agents carry a node label, as the cluster configuration gives them.
func startPrometheus(s *starter, out io.Writer) error {
	c := s.c
	root, err := sandbox.RepoRoot()
	if err != nil {
		return fmt.Errorf("find %s (run from the repository): %w", sandbox.PrometheusRulesFile, err)
	}
	master, err := url.Parse(c.MetricsURL)
	if err != nil || master.Host == "" {
		return fmt.Errorf("master metrics URL %q: %v", c.MetricsURL, err)
	}
	jobs := []sandbox.ScrapeJob{{Name: masterJob, Targets: []sandbox.ScrapeTarget{{Address: master.Host}}}}
	nodes := sandbox.ScrapeJob{Name: nodeJob}
	for _, n := range c.Nodes {
		if n.MetricsRelayURL == "" {
			continue // no agent on this node
		}
		u, err := url.Parse(n.MetricsRelayURL)
		if err != nil {
			return fmt.Errorf("%s metrics relay URL %q: %w", n.Name, n.MetricsRelayURL, err)
		}
		nodes.Targets = append(nodes.Targets, sandbox.ScrapeTarget{Address: u.Host, Labels: map[string]string{"node": n.Name}})
	}
	if len(nodes.Targets) > 0 {
		jobs = append(jobs, nodes)
	}
	p, err := sandbox.StartPrometheus(c.path(prometheusSubdir), sandbox.PrometheusOptions{
		Jobs:      jobs,
		RuleFiles: []string{filepath.Join(root, sandbox.PrometheusRulesFile)},
		Launch:    s.launch(),
	})
	if err != nil {
		return err
	}
	c.PrometheusURL = p.URL
	fmt.Fprintf(out, "  %-26s ready in %s (%s, scrapes the master and %d node agents every %s)\n",
		"prometheus", round(p.ReadyIn), p.URL, len(nodes.Targets), sandbox.DefaultScrapeInterval)
	return nil
}
