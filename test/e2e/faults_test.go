package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/ovnkube/ovnkube/pkg/kube"
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

// TestNodeReRegisters: `kubectl delete node node-2` while its pods run,
// then the node registers again (a new Node object, as its kubelet would
// create): the master gives it its subnet back, `ovnkube node` annotates
// it again without a restart, the running pod keeps its address, and pods
// across nodes talk again.
func TestNodeReRegisters(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "rereg-e2e")
	ips, _ := s.createPods(t, podSpec(w.ns, "a", "node-2", w.work, "sleep", "3600"), podSpec(w.ns, "b", "node-1", w.work, "sleep", "3600"))
	s.waitPing(t, w.ns+"/b", ips["a"], 20*time.Second)
	nodes := s.cs.CoreV1().Nodes()
	orig, err := nodes.Get(context.Background(), "node-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	agentPid := func() string {
		out, _ := s.cmd(context.Background(), "pgrep", "-f", "ovnkube node --node-name node-2").CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	pid := agentPid()
	if err := nodes.Delete(context.Background(), "node-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		out, _ := s.cmd(context.Background(), "ovn-nbctl", "--bare", "--columns=name", "list", "Logical_Switch").CombinedOutput()
		return !strings.Contains(string(out), "node-2")
	}, func() string { return "node-2's switch is still in the NB" })
	// As a kubelet registers: the object, then its status (addresses,
	// conditions).
	again := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-2", Labels: orig.Labels}, Spec: corev1.NodeSpec{Taints: orig.Spec.Taints}}
	if _, err := nodes.Create(context.Background(), again, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The master and the agent annotate it meanwhile: retry on conflict.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(context.Background(), "node-2", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status = orig.Status
		_, err = nodes.UpdateStatus(context.Background(), cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		n, err := nodes.Get(context.Background(), "node-2", metav1.GetOptions{})
		return err == nil && n.Annotations[kube.NodeSubnetsAnnotation] == orig.Annotations[kube.NodeSubnetsAnnotation] &&
			n.Annotations[kube.NodeChassisIDAnnotation] == orig.Annotations[kube.NodeChassisIDAnnotation] &&
			n.Annotations[kube.L3GatewayConfigAnnotation] != ""
	}, func() string {
		n, _ := nodes.Get(context.Background(), "node-2", metav1.GetOptions{})
		return fmt.Sprintf("node-2 registered again has annotations %v, want its subnet and chassis id back", n.Annotations)
	})
	if got := agentPid(); got != pid {
		t.Errorf("ovnkube node of node-2 restarted (pid %s -> %s)", pid, got)
	}
	p, err := s.cs.CoreV1().Pods(w.ns).Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil || p.Status.PodIP != ips["a"] {
		t.Errorf("the running pod's address: %v (%v), want %s kept", p.Status.PodIP, err, ips["a"])
	}
	s.waitPing(t, w.ns+"/b", ips["a"], 30*time.Second)
	s.waitPing(t, w.ns+"/a", ips["b"], 30*time.Second)
}
