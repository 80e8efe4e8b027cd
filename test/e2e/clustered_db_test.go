package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// TestClusteredDBsRideOutLeaderLoss: with NB and SB each a 3-member RAFT
// cluster, SIGKILL the NB leader under the running master, then the SB
// leader under the nodes. A pod created right after the NB kill gets its
// logical switch port (the master's write) within 5 s; after either kill
// the pod ends Running with its port bound to its node's chassis in the SB
// and up in the NB, and the pods reach each other.
//
// End to end the pod waits on ovn-northd, whose leader-only connections
// retry after 1, 2, 4 then 8 s (OVS's fixed reconnect backoff): that, not
// ovnkube, bounds how soon a port is bound after a leader loss.
func TestClusteredDBsRideOutLeaderLoss(t *testing.T) {
	s, err := startSandbox("--db-cluster-size", "3")
	if s != nil {
		t.Cleanup(s.down)
	}
	if err != nil {
		t.Fatal(err)
	}
	ovnDir := filepath.Dir(strings.TrimPrefix(strings.Split(s.state.NBAddress, ",")[0], "unix:"))
	if n := strings.Count(s.state.NBAddress, ",") + 1; n != 3 {
		t.Fatalf("NB address %s names %d members, want 3", s.state.NBAddress, n)
	}
	ctl := func(tool string, args ...string) string {
		out, err := s.cmd(context.Background(), tool, append([]string{"--timeout=5"}, args...)...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	ips := map[string]string{}
	for i, db := range []string{"nb", "sb"} {
		leader, err := sandbox.ClusterLeader(ovnDir, db, 3)
		if err != nil {
			t.Fatal(err)
		}
		pid := readPid(t, filepath.Join(ovnDir, leader+".pid"))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }, func() string { return leader + " still runs" })
		node := s.state.Nodes[i].Name
		name := "after-" + db + "-leader-loss"
		pod := podSpec("default", name, node, "/", "sleep", "3600")
		if _, err := s.cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		created := time.Now()
		t.Cleanup(func() { _ = s.cs.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{}) })
		port := "default_" + name
		if db == "nb" {
			waitFor(t, 5*time.Second, func() bool {
				return ctl("ovn-nbctl", "--bare", "--columns=name", "find", "Logical_Switch_Port", "name="+port) == port
			},
				func() string { return "no port " + port + " 5 s after its creation, the NB leader killed just before" })
			t.Logf("SIGKILL of NB leader %s: the pod created right after has its port in %s", leader, time.Since(created).Round(time.Millisecond))
		}
		got, _ := s.waitRunning(t, 30*time.Second, pod)
		ips[name] = got[name]
		t.Logf("SIGKILL of %s leader %s: the pod created right after is Running in %s", strings.ToUpper(db), leader, time.Since(created).Round(time.Millisecond))
		if up := ctl("ovn-nbctl", "get", "Logical_Switch_Port", port, "up"); up != "true" {
			t.Errorf("port %s up = %q, want true", port, up)
		}
		chassis := ctl("ovn-sbctl", "--bare", "--columns=chassis", "find", "Port_Binding", "logical_port="+port)
		if want := ctl("ovn-sbctl", "--bare", "--columns=_uuid", "find", "Chassis", "name="+s.chassisID(t, node)); chassis == "" || chassis != want {
			t.Errorf("SB binding of %s on chassis %q, want %s's %q", port, chassis, node, want)
		}
		if now, err := sandbox.ClusterLeader(ovnDir, db, 3); err != nil || now == leader {
			t.Errorf("%s leader after the kill: %q (%v), want another member", db, now, err)
		}
	}
	s.waitPing(t, "after-sb-leader-loss", ips["after-nb-leader-loss"], 10*time.Second)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	return pid
}
