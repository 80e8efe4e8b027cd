package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The env file must be sourceable by bash, export exactly what `up`
// recorded (even with quotes in paths), and not grow PATH when sourced twice.
func TestWriteEnv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "it's here")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &cluster{
		Dir:        dir,
		BinDir:     "/opt/o'bin",
		Kubeconfig: dir + "/kube/kubeconfig",
		NBAddress:  "unix:/tmp/x/ovn/nb.sock",
		SBAddress:  "unix:/tmp/x/ovn/sb.sock",
		MetricsURL: "http://127.0.0.1:1234/metrics",

		PrometheusURL: "http://127.0.0.1:5678",
	}
	if err := c.writeEnv(); err != nil {
		t.Fatal(err)
	}
	script := `. "$1"; . "$1"; printf '%s\n' "$KUBECONFIG" "$OVN_NB_DB" "$OVN_SB_DB" "$OVNKUBE_MASTER_METRICS" "$PATH" "$OVNKUBE_PROMETHEUS"`
	out, err := exec.Command("bash", "-c", script, "bash", c.path(envFile)).CombinedOutput()
	if err != nil {
		t.Fatalf("source env: %v: %s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{c.Kubeconfig, c.NBAddress, c.SBAddress, c.MetricsURL}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d = %q, want %q", i, got[i], w)
		}
	}
	if path := got[4]; !strings.HasPrefix(path, c.BinDir+":") || strings.Count(path, c.BinDir) != 1 {
		t.Errorf("PATH = %q, want %s prepended once", path, c.BinDir)
	}
	if got[5] != c.PrometheusURL {
		t.Errorf("OVNKUBE_PROMETHEUS = %q, want %q", got[5], c.PrometheusURL)
	}
}

func TestChooseSocketDir(t *testing.T) {
	if d, err := chooseSocketDir("/work/main/_output/sandbox"); err != nil || d != "/work/main/_output/sandbox" {
		t.Errorf("short dir: %q, %v", d, err)
	}
	long := "/" + strings.Repeat("d", 90)
	d, err := chooseSocketDir(long)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(d)
	if d == long || !isOurShortDir(d) || len(d)+socketBudget >= 100 {
		t.Errorf("long dir: got socket dir %q", d)
	}
	for _, p := range []string{"/tmp", "/tmp/other", "/var/tmp/ovnk-sandbox-1", "/tmp/a/ovnk-sandbox-1"} {
		if isOurShortDir(p) {
			t.Errorf("isOurShortDir(%q) = true", p)
		}
	}
}
