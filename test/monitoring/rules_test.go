// Package monitoring checks the Prometheus rules that dist/ ships
// (dist/prometheus/ovnkube-rules.yaml) with Debian's promtool, and that
// every alert is unit-tested and documented.
package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

const (
	rulesFile = "ovnkube-rules.yaml"
	testsFile = "ovnkube-rules.test.yaml"
	docsFile  = "docs/monitoring.md"
)

func rulesDir(t *testing.T) string {
	t.Helper()
	root, err := sandbox.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.Dir(sandbox.PrometheusRulesFile))
}

// TestPrometheusRules: `promtool check rules` accepts the rules file and
// `promtool test rules` passes its unit tests.
func TestPrometheusRules(t *testing.T) {
	promtool, err := sandbox.DebianBin("promtool") // names "make debs" when missing
	if err != nil {
		t.Fatal(err)
	}
	dir := rulesDir(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", rulesFile}},
		{"test rules", []string{"test", "rules", testsFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(promtool, tc.args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s (in %s): %v\n%s", strings.Join(tc.args, " "), dir, err, out)
			}
			if !strings.Contains(string(out), "SUCCESS") {
				t.Fatalf("promtool %s: no SUCCESS in\n%s", strings.Join(tc.args, " "), out)
			}
		})
	}
}

// TestPrometheusAlertsCovered: every alert has a unit test in which it
// fires and one in which it does not, a runbook annotation, and a section
// in docs/monitoring.md that the annotation points at.
func TestPrometheusAlertsCovered(t *testing.T) {
	dir := rulesDir(t)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	var tests struct {
		Tests []struct {
			Name      string `json:"name"`
			AlertTest []struct {
				AlertName string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	for file, into := range map[string]any{rulesFile: &rules, testsFile: &tests} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	docs, err := os.ReadFile(filepath.Join(dir, "..", "..", docsFile))
	if err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.AlertName] = true
			} else {
				silent[a.AlertName] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			t.Run(r.Alert, func(t *testing.T) {
				if !fires[r.Alert] {
					t.Errorf("%s has no test in %s where it fires", r.Alert, testsFile)
				}
				if !silent[r.Alert] {
					t.Errorf("%s has no test in %s where it stays silent", r.Alert, testsFile)
				}
				anchor := strings.ToLower(r.Alert)
				if want := docsFile + "#" + anchor; r.Annotations["runbook"] != want {
					t.Errorf("%s: runbook annotation %q, want %q", r.Alert, r.Annotations["runbook"], want)
				}
				if !strings.Contains(string(docs), "\n### "+r.Alert+"\n") {
					t.Errorf("%s has no section \"### %s\" in %s", r.Alert, r.Alert, docsFile)
				}
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("%s: summary and description annotations are required", r.Alert)
				}
			})
		}
	}
	if n == 0 {
		t.Fatalf("no alert in %s", rulesFile)
	}
}
