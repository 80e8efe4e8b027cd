// Package e2e drives the sandbox exactly as a user does: the Makefile's
// commands, kubectl and ovn-nbctl.
package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
	"github.com/ovnkube/ovnkube/test/harness"
)

// TestSandboxRunApplyStop: `make run DETACH=1`, `kubectl apply` of a Node,
// `ovn-nbctl show` lists its switch, `make stop` leaves no process and no
// directory behind.
func TestSandboxRunApplyStop(t *testing.T) {
	root, err := sandbox.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(harness.ShortTempDir(t), "sandbox")
	makeCmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-C", root, "--no-print-directory", "SANDBOX_DIR=" + dir}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	start := time.Now()
	makeCmd("run", "DETACH=1")
	t.Logf("make run DETACH=1 returned in %s", time.Since(start).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			exec.Command("make", "-C", root, "SANDBOX_DIR="+dir, "stop").Run()
		}
	})

	env := readEnv(t, filepath.Join(dir, "env"))
	for _, k := range []string{"KUBECONFIG", "OVN_NB_DB", "OVN_SB_DB", "OVNKUBE_MASTER_METRICS", "PATH"} {
		if env[k] == "" {
			t.Errorf("%s/env does not export %s", dir, k)
		}
	}
	run := func(stdin string, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("apiVersion: v1\nkind: Node\nmetadata:\n  name: sandbox-worker\n", "kubectl", "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := run("", "ovn-nbctl", "show")
		if err == nil && strings.Contains(out, "(sandbox-worker)") && strings.Contains(out, "port rtos-sandbox-worker") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ovn-nbctl show never listed the node's switch:\n%s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := run("", "curl", "-sf", env["OVNKUBE_MASTER_METRICS"]); err != nil || !strings.Contains(out, "ovnkube_nb_transactions_total") {
		t.Errorf("master metrics through the env file: %v", err)
	}

	pids := recordedPids(t, filepath.Join(dir, "pids"))
	var state struct {
		ID    string            `json:"id"`
		Nodes []json.RawMessage `json:"nodes"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "sandbox.json")); err != nil || json.Unmarshal(data, &state) != nil || state.ID == "" {
		t.Fatalf("sandbox.json: no id (%v)", err)
	}
	if len(state.Nodes) != 2 {
		t.Errorf("sandbox has %d nodes, want the default 2", len(state.Nodes))
	}
	if names, _ := sandbox.ListNetNS("ovnk-" + state.ID + "-"); len(names) != 4 {
		t.Errorf("network namespaces of the sandbox: %v, want fabric, external host and 2 nodes", names)
	}
	if len(pids) < 6 {
		t.Errorf("only %d processes recorded: %v", len(pids), pids)
	}
	makeCmd("stop")
	stopped = true
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after make stop (%v)", dir, err)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			t.Errorf("process %d still running after make stop: %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	if names, _ := sandbox.ListNetNS("ovnk-" + state.ID + "-"); len(names) != 0 {
		t.Errorf("network namespaces left after make stop: %v", names)
	}
	// Nothing else refers to the sandbox directory either.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), dir) && !strings.Contains(string(b), "SANDBOX_DIR=") {
			t.Errorf("%s still runs: %s", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -a; source "+path+"; env")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("source %s: %v", path, err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			switch k {
			case "KUBECONFIG", "OVN_NB_DB", "OVN_SB_DB", "OVNKUBE_MASTER_METRICS", "PATH":
				env[k] = v
			}
		}
	}
	return env
}

// recordedPids reads the pid of every process the sandbox recorded.
func recordedPids(t *testing.T, path string) []int {
	t.Helper()
	records, err := (&sandbox.PidFile{Path: path}).Records()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, r := range records {
		pids = append(pids, r.Pid)
	}
	return pids
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}
