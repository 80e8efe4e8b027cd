package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// matrixAgent runs in every pod of the reachability matrix. It serves TCP
// and UDP on ports 80 and 81, answering with its own name, and probes: when
// the file WORK/round holds a number it has not seen, it connects to every
// target of WORK/targets.json but itself, all at once, and writes the
// outcomes to WORK/result-NAME.json. Probing through files keeps the
// control traffic off the network the policies govern.
const matrixAgent = `import socket, threading, json, os, sys, time
work, name = sys.argv[1], sys.argv[2]
TIMEOUT = 1.5
def tcp_server(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("", port))
    srv.listen(256)
    while True:
        c, _ = srv.accept()
        try:
            c.sendall(name.encode())
        except OSError:
            pass
        c.close()
def udp_server(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("", port))
    while True:
        _, a = u.recvfrom(100)
        u.sendto(name.encode(), a)
for p in (80, 81):
    threading.Thread(target=tcp_server, args=(p,), daemon=True).start()
    threading.Thread(target=udp_server, args=(p,), daemon=True).start()
def probe(t, out):
    key = "%s %s %s/%d" % (name, t["name"], t["proto"], t["port"])
    deadline = time.time() + TIMEOUT
    ok = False
    try:
        if t["proto"] == "tcp":
            s = socket.create_connection((t["ip"], t["port"]), timeout=TIMEOUT)
            s.settimeout(max(0.1, deadline - time.time()))
            ok = s.recv(100).decode() == t["name"]
            s.close()
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            while not ok and time.time() < deadline:
                s.sendto(b"?", (t["ip"], t["port"]))
                s.settimeout(max(0.05, min(0.3, deadline - time.time())))
                try:
                    ok = s.recv(100).decode() == t["name"]
                except socket.timeout:
                    pass
            s.close()
    except OSError:
        ok = False
    out[key] = ok
open(os.path.join(work, "ready-" + name), "w").close()
last = 0
while True:
    try:
        r = int(open(os.path.join(work, "round")).read())
    except (OSError, ValueError):
        r = 0
    if r > last:
        last = r
        targets = json.load(open(os.path.join(work, "targets.json")))
        out = {}
        threads = [threading.Thread(target=probe, args=(t, out)) for t in targets if t["name"] != name]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        tmp = os.path.join(work, "result-%s.tmp" % name)
        with open(tmp, "w") as f:
            json.dump({"round": r, "results": out}, f)
        os.replace(tmp, os.path.join(work, "result-%s.json" % name))
    time.sleep(0.02)
`

// matrixPod is a pod of the matrix as the reference model sees it.
type matrixPod struct {
	ns, name string
	labels   map[string]string
	ip       netip.Addr
	ports    []corev1.ContainerPort
}

func (p matrixPod) id() string { return p.ns + "/" + p.name }

// probe is one cell of the matrix: from, to ("ns/pod"), proto, port.
type probe struct {
	from, to string
	proto    corev1.Protocol
	port     int32
}

func (p probe) String() string {
	return fmt.Sprintf("%s -> %s %s/%d", p.from, p.to, strings.ToLower(string(p.proto)), p.port)
}

// matrixModel is the reference model of Kubernetes NetworkPolicy
// semantics the observed matrix must equal: written from the API's
// documentation, independent of the translation under test.
type matrixModel struct {
	pods     []matrixPod
	nsLabels map[string]map[string]string
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		panic(fmt.Sprintf("test policy has a bad selector: %v", err))
	}
	return s.Matches(labels.Set(l))
}

// directions are the policy types a policy has, defaulted as the API does.
func directions(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	return slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress), slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
}

// peerMatches: does a rule's peer (of a policy in ns) include pod?
func (m matrixModel) peerMatches(peer networkingv1.NetworkPolicyPeer, ns string, pod matrixPod) bool {
	if b := peer.IPBlock; b != nil {
		if !netip.MustParsePrefix(b.CIDR).Contains(pod.ip) {
			return false
		}
		for _, e := range b.Except {
			if netip.MustParsePrefix(e).Contains(pod.ip) {
				return false
			}
		}
		return true
	}
	if peer.NamespaceSelector != nil {
		if !selects(peer.NamespaceSelector, m.nsLabels[pod.ns]) {
			return false
		}
	} else if pod.ns != ns {
		return false
	}
	return peer.PodSelector == nil || selects(peer.PodSelector, pod.labels)
}

// portMatches: does a rule's port list admit proto/port on dst (whose
// container ports resolve a named port)?
func portMatches(ports []networkingv1.NetworkPolicyPort, dst matrixPod, proto corev1.Protocol, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String:
			for _, cp := range dst.ports {
				if cp.Name == p.Port.StrVal && cp.Protocol == proto && cp.ContainerPort == port {
					return true
				}
			}
		case p.EndPort != nil:
			if port >= p.Port.IntVal && port <= *p.EndPort {
				return true
			}
		case p.Port.IntVal == port:
			return true
		}
	}
	return false
}

// allowed: is the connection allowed by both the source's egress and the
// destination's ingress isolation?
func (m matrixModel) allowed(policies []*networkingv1.NetworkPolicy, src, dst matrixPod, proto corev1.Protocol, port int32) bool {
	egressIsolated, egressOK := false, false
	ingressIsolated, ingressOK := false, false
	for _, p := range policies {
		in, eg := directions(p)
		if eg && p.Namespace == src.ns && selects(&p.Spec.PodSelector, src.labels) {
			egressIsolated = true
			for _, r := range p.Spec.Egress {
				peerOK := len(r.To) == 0
				for _, peer := range r.To {
					peerOK = peerOK || m.peerMatches(peer, p.Namespace, dst)
				}
				egressOK = egressOK || peerOK && portMatches(r.Ports, dst, proto, port)
			}
		}
		if in && p.Namespace == dst.ns && selects(&p.Spec.PodSelector, dst.labels) {
			ingressIsolated = true
			for _, r := range p.Spec.Ingress {
				peerOK := len(r.From) == 0
				for _, peer := range r.From {
					peerOK = peerOK || m.peerMatches(peer, p.Namespace, src)
				}
				ingressOK = ingressOK || peerOK && portMatches(r.Ports, dst, proto, port)
			}
		}
	}
	return (!egressIsolated || egressOK) && (!ingressIsolated || ingressOK)
}

// expect is the whole matrix under policies.
func (m matrixModel) expect(policies []*networkingv1.NetworkPolicy) map[probe]bool {
	out := map[probe]bool{}
	for _, src := range m.pods {
		for _, dst := range m.pods {
			if src.id() == dst.id() {
				continue // a pod's traffic to itself is not the policies' business
			}
			for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
				for _, port := range []int32{80, 81} {
					out[probe{src.id(), dst.id(), proto, port}] = m.allowed(policies, src, dst, proto, port)
				}
			}
		}
	}
	return out
}

// matrix is the running reachability matrix: the pods and their agents.
type matrix struct {
	s     *runningSandbox
	work  string
	model matrixModel
	round int
}

// matrixPorts are a pod's named ports; "web" is TCP 80 on pods a and c
// and TCP 81 on pod b, so one name means different numbers on different
// pods (a port has one name: the other TCP port is serve-<n>-tcp).
func matrixPorts(pod string) []corev1.ContainerPort {
	web, other := int32(80), int32(81)
	if pod == "b" {
		web, other = 81, 80
	}
	return []corev1.ContainerPort{
		{Name: "web", ContainerPort: web, Protocol: corev1.ProtocolTCP},
		{Name: fmt.Sprintf("serve-%d-tcp", other), ContainerPort: other, Protocol: corev1.ProtocolTCP},
		{Name: "serve-80-udp", ContainerPort: 80, Protocol: corev1.ProtocolUDP},
		{Name: "serve-81-udp", ContainerPort: 81, Protocol: corev1.ProtocolUDP},
	}
}

func newMatrix(t *testing.T, s *runningSandbox) *matrix {
	t.Helper()
	ctx := context.Background()
	work := t.TempDir()
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := filepath.Join(work, "agent.py")
	if err := os.WriteFile(agent, []byte(matrixAgent), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &matrix{s: s, work: work, model: matrixModel{nsLabels: map[string]map[string]string{}}}
	var pods []*corev1.Pod
	ips := map[string]string{} // "ns/pod" -> IP
	nodes := []string{"node-1", "node-2"}
	i := 0
	for _, ns := range []string{"x", "y", "z"} {
		nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"ns": ns}}}
		created, err := s.cs.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
		m.model.nsLabels[ns] = created.Labels // with kubernetes.io/metadata.name
		var nsPods []*corev1.Pod
		for _, name := range []string{"a", "b", "c"} {
			p := podSpec(ns, name, nodes[i%2], work, "python3", agent, work, ns+"-"+name)
			i++
			p.Labels = map[string]string{"pod": name}
			p.Spec.Containers[0].Ports = matrixPorts(name)
			nsPods = append(nsPods, p)
		}
		// createPods keys by pod name: one namespace at a time.
		got, _ := s.createPods(t, nsPods...)
		for name, ip := range got {
			ips[ns+"/"+name] = ip
		}
		pods = append(pods, nsPods...)
	}
	type target struct {
		Name  string `json:"name"`
		IP    string `json:"ip"`
		Proto string `json:"proto"`
		Port  int    `json:"port"`
	}
	var targets []target
	for _, p := range pods {
		ip := netip.MustParseAddr(ips[p.Namespace+"/"+p.Name])
		m.model.pods = append(m.model.pods, matrixPod{ns: p.Namespace, name: p.Name, labels: p.Labels, ip: ip, ports: p.Spec.Containers[0].Ports})
		for _, proto := range []string{"tcp", "udp"} {
			for _, port := range []int{80, 81} {
				targets = append(targets, target{p.Namespace + "-" + p.Name, ip.String(), proto, port})
			}
		}
	}
	data, _ := json.Marshal(targets)
	if err := os.WriteFile(filepath.Join(work, "targets.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		ready, _ := filepath.Glob(filepath.Join(work, "ready-*"))
		return len(ready) == len(pods)
	}, func() string { return "matrix agents not all started" })
	return m
}

// probeAll runs one round: every agent probes every other pod's four
// ports at once.
func (m *matrix) probeAll(t *testing.T) map[probe]bool {
	t.Helper()
	m.round++
	if err := os.WriteFile(filepath.Join(m.work, "round"), []byte(fmt.Sprint(m.round)), 0o644); err != nil {
		t.Fatal(err)
	}
	got := map[probe]bool{}
	waitFor(t, 30*time.Second, func() bool {
		for _, p := range m.model.pods {
			var r struct {
				Round   int             `json:"round"`
				Results map[string]bool `json:"results"`
			}
			data, err := os.ReadFile(filepath.Join(m.work, "result-"+p.ns+"-"+p.name+".json"))
			if err != nil || json.Unmarshal(data, &r) != nil || r.Round != m.round {
				return false
			}
			for k, ok := range r.Results {
				var from, to, pp string
				var port int32
				if _, err := fmt.Sscanf(k, "%s %s %s", &from, &to, &pp); err != nil {
					t.Fatalf("agent result key %q: %v", k, err)
				}
				proto, portStr, _ := strings.Cut(pp, "/")
				fmt.Sscan(portStr, &port)
				got[probe{strings.Replace(from, "-", "/", 1), strings.Replace(to, "-", "/", 1), corev1.Protocol(strings.ToUpper(proto)), port}] = ok
			}
		}
		return true
	}, func() string { return fmt.Sprintf("round %d: not every agent reported", m.round) })
	return got
}

// diff lists the cells where got differs from want.
func diff(got, want map[probe]bool) []string {
	var out []string
	for p, w := range want {
		if g, ok := got[p]; !ok || g != w {
			verdict := map[bool]string{true: "allowed", false: "denied"}
			out = append(out, fmt.Sprintf("%s: %s, want %s", p, verdict[g], verdict[w]))
		}
	}
	slices.Sort(out)
	return out
}

// expect waits until two rounds in a row equal the model's matrix under
// policies (the second one so a round taken mid-change cannot pass by
// chance) and returns how many cells are allowed.
func (m *matrix) expect(t *testing.T, what string, policies []*networkingv1.NetworkPolicy) {
	t.Helper()
	want := m.model.expect(policies)
	start := time.Now()
	matched := 0
	var last []string
	for matched < 2 {
		if d := diff(m.probeAll(t), want); len(d) == 0 {
			matched++
		} else {
			matched, last = 0, d
		}
		if time.Since(start) > 60*time.Second {
			if len(last) > 25 {
				last = append(last[:25], fmt.Sprintf("... %d more", len(last)-25))
			}
			t.Fatalf("%s: after %s the matrix differs from the model in these cells:\n%s", what, time.Since(start).Round(time.Second), strings.Join(last, "\n"))
		}
	}
	allowed := 0
	for _, ok := range want {
		if ok {
			allowed++
		}
	}
	t.Logf("%s: matrix matches (%d of %d cells allowed) after %s, %d rounds", what, allowed, len(want), time.Since(start).Round(time.Millisecond), m.round)
}

// policy parses a NetworkPolicy written as YAML.
func policy(t *testing.T, ns, doc string) *networkingv1.NetworkPolicy {
	t.Helper()
	p := &networkingv1.NetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(doc), p); err != nil {
		t.Fatalf("policy %q: %v", doc, err)
	}
	p.Namespace = ns
	return p
}

// TestReachabilityMatrix: namespaces x, y, z with pods a, b, c, each
// serving TCP and UDP on 80 and 81 and probing every other pod's four
// ports; for each case the observed matrix must equal the reference
// model's. Between cases the previous case's policies are deleted.
func TestReachabilityMatrix(t *testing.T) {
	s := dataplane(t)
	m := newMatrix(t, s)
	ip := func(id string) string {
		for _, p := range m.model.pods {
			if p.id() == id {
				return p.ip.String()
			}
		}
		t.Fatalf("no pod %s", id)
		return ""
	}
	m.expect(t, "no policy", nil)

	nps := func(ns string) interface {
		Create(context.Context, *networkingv1.NetworkPolicy, metav1.CreateOptions) (*networkingv1.NetworkPolicy, error)
		Update(context.Context, *networkingv1.NetworkPolicy, metav1.UpdateOptions) (*networkingv1.NetworkPolicy, error)
		Delete(context.Context, string, metav1.DeleteOptions) error
	} {
		return s.cs.NetworkingV1().NetworkPolicies(ns)
	}
	apply := func(policies []*networkingv1.NetworkPolicy) {
		t.Helper()
		for _, p := range policies {
			if _, err := nps(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s/%s: %v", p.Namespace, p.Name, err)
			}
		}
	}
	remove := func(policies []*networkingv1.NetworkPolicy) {
		t.Helper()
		for _, p := range policies {
			if err := nps(p.Namespace).Delete(context.Background(), p.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete %s/%s: %v", p.Namespace, p.Name, err)
			}
		}
	}

	cases := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
	}{
		{"deny all ingress in x (empty podSelector)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: deny-ingress}
spec: {podSelector: {}}`)}},
		{"x/a admits pod=b of x (podSelector)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-b}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`)}},
		{"x/a admits namespace y (namespaceSelector)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-ns-y}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]`)}},
		{"x/a admits pod=c of namespace y (both in one peer: AND)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-y-c}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: c}}}]}]`)}},
		{"x/a admits namespace y or pod=c of x (two peers: OR)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-y-or-c}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}, {podSelector: {matchLabels: {pod: c}}}]}]`)}},
		{"x/a admits the pod network except y/b (ipBlock with except)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-cidr}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{ipBlock: {cidr: 10.244.0.0/16, except: [`+ip("y/b")+`/32]}}]}]`)}},
		{"x/c admits TCP 81 and UDP 80 from y/a's address or namespace z (several peers and ports)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: peers-and-ports}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - from: [{ipBlock: {cidr: `+ip("y/a")+`/32}}, {namespaceSelector: {matchLabels: {ns: z}}}]
    ports: [{protocol: TCP, port: 81}, {protocol: UDP, port: 80}]`)}},
		{"x admits TCP 80 only (port by number)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-tcp-80}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: TCP, port: 80}]}]`)}},
		{"x/b admits UDP 81 by name", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-udp-81-named}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress: [{ports: [{protocol: UDP, port: serve-81-udp}]}]`)}},
		{"y admits port web: 80 on a and c, 81 on b (one name, two numbers)", []*networkingv1.NetworkPolicy{policy(t, "y", `
metadata: {name: allow-web}
spec:
  podSelector: {}
  ingress: [{ports: [{port: web}]}]`)}},
		{"z admits TCP 80-81, UDP nothing (endPort range)", []*networkingv1.NetworkPolicy{policy(t, "z", `
metadata: {name: allow-range}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: TCP, port: 80, endPort: 81}]}]`)}},
		{"x/a admits SCTP 80 only: TCP and UDP closed (SCTP)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-sctp}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{protocol: SCTP, port: 80}]}]`)}},
		{"x/a sends only to namespace y (egress)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: egress-to-y}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}}]}]`)}},
		{"y sends nothing (egress deny-all)", []*networkingv1.NetworkPolicy{policy(t, "y", `
metadata: {name: deny-egress}
spec: {podSelector: {}, policyTypes: [Egress]}`)}},
		{"z sends UDP 81 only, and to web of x (egress ports, named egress port)", []*networkingv1.NetworkPolicy{policy(t, "z", `
metadata: {name: egress-udp-81}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{protocol: UDP, port: 81}]
  - to: [{namespaceSelector: {matchLabels: {ns: x}}}]
    ports: [{port: web}]`)}},
		{"x/a: one policy admits y, another z (union)", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-from-y}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]`), policy(t, "x", `
metadata: {name: allow-from-z-80}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}], ports: [{port: 80, protocol: TCP}]}]`)}},
		{"a policy that selects nothing changes nothing", []*networkingv1.NetworkPolicy{policy(t, "y", `
metadata: {name: selects-nothing}
spec: {podSelector: {matchLabels: {pod: nobody}}, policyTypes: [Ingress, Egress]}`)}},
		{"z/c isolated both ways with ingress rules only (policyTypes)", []*networkingv1.NetworkPolicy{policy(t, "z", `
metadata: {name: both-ways}
spec:
  podSelector: {matchLabels: {pod: c}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{namespaceSelector: {}}]}]`)}},
		{"x/b admits every pod of every namespace labelled pod=a (namespaceSelector {})", []*networkingv1.NetworkPolicy{policy(t, "x", `
metadata: {name: allow-all-a}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}]}]`)}},
	}
	for _, c := range cases {
		apply(c.policies)
		m.expect(t, c.name, c.policies)
		remove(c.policies)
	}

	// A policy edited in place: x/a admits pod=b, then pod=c instead.
	edited := policy(t, "x", `
metadata: {name: edit-me}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`)
	apply([]*networkingv1.NetworkPolicy{edited})
	m.expect(t, "before the edit: x/a admits pod=b", []*networkingv1.NetworkPolicy{edited})
	cur, err := s.cs.NetworkingV1().NetworkPolicies("x").Get(context.Background(), "edit-me", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Ingress[0].From[0].PodSelector.MatchLabels = map[string]string{"pod": "c"}
	if _, err := nps("x").Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	m.expect(t, "edited in place: x/a admits pod=c", []*networkingv1.NetworkPolicy{cur})
	// Deleted: everything open again.
	remove([]*networkingv1.NetworkPolicy{cur})
	m.expect(t, "policy deleted", nil)
}
