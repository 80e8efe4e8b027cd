package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeReadyz is `ovnkube node`'s /readyz on a node: status code and body.
func (s *runningSandbox) nodeReadyz(node string) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := s.cmd(ctx, s.bin, "exec", "--dir", s.dir, "--node", node, "--",
		"curl", "-s", "-m", "2", "-w", "\n%{http_code}", "http://127.0.0.1:9410/readyz").CombinedOutput()
	text := strings.TrimSpace(string(out))
	i := strings.LastIndex(text, "\n")
	if i < 0 {
		return "", text
	}
	return text[i+1:], strings.TrimSpace(text[:i])
}

// TestNodeOVSDBOutage: when the node's Open_vSwitch database stops serving
// its clients, `ovnkube node` turns unready within 10 s (saying why) and
// does not exit; once the database serves again it is ready again, and
// pods on the node still reach pods on the other node.
func TestNodeOVSDBOutage(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "ovsdb-outage")
	ips, _ := s.createPods(t, podSpec(w.ns, "a", "node-2", w.work, "sleep", "3600"), podSpec(w.ns, "b", "node-1", w.work, "sleep", "3600"))
	node := s.state.Nodes[1] // node-2
	ctl := filepath.Join(node.Dir, "ovsdb-server.ctl")
	remote := "punix:" + filepath.Join(node.Dir, "db.sock")
	appctl := func(args ...string) {
		t.Helper()
		if out, err := s.cmd(context.Background(), "ovs-appctl", append([]string{"-t", ctl}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ovs-appctl %v: %v: %s", args, err, out)
		}
	}
	if code, body := s.nodeReadyz("node-2"); code != "200" {
		t.Fatalf("node-2 /readyz %s %q before the outage", code, body)
	}
	// Closing the socket remote drops every client session, as a database
	// restart does.
	appctl("ovsdb-server/remove-remote", remote)
	restored := false
	t.Cleanup(func() {
		if !restored {
			appctl("ovsdb-server/add-remote", remote)
		}
	})
	waitFor(t, 10*time.Second, func() bool {
		code, body := s.nodeReadyz("node-2")
		return code == "503" && strings.Contains(body, "Open_vSwitch")
	}, func() string {
		code, body := s.nodeReadyz("node-2")
		return fmt.Sprintf("node-2 /readyz %s %q with its database gone", code, body)
	})
	appctl("ovsdb-server/add-remote", remote)
	restored = true
	waitFor(t, 30*time.Second, func() bool {
		code, _ := s.nodeReadyz("node-2")
		return code == "200"
	}, func() string {
		code, body := s.nodeReadyz("node-2")
		return fmt.Sprintf("node-2 /readyz %s %q with its database back", code, body)
	})
	s.waitPing(t, w.ns+"/a", ips["b"], 20*time.Second)
}
