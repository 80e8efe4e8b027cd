package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// reach reports whether pod can open a TCP connection to url (an HTTP
// answer within 2 s).
func (w *serviceWorld) reach(pod, url string) bool {
	_, err := w.get(pod, "", url)
	return err == nil
}

// expectReach waits until each pod's reachability of url is as wanted.
func (w *serviceWorld) expectReach(t *testing.T, url string, want map[string]bool, what string) {
	t.Helper()
	waitFor(t, 30*time.Second, func() bool {
		for pod, ok := range want {
			if w.reach(pod, url) != ok {
				return false
			}
		}
		return true
	}, func() string {
		got := map[string]bool{}
		for pod := range want {
			got[pod] = w.reach(pod, url)
		}
		return fmt.Sprintf("%s: reachability %v, want %v", what, got, want)
	})
}

// TestNetworkPolicy: on real connections across nodes, a policy allowing
// one label lets those pods in and keeps the others out; editing it in
// place swaps them; relabelling a pod moves it; deleting the policy opens
// the server again and leaves no port group, ACL or address set.
func TestNetworkPolicy(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "np-e2e")
	server := podSpec(w.ns, "server", "node-2", w.work, "python3", w.work+"/who.py")
	server.Labels = map[string]string{"app": "server"}
	good := podSpec(w.ns, "good", "node-1", w.work, "sleep", "3600")
	good.Labels = map[string]string{"app": "client"}
	bad := podSpec(w.ns, "bad", "node-1", w.work, "sleep", "3600")
	bad.Labels = map[string]string{"app": "other"}
	ips, _ := s.createPods(t, server, good, bad)
	url := "http://" + ips["server"] + ":8080/"
	w.expectReach(t, url, map[string]bool{"good": true, "bad": true}, "without a policy")

	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(8080)
	policy := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-client"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
			}},
		},
	}
	nps := s.cs.NetworkingV1().NetworkPolicies(w.ns)
	if _, err := nps.Create(context.Background(), policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": true, "bad": false}, "allow app=client")
	// The server's own node (kubelet's health checks) still reaches it,
	// through its management port.
	if out, err := w.get("", "node-2", url); err != nil {
		t.Errorf("node-2's host -> its pod under the policy: %v: %s", err, out)
	}

	t.Run("acl-logging", func(t *testing.T) { w.testACLLogging(t, url) })

	// Edited in place: now app=other is allowed, app=client is not.
	patch := `{"spec":{"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"other"}}}],"ports":[{"protocol":"TCP","port":8080}]}]}}`
	if _, err := nps.Patch(context.Background(), "allow-client", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": false, "bad": true}, "edited to allow app=other")

	// A pod relabelled into the allowed set gets in.
	if _, err := s.cs.CoreV1().Pods(w.ns).Patch(context.Background(), "good", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": true, "bad": true}, "good relabelled app=other")

	// The wrong port stays closed to everyone the policy isolates against.
	if out, err := w.run("bad", "", 10*time.Second, "sh", "-c", "echo x | socat -T1 - UDP:"+ips["server"]+":5353"); err == nil && strings.TrimSpace(out) != "" {
		t.Errorf("UDP 5353, which the policy does not allow, answered %q", out)
	}

	// Deleted: open again, and nothing left in the NB for the namespace.
	if err := nps.Delete(context.Background(), "allow-client", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cs.CoreV1().Pods(w.ns).Patch(context.Background(), "good", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"client"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": true, "bad": true}, "policy deleted")
	waitFor(t, 20*time.Second, func() bool {
		out, _ := s.cmd(context.Background(), "ovn-nbctl", "--bare", "--columns=name", "list", "Port_Group").CombinedOutput()
		return !strings.Contains(string(out), "np_e2e")
	}, func() string { return "port groups of np-e2e left after the policy was deleted" })
}

// prober counts TCP connections that succeed to addr, one attempt every
// 10 ms (a dropped SYN times out after 10 ms; an answered attempt waits
// 10 ms before the next), until the file stop exists; it prints
// "ok=<n> tries=<m>"; with a file out it also keeps that line there,
// updated every 50 attempts and ending in " done" once stopped.
const prober = `import socket, sys, os, time
addr, stop = sys.argv[1], sys.argv[2]
out = sys.argv[3] if len(sys.argv) > 3 else None
ok = tries = 0
def report(final=False):
    if out:
        with open(out + ".tmp", "w") as f:
            f.write("ok=%d tries=%d%s" % (ok, tries, " done" if final else ""))
        os.replace(out + ".tmp", out)
while not os.path.exists(stop):
    tries += 1
    s = socket.socket()
    s.settimeout(0.01)
    try:
        s.connect((addr, 8080))
        ok += 1
        time.sleep(0.01)
    except socket.timeout:
        pass
    except OSError:
        time.sleep(0.01)
    finally:
        s.close()
    if tries % 50 == 0:
        report()
report(True)
print("ok=%d tries=%d" % (ok, tries), flush=True)
`

// TestNoWindowUnderDenyAll: a pod created in a namespace whose deny-all
// ingress policy selects it never accepts a connection, not even in its
// first milliseconds: a prober on another node tries every 10 ms from the
// moment the pod's IP appears in the API until the pod has run its server
// for a while.
func TestNoWindowUnderDenyAll(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "np-window")
	if err := os.WriteFile(filepath.Join(w.work, "prober.py"), []byte(prober), 0o644); err != nil {
		t.Fatal(err)
	}
	denyAll := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-all"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}
	if _, err := s.cs.NetworkingV1().NetworkPolicies(w.ns).Create(context.Background(), denyAll, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The prober lives in its own namespace, which no policy isolates.
	probeNS := newServiceWorld(t, s, "np-window-probe")
	s.createPods(t, podSpec(probeNS.ns, "probe", "node-1", w.work, "sleep", "3600"))
	// Wait until the policy is in the NB, so the server is created under it.
	waitFor(t, 20*time.Second, func() bool {
		out, _ := s.cmd(context.Background(), "ovn-nbctl", "--bare", "--columns=name", "list", "Port_Group").CombinedOutput()
		return strings.Contains(string(out), "np_window_ingressDefaultDeny")
	}, func() string { return "deny-all not programmed" })

	server := podSpec(w.ns, "server", "node-2", w.work, "python3", filepath.Join(w.work, "who.py"))
	if _, err := s.cs.CoreV1().Pods(w.ns).Create(context.Background(), server, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cs.CoreV1().Pods(w.ns).Delete(context.Background(), "server", metav1.DeleteOptions{}) })
	var ip string
	waitFor(t, 30*time.Second, func() bool {
		p, err := s.cs.CoreV1().Pods(w.ns).Get(context.Background(), "server", metav1.GetOptions{})
		if err == nil {
			if addrs, ok, _ := kube.ParsePodNetworks(p.Annotations); ok && len(addrs.IPs) > 0 {
				ip = addrs.IPs[0].Addr().String()
			}
		}
		return ip != ""
	}, func() string { return "the server has no address" })
	stop := filepath.Join(w.work, "stop")
	c := s.cmd(context.Background(), s.bin, "exec", "--dir", s.dir, probeNS.ns+"/probe", "--", "python3", filepath.Join(w.work, "prober.py"), ip, stop)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Until the server has been Running for 3 s.
	var running time.Time
	waitFor(t, 60*time.Second, func() bool {
		p, err := s.cs.CoreV1().Pods(w.ns).Get(context.Background(), "server", metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning && running.IsZero() {
			running = time.Now()
		}
		return !running.IsZero() && time.Since(running) > 3*time.Second
	}, func() string { return "the server is not Running" })
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("prober: %v\n%s", err, out.String())
	}
	var ok, tries int
	if _, err := fmt.Sscanf(strings.TrimSpace(out.String()), "ok=%d tries=%d", &ok, &tries); err != nil {
		t.Fatalf("prober output %q: %v", out.String(), err)
	}
	t.Logf("%d connection attempts to %s, %d accepted", tries, ip, ok)
	if tries < 50 || ok != 0 {
		t.Errorf("under deny-all the new pod accepted %d of %d connections (want 0 of at least 50)", ok, tries)
	}
	// The same server answers once a policy allows it: the probe could
	// have seen it.
	allow := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-all"},
		Spec:       networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}},
	}
	if _, err := s.cs.NetworkingV1().NetworkPolicies(w.ns).Create(context.Background(), allow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	probeNS.expectReach(t, "http://"+ip+":8080/", map[string]bool{"probe": true}, "allow-all added")
}

// TestNoWindowUnderDenyAllEgress: a pod created in a namespace whose
// deny-all egress policy selects it never reaches a server, not even in
// its first milliseconds: the pod's own command tries every 10 ms from the
// moment it starts until it has run for a while.
func TestNoWindowUnderDenyAllEgress(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "np-window-egress")
	if err := os.WriteFile(filepath.Join(w.work, "prober.py"), []byte(prober), 0o644); err != nil {
		t.Fatal(err)
	}
	// The server lives in its own namespace, which no policy isolates.
	serverNS := newServiceWorld(t, s, "np-window-egress-server")
	ips, _ := s.createPods(t, podSpec(serverNS.ns, "server", "node-2", w.work, "python3", filepath.Join(w.work, "who.py")))
	url := "http://" + ips["server"] + ":8080/"
	denyAll := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-all-egress"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	if _, err := s.cs.NetworkingV1().NetworkPolicies(w.ns).Create(context.Background(), denyAll, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool {
		out, _ := s.cmd(context.Background(), "ovn-nbctl", "--bare", "--columns=name", "list", "Port_Group").CombinedOutput()
		return strings.Contains(string(out), "np_window_egress_egressDefaultDeny")
	}, func() string { return "deny-all-egress not programmed" })

	stop, result := filepath.Join(w.work, "stop"), filepath.Join(w.work, "result")
	// The pod keeps running after the prober, for the last check.
	client := podSpec(w.ns, "client", "node-1", w.work, "sh", "-c",
		fmt.Sprintf("python3 %s %s %s %s; exec sleep 3600", filepath.Join(w.work, "prober.py"), ips["server"], stop, result))
	s.createPods(t, client)
	var ok, tries int
	var done bool
	read := func() bool {
		b, err := os.ReadFile(result)
		if err != nil {
			return false
		}
		_, err = fmt.Sscanf(string(b), "ok=%d tries=%d", &ok, &tries)
		done = strings.HasSuffix(string(b), " done")
		return err == nil
	}
	// Until the prober has tried 300 times (3 s and more).
	waitFor(t, 60*time.Second, func() bool { return read() && tries >= 300 }, func() string {
		return fmt.Sprintf("the prober has tried %d times", tries)
	})
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool { return read() && done }, func() string { return "the prober wrote no final result" })
	t.Logf("%d connection attempts from the new pod, %d reached the server", tries, ok)
	if tries < 50 || ok != 0 {
		t.Errorf("under deny-all egress the new pod reached the server %d of %d times (want 0 of at least 50)", ok, tries)
	}
	// An egress allow opens the way: the probe could have seen it.
	allow := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-egress"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
	}
	if _, err := s.cs.NetworkingV1().NetworkPolicies(w.ns).Create(context.Background(), allow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"client": true}, "allow-egress added")
}

// testACLLogging: with k8s.ovn.org/acl-logging on the namespace, a denied
// connection appears in the server node's ovn-controller log with the
// default-deny ACL's name and the deny severity, an allowed one with the
// rule's name and the allow severity; changing the annotation changes the
// severity; removing it stops the lines.
func (w *serviceWorld) testACLLogging(t *testing.T, url string) {
	s := w.s
	logPath := filepath.Join(s.state.Nodes[1].Dir, "ovn-controller.log") // node-2 runs the server
	annotate := func(v string) {
		t.Helper()
		val := "null"
		if v != "" {
			val = fmt.Sprintf("%q", v)
		}
		patch := `{"metadata":{"annotations":{"k8s.ovn.org/acl-logging":` + val + `}}}`
		if _, err := s.cs.CoreV1().Namespaces().Patch(context.Background(), w.ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	logSize := func() int64 {
		fi, err := os.Stat(logPath)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	since := func(off int64) string {
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		return string(b[off:])
	}
	// expect drives connections from both pods until the log written since
	// off has every wanted line.
	expect := func(off int64, want ...string) {
		t.Helper()
		waitFor(t, 30*time.Second, func() bool {
			w.reach("good", url)
			w.reach("bad", url)
			got := since(off)
			for _, line := range want {
				if !strings.Contains(got, line) {
					return false
				}
			}
			return true
		}, func() string { return fmt.Sprintf("log since the change lacks %q:\n%s", want, tail(since(off), 10)) })
	}
	off := logSize()
	annotate(`{"deny": "alert", "allow": "notice"}`)
	expect(off, `name="np_e2e_ingressDefaultDeny", verdict=drop, severity=alert`, `name="np_e2e_allow_client_ingress_0", verdict=allow, severity=notice`)
	off = logSize()
	annotate(`{"deny": "warning", "allow": "notice"}`)
	expect(off, `name="np_e2e_ingressDefaultDeny", verdict=drop, severity=warning`)
	annotate("")
	// Once the annotation is gone from the NB, no new lines.
	waitFor(t, 20*time.Second, func() bool {
		out, _ := s.cmd(context.Background(), "ovn-nbctl", "--bare", "--columns=name", "find", "ACL", "log=true").CombinedOutput()
		return strings.TrimSpace(string(out)) == ""
	}, func() string { return "ACLs still log" })
	// ovn-controller applies the change through northd and the SB: wait
	// for a round of connections that logs nothing, then five more.
	quiet := func() bool {
		o := logSize()
		w.reach("good", url)
		w.reach("bad", url)
		return !strings.Contains(since(o), "acl_log")
	}
	waitFor(t, 20*time.Second, quiet, func() string { return "connections still logged after the annotation was removed" })
	for range 5 {
		if !quiet() {
			t.Errorf("logging removed, yet a connection was logged")
			break
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
