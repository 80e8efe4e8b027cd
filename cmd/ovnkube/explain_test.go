package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainCommandLine covers what is decided before anything is read:
// arguments, the output format, and where the configuration comes from.
func TestExplainCommandLine(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "absent.kubeconfig")
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"unknown kind", []string{"explain", "deployment", "ns/web"}, `unknown kind "deployment"`},
		{"no name", []string{"explain", "pod"}, "pod needs a name"},
		{"too many arguments", []string{"explain", "pod", "a", "b"}, "accepts between 1 and 2 arg(s)"},
		{"bad output", []string{"explain", "pod", "ns/web", "-o", "yaml"}, `--output "yaml": want text or json`},
		{"bad destination", []string{"explain", "trace", "ns/a", "ns/b:80"}, "want NAMESPACE/POD or an IP"},
		{"trace needs two arguments", []string{"explain", "trace", "ns/a"}, "accepts 2 arg(s)"},
		// The master's flags apply, validated as for the master.
		{"invalid master flag", []string{"explain", "pod", "ns/web", "--nb-address", "http://x"}, "nb-address"},
		// Everything valid: the first read names what it could not reach.
		{"unreachable API", []string{"explain", "trace", "ns/a", "ns/b", "--kubeconfig", kubeconfig}, "load --kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newRootCommand()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("ovnkube %s: %v; want an error containing %q", strings.Join(tt.args, " "), err, tt.err)
			}
		})
	}
}

// TestExplainEnvDefaults: OVN_NB_DB, OVN_SB_DB and KUBECONFIG replace the
// built-in defaults; the --config file and flags still win; a KUBECONFIG
// list is left alone.
func TestExplainEnvDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ovnkube.yaml")
	if err := os.WriteFile(file, []byte("sb-address: unix:/file/sb.sock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		kubeconfigEnv      string
		args               []string
		nb, sb, kubeconfig string
	}{
		{"environment", "/env/kubeconfig", nil, "unix:/env/nb.sock", "unix:/env/sb.sock", "/env/kubeconfig"},
		{"file and flags win", "/env/kubeconfig", []string{"--config", file, "--kubeconfig", "/flag/kubeconfig"},
			"unix:/env/nb.sock", "unix:/file/sb.sock", "/flag/kubeconfig"},
		{"KUBECONFIG list", "/a:/b", nil, "unix:/env/nb.sock", "unix:/env/sb.sock", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OVN_NB_DB", "unix:/env/nb.sock")
			t.Setenv("OVN_SB_DB", "unix:/env/sb.sock")
			t.Setenv("KUBECONFIG", tt.kubeconfigEnv)
			f := newExplainFlags()
			cmd := explainCommand(f)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := f.complete(cmd); err != nil {
				t.Fatal(err)
			}
			if f.cfg.NBAddress != tt.nb || f.cfg.SBAddress != tt.sb || f.cfg.Kubeconfig != tt.kubeconfig {
				t.Errorf("nb %q sb %q kubeconfig %q; want %q %q %q", f.cfg.NBAddress, f.cfg.SBAddress, f.cfg.Kubeconfig, tt.nb, tt.sb, tt.kubeconfig)
			}
		})
	}
}
