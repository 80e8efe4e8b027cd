package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// mcastTool is a pod command: "recv GROUP PORT FILE" joins the group and
// keeps FILE holding the number of datagrams received; "send GROUP PORT"
// sends a datagram every 20 ms with a TTL that crosses
// ovn_cluster_router.
const mcastTool = `import socket, struct, sys, os, time
mode, group, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "send":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)
    while True:
        s.sendto(b"hello", (group, port))
        time.sleep(0.02)
out = sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((group, port))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("0.0.0.0")))
n = 0
while True:
    s.recv(2048)
    n += 1
    with open(out + ".tmp", "w") as f:
        f.write(str(n))
    os.replace(out + ".tmp", out)
`

// TestMulticast: with k8s.ovn.org/multicast-enabled on its namespace, a
// sender's datagrams reach receivers of the group on its own node
// (snooping) and on the other node (relayed by ovn_cluster_router); a
// receiver of the same group in a namespace without the annotation gets
// none; a deny-all policy in the enabled namespace does not stop them.
func TestMulticast(t *testing.T) {
	s := dataplane(t)
	on := newServiceWorld(t, s, "mc-on")
	off := newServiceWorld(t, s, "mc-off")
	if _, err := s.cs.CoreV1().Namespaces().Patch(context.Background(), on.ns, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"k8s.ovn.org/multicast-enabled":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(on.work, "mcast.py")
	if err := os.WriteFile(tool, []byte(mcastTool), 0o644); err != nil {
		t.Fatal(err)
	}
	const group, port = "239.255.12.34", "5000"
	recv := func(w *serviceWorld, name, node string) string {
		file := filepath.Join(on.work, w.ns+"-"+name+".count")
		s.createPods(t, podSpec(w.ns, name, node, on.work, "python3", tool, "recv", group, port, file))
		return file
	}
	count := func(file string) int {
		b, err := os.ReadFile(file)
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	local, remote := recv(on, "recv-local", "node-1"), recv(on, "recv-remote", "node-2")
	outsider := recv(off, "recv-off", "node-2")
	s.createPods(t, podSpec(on.ns, "sender", "node-1", on.work, "python3", tool, "send", group, port))

	// expect waits until both receivers of the enabled namespace have
	// counted 20 more datagrams, then checks the outsider got none.
	expect := func(what string) {
		t.Helper()
		l0, r0 := count(local), count(remote)
		waitFor(t, 45*time.Second, func() bool {
			return count(local) >= l0+20 && count(remote) >= r0+20
		}, func() string {
			return fmt.Sprintf("%s: receivers got %d (same node) and %d (other node) more datagrams, want 20 each",
				what, count(local)-l0, count(remote)-r0)
		})
		if n := count(outsider); n != 0 {
			t.Errorf("%s: the receiver in a namespace without multicast got %d datagrams", what, n)
		}
	}
	expect("multicast enabled")
	remoteIP := podIP(t, s, on.ns, "recv-remote")
	if out, err := s.exec(t, 10*time.Second, on.ns+"/sender", "ping", "-c1", "-W2", remoteIP); err != nil {
		t.Fatalf("before the policy the sender cannot ping the remote receiver: %v\n%s", err, out)
	}

	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-all"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{
			networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}},
	}
	if _, err := s.cs.NetworkingV1().NetworkPolicies(on.ns).Create(context.Background(), deny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The policy is in force on the wire once unicast between the pods stops.
	waitFor(t, 30*time.Second, func() bool {
		_, err := s.exec(t, 5*time.Second, on.ns+"/sender", "ping", "-c1", "-W1", remoteIP)
		return err != nil
	}, func() string { return "deny-all: the sender still pings the remote receiver" })
	expect("under a deny-all policy")

	// Deleting the namespace (its pods, its policy, its multicast) leaves
	// no port group, ACL or address set of it behind.
	if err := s.cs.CoreV1().Namespaces().Delete(context.Background(), on.ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var left string
	waitFor(t, 60*time.Second, func() bool {
		left = ""
		for _, q := range [][]string{
			{"--bare", "--columns=name", "list", "Port_Group"},
			{"--bare", "--columns=name,match", "list", "ACL"},
			{"--bare", "--columns=external_ids", "list", "Address_Set"},
		} {
			out, _ := s.cmd(context.Background(), "ovn-nbctl", q...).CombinedOutput()
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "mc_on") || strings.Contains(line, `\"mc-on\"`) {
					left += line + "\n"
				}
			}
		}
		return left == ""
	}, func() string { return "rows of the deleted namespace left:\n" + left })
}

// podIP reads a pod's status.podIP.
func podIP(t *testing.T, s *runningSandbox, ns, name string) string {
	t.Helper()
	p, err := s.cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || p.Status.PodIP == "" {
		t.Fatalf("pod %s/%s has no IP: %v", ns, name, err)
	}
	return p.Status.PodIP
}
