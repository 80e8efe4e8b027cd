package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
	"github.com/ovnkube/ovnkube/test/harness"
)

// TestOvnkubeDBEntrypoint runs the ovnkube-db image's entrypoint
// (images/ovnkube-db.sh) as dist/'s StatefulSet does, with hosts
// 127.0.0.1-3 (loopback) standing for three control-plane nodes: NB as
// three members, SB as one. The member on the first listed host creates
// each cluster and the others join it; every member becomes ready (the
// readiness probe); a client given every member writes through ssl:.
func TestOvnkubeDBEntrypoint(t *testing.T) {
	root, err := sandbox.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := sandbox.BuiltBin("", "ovnkube")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "images", "ovnkube-db.sh")
	dir := harness.ShortTempDir(t)
	pki := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pki, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, pki)
	ca.issue(t, "nb", "ovnnb")
	ca.issue(t, "sb", "ovnsb")
	nb := "ssl:127.0.0.1:6641,ssl:127.0.0.2:6641,ssl:127.0.0.3:6641"
	config := filepath.Join(dir, "ovnkube.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`nb-address: %s
sb-address: ssl:127.0.0.1:6642
nb-client-cert: %[2]s/nb.crt
nb-client-key: %[2]s/nb.key
nb-client-cacert: %[2]s/ca.crt
sb-client-cert: %[2]s/sb.crt
sb-client-key: %[2]s/sb.key
sb-client-cacert: %[2]s/ca.crt
`, nb, pki)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(host int) []string {
		return append(os.Environ(), "CONFIG="+config, "PKI="+pki, "OVNKUBE="+bin, fmt.Sprintf("HOST_IP=127.0.0.%d", host),
			fmt.Sprintf("RUN=%s/run%d", dir, host), fmt.Sprintf("DATA=%s/data%d", dir, host))
	}
	type member struct {
		db   string
		host int
	}
	members := []member{{"nb", 1}, {"nb", 2}, {"nb", 3}, {"sb", 1}}
	for _, m := range members {
		for _, d := range []string{"run", "data"} {
			if err := os.MkdirAll(fmt.Sprintf("%s/%s%d", dir, d, m.host), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		log, err := os.Create(fmt.Sprintf("%s/%s%d.log", dir, m.db, m.host))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", script, m.db)
		cmd.Env, cmd.Stdout, cmd.Stderr = env(m.host), log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() })
	}
	for _, m := range members {
		eventually(t, 30*time.Second, func() string {
			cmd := exec.Command("sh", script, "ready", m.db)
			cmd.Env = env(m.host)
			if out, err := cmd.CombinedOutput(); err != nil {
				log, _ := os.ReadFile(fmt.Sprintf("%s/%s%d.log", dir, m.db, m.host))
				return fmt.Sprintf("%s member on 127.0.0.%d not ready: %v %s\nlog:\n%s", m.db, m.host, err, out, log)
			}
			return ""
		})
	}
	status, err := exec.Command("ovs-appctl", "-t", dir+"/run2/ovnnb_db.ctl", "cluster/status", "OVN_Northbound").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ssl:127.0.0.1:6643", "ssl:127.0.0.2:6643", "ssl:127.0.0.3:6643"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("NB cluster/status lacks member %s:\n%s", want, status)
		}
	}
	ctl := func(tool, db string, args ...string) string {
		t.Helper()
		out, err := exec.Command(tool, append([]string{"--db=" + db, "-p", pki + "/nb.key", "-c", pki + "/nb.crt", "-C", pki + "/ca.crt"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	ctl("ovn-nbctl", nb, "--no-wait", "ls-add", "sw0")
	if got := ctl("ovn-nbctl", nb, "ls-list"); !strings.Contains(got, "sw0") {
		t.Errorf("ls-list through the cluster = %q, want sw0", got)
	}
	ctl("ovn-sbctl", "ssl:127.0.0.1:6642", "--no-leader-only", "show")
}
