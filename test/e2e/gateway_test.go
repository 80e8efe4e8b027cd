package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// peerServer runs on the external host: on port 9000 it answers every
// connection with the client's address as it sees it and closes; on port
// 9001 it echoes lines, for a connection that must outlive restarts. One
// IPv6 socket serves both families (IPv4 clients appear as ::ffff:a.b.c.d).
const peerServer = `import socket, socketserver as s, threading
class Who(s.StreamRequestHandler):
    def handle(self):
        self.wfile.write((self.client_address[0] + "\n").encode())
class Echo(s.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class S(s.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True
threading.Thread(target=S(("::", 9001), Echo).serve_forever, daemon=True).start()
S(("::", 9000), Who).serve_forever()
`

// persistentClient opens one TCP connection to argv[1]:9001, checks an
// echo, then waits for the file argv[2] and checks a second echo on the
// same connection.
const persistentClient = `import socket, sys, os, time
c = socket.create_connection((sys.argv[1], 9001), timeout=10)
f = c.makefile("rw")
f.write("first\n"); f.flush()
assert f.readline() == "first\n"
print("first ok", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
f.write("second\n"); f.flush()
assert f.readline() == "second\n"
print("second ok", flush=True)
`

// startExternalServer starts peerServer on the sandbox's external host and
// stops it when the test ends.
func (s *runningSandbox) startExternalServer(t *testing.T) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "peer.py")
	if err := os.WriteFile(script, []byte(peerServer), 0o644); err != nil {
		t.Fatal(err)
	}
	c := s.cmd(context.Background(), s.bin, "exec", "--dir", s.dir, "external", "--", "python3", script)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Process.Kill()
		_ = c.Wait()
		if t.Failed() {
			t.Logf("external server output:\n%s", out.String())
		}
	})
}

// whoAmI connects from pod to the external server at addr and returns
// the source address the server saw, retrying while the server starts.
func (s *runningSandbox) whoAmI(t *testing.T, pod string, addr netip.Addr) string {
	t.Helper()
	target := "TCP:" + addr.String() + ":9000"
	if addr.Is6() {
		target = "TCP6:[" + addr.String() + "]:9000"
	}
	out := eventuallyOK(t, pod+" -> external "+target, func() (string, error) {
		out, err := s.exec(t, 10*time.Second, pod, "socat", "-T5", "-", target)
		return strings.TrimSpace(out), err
	})
	return strings.TrimPrefix(out, "::ffff:")
}

// nodeGatewayIPs reads the node's addresses from its
// k8s.ovn.org/l3-gateway-config annotation.
func (s *runningSandbox) nodeGatewayIPs(t *testing.T, node string) []netip.Addr {
	t.Helper()
	n, err := s.cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, ok, err := kube.ParseL3GatewayConfig(n.Annotations)
	if err != nil || !ok {
		t.Fatalf("node %s l3-gateway-config: present %v, %v", node, ok, err)
	}
	var ips []netip.Addr
	for _, p := range g.IPs {
		ips = append(ips, p.Addr())
	}
	return ips
}

// nodeGatewaySnapshot renders what an `ovnkube node` restart must leave
// alone on the host: br-ex's addresses, the routes and permanent
// neighbours it owns, and br-ex's flows.
func (s *runningSandbox) nodeGatewaySnapshot(t *testing.T, node string) string {
	t.Helper()
	var b strings.Builder
	for _, c := range []string{"ip -br addr show dev br-ex", "ip route show", "ip -6 route show proto static",
		"ip -6 route show default", "ip neigh show nud permanent", "ovs-ofctl dump-flows --no-stats br-ex"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := s.cmd(ctx, s.bin, append([]string{"exec", "--dir", s.dir, "--node", node, "--"}, strings.Fields(c)...)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s on %s: %v\n%s", c, node, err, out)
		}
		fmt.Fprintf(&b, "$ %s\n%s", c, out)
	}
	return b.String()
}

// TestNorthSouth: a pod on each node of a dual-stack cluster opens TCP
// connections to a server on the external host over IPv4 and IPv6, and
// the server sees that node's IP (SNAT on the node's gateway router, out
// through br-ex). Then restarting `ovnkube node` twice leaves br-ex, its
// addresses, routes and flows identical, and a pod's open connection to
// the external host survives both restarts.
func TestNorthSouth(t *testing.T) {
	s := dualStack(t)
	s.startExternalServer(t)
	work := t.TempDir()
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "client.py"), []byte(persistentClient), 0o644); err != nil {
		t.Fatal(err)
	}
	s.createPods(t,
		podSpec("default", "ns-a", "node-1", work, "sleep", "3600"),
		podSpec("default", "ns-b", "node-2", work, "sleep", "3600"),
	)
	external := []netip.Addr{netip.MustParseAddr("172.31.0.254"), netip.MustParseAddr("fd31::fe")}
	for pod, node := range map[string]string{"ns-a": "node-1", "ns-b": "node-2"} {
		nodeIPs := s.nodeGatewayIPs(t, node)
		if len(nodeIPs) != 2 {
			t.Fatalf("%s gateway addresses %v, want one per family", node, nodeIPs)
		}
		for _, dst := range external {
			want := nodeIPs[0]
			if dst.Is6() != want.Is6() {
				want = nodeIPs[1]
			}
			if got := s.whoAmI(t, pod, dst); got != want.String() {
				t.Errorf("%s (on %s) -> %s: the server saw %s, want the node's %s", pod, node, dst, got, want)
			} else {
				t.Logf("%s (on %s) -> %s: seen as %s", pod, node, dst, got)
			}
		}
	}

	t.Run("node-restarts", func(t *testing.T) {
		// An open connection from a pod of node-1 through its gateway.
		gate := filepath.Join(work, "go")
		c := s.cmd(context.Background(), s.bin, "exec", "--dir", s.dir, "ns-a", "--", "python3", filepath.Join(work, "client.py"), "fd31::fe", gate)
		var mu sync.Mutex
		var out bytes.Buffer
		c.Stdout, c.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &out}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		t.Cleanup(func() { _ = c.Process.Kill() })
		output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
		waitFor(t, 20*time.Second, func() bool { return strings.Contains(output(), "first ok") }, func() string { return "client: " + output() })

		before := s.nodeGatewaySnapshot(t, "node-1")
		for i := 1; i <= 2; i++ {
			if o, err := s.cmd(context.Background(), s.bin, "restart", "--dir", s.dir, "ovnkube-node-node-1").CombinedOutput(); err != nil {
				t.Fatalf("restart %d of ovnkube node: %v\n%s", i, err, o)
			}
			s.waitHTTP(t, "http://127.0.0.1:9410/readyz", s.state.Nodes[0].NetNS)
			if after := s.nodeGatewaySnapshot(t, "node-1"); after != before {
				t.Errorf("restart %d changed node-1's gateway:\nbefore:\n%s\nafter:\n%s", i, before, after)
			}
		}
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil || !strings.Contains(output(), "second ok") {
				t.Errorf("the connection opened before the restarts: %v\n%s", err, output())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("the connection opened before the restarts did not echo after them:\n%s", output())
		}
		// And new connections from both pods still leave with the node IPs.
		for _, pod := range []string{"ns-a", "ns-b"} {
			for _, dst := range external {
				s.whoAmI(t, pod, dst)
			}
		}
	})
}

// lockedWriter serialises a child's stdout and stderr into one buffer.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// waitFor polls cond every 50 ms until it holds or timeout passes: the one
// condition wait of the e2e tests (eventuallyOK and the rest build on it).
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %s", timeout, describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
