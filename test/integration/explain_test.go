package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/explain"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// explain runs the built `ovnkube explain` against the test's cluster with
// the master's flags and returns its stdout; it fails the test on error.
func (e *env) explain(args ...string) string {
	e.t.Helper()
	bin, err := sandbox.BuiltBin("", "ovnkube")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append([]string{"explain"}, append(args, "--kubeconfig", apiServer.Kubeconfig,
		"--nb-address", e.ovn.NBAddress, "--sb-address", e.ovn.SBAddress)...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("ovnkube %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	if stderr.Len() > 0 {
		e.t.Errorf("ovnkube %s wrote to stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return string(out)
}

func (e *env) explainJSON(args ...string) explain.Report {
	e.t.Helper()
	out := e.explain(append(args, "-o", "json")...)
	var r explain.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		e.t.Fatalf("explain -o json: %v\n%s", err, out)
	}
	return r
}

// hasLine reports whether one of lines contains s.
func hasLine(lines []string, s string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, s) })
}

// TestExplain: `ovnkube explain` against the real API server, NB and SB
// lists a scheduled pod's port, switch and router path to its node's
// gateway router, with what is not there yet (no ovn-controller here: the
// port is not up, its binding has no chassis); a pending pod and a missing
// pod say why they have nothing; a node lists its topology; -o json parses;
// and explain writes nothing.
func TestExplain(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	for i, n := range []string{"en1", "en2"} {
		e.createNode(n, map[string]string{kube.NodeChassisIDAnnotation: "chassis-" + n, kube.L3GatewayConfigAnnotation: l3Config(n, i+1)})
	}
	e.createNamespace("explain")
	e.createPod("explain", "web", "en1")
	e.createPod("explain", "db", "en2")
	e.createPod("explain", "pending", "")
	eventually(t, 20*time.Second, func() string {
		for _, name := range []string{"GR_en1", "GR_en2"} {
			if e.get("Logical_Router", name, "name") == "" {
				return "no " + name
			}
		}
		for _, port := range []string{"explain_web", "explain_db"} {
			if e.get("Logical_Switch_Port", port, "name") == "" {
				return "no port " + port
			}
			// ovn-northd has created the binding.
			if out, err := e.ovn.SBCtl("--bare", "--columns=logical_port", "find", "Port_Binding", "logical_port="+port); err != nil || strings.TrimSpace(out) != port {
				return "no SB Port_Binding " + port
			}
		}
		return ""
	})
	e.waitIdle()
	tables := []string{"Logical_Router", "Logical_Router_Port", "Logical_Switch", "Logical_Switch_Port", "Gateway_Chassis", "ACL", "NAT"}
	before := e.rowVersions(tables...)

	t.Run("scheduled pod", func(t *testing.T) {
		r := e.explainJSON("pod", "explain/web")
		p := r.Pod
		if r.Kind != "Pod" || r.Name != "explain/web" || r.Exists == nil || !*r.Exists || p == nil {
			t.Fatalf("report = %+v", r)
		}
		if p.NodeName != "en1" || len(p.IPs) != 1 || !strings.HasPrefix(p.IPs[0], "10.244.") || len(p.NodeSubnets) != 1 {
			t.Errorf("allocation = %+v", p)
		}
		if p.Port == nil || p.Port.Name != "explain_web" || p.Port.Switch != "en1" || len(p.Port.Addresses) != 1 ||
			!strings.HasPrefix(p.Port.Addresses[0], p.MAC+" ") || !reflect.DeepEqual(p.Port.PortSecurity, p.Port.Addresses) || p.Port.Up {
			t.Errorf("port = %+v", p.Port)
		}
		var path []string
		for _, h := range p.Path {
			if !h.Found {
				t.Errorf("hop %s %s not found", h.Table, h.Name)
			}
			path = append(path, h.Name)
		}
		want := []string{"en1", "stor-en1", "rtos-en1", "ovn_cluster_router", "rtoj-ovn_cluster_router", "join", "jtor-GR_en1", "rtoj-GR_en1", "GR_en1"}
		if !reflect.DeepEqual(path, want) {
			t.Errorf("router path = %v, want %v", path, want)
		}
		if p.Binding == nil || p.Binding.LogicalPort != "explain_web" || p.Binding.Chassis != "" {
			t.Errorf("binding = %+v, want one without chassis", p.Binding)
		}
		if len(r.Rows) != 1 || r.Rows[0].Table != "Logical_Switch_Port" || r.Rows[0].Rows[0].Name != "explain_web" {
			t.Errorf("owned rows = %+v", r.Rows)
		}
		if len(r.Missing) != 2 || !hasLine(r.Missing, "port explain_web is not up") || !hasLine(r.Missing, "SB Port_Binding explain_web has no chassis") {
			t.Errorf("missing = %q", r.Missing)
		}
		text := e.explain("pod", "explain/web")
		for _, want := range []string{"Pod explain/web\n", "Logical_Switch_Port explain_web", "Router path", "rtos-en1", "GR_en1",
			"SB Port_Binding explain_web", "NB rows owned by Pod/explain/web", "Missing\n  - port explain_web is not up"} {
			if !strings.Contains(text, want) {
				t.Errorf("text lacks %q:\n%s", want, text)
			}
		}
		t.Logf("ovnkube explain pod explain/web:\n%s", text)
	})

	t.Run("pending pod", func(t *testing.T) {
		r := e.explainJSON("pod", "explain/pending")
		if r.Pod == nil || r.Pod.Port != nil || len(r.Rows) != 0 || len(r.Missing) != 1 || !strings.Contains(r.Missing[0], "the pod is not scheduled") {
			t.Errorf("pending pod report = %+v", r)
		}
	})

	t.Run("missing pod", func(t *testing.T) {
		r := e.explainJSON("pod", "explain/nope")
		if r.Exists == nil || *r.Exists || !hasLine(r.Missing, "pod explain/nope does not exist") {
			t.Errorf("report of a missing pod = %+v", r)
		}
	})

	t.Run("node", func(t *testing.T) {
		r := e.explainJSON("node", "en1")
		n := r.Node
		if n == nil || n.ChassisID != "chassis-en1" || len(n.Subnets) != 1 {
			t.Fatalf("node report = %+v", r)
		}
		var names []string
		for _, h := range n.Topology {
			if !h.Found {
				t.Errorf("hop %s %s not found", h.Table, h.Name)
			}
			names = append(names, h.Name)
		}
		for _, want := range []string{"en1", "rtos-en1", "k8s-en1", "rtos-en1-chassis-en1", "GR_en1", "ext_en1"} {
			if !slices.Contains(names, want) {
				t.Errorf("topology %v lacks %s", names, want)
			}
		}
		if !hasLine(r.Missing, "chassis chassis-en1 is not registered in the SB") || !hasLine(r.Missing, "management port k8s-en1 is not bound") {
			t.Errorf("missing = %q", r.Missing)
		}
		if r.Annotations[kube.NodeSubnetsAnnotation] == "" {
			t.Errorf("annotations = %v", r.Annotations)
		}
	})

	if after := e.rowVersions(tables...); !reflect.DeepEqual(before, after) {
		t.Errorf("NB rows changed while explaining (explain must only read)")
	}

	t.Run("bound by a chassis", func(t *testing.T) {
		// What ovn-controller does on en1, by hand: register the chassis
		// and claim the pod's port.
		for _, args := range [][]string{{"chassis-add", "chassis-en1", "geneve", "127.0.0.1"},
			{"set", "Chassis", "chassis-en1", "hostname=en1"}, {"lsp-bind", "explain_web", "chassis-en1"}} {
			if out, err := e.ovn.SBCtl(args...); err != nil {
				t.Fatalf("ovn-sbctl %v: %v %s", args, err, out)
			}
		}
		r := e.explainJSON("pod", "explain/web")
		if b := r.Pod.Binding; b == nil || b.Chassis != "chassis-en1" || b.Hostname != "en1" {
			t.Errorf("binding = %+v", b)
		}
		if hasLine(r.Missing, "has no chassis") {
			t.Errorf("missing = %q", r.Missing)
		}
		n := e.explainJSON("node", "en1")
		if c := n.Node.Chassis; c == nil || c.Name != "chassis-en1" || c.Hostname != "en1" || hasLine(n.Missing, "not registered") {
			t.Errorf("node chassis = %+v, missing %q", c, n.Missing)
		}
	})

	t.Run("trace", func(t *testing.T) {
		// ovn-trace needs only the logical flows: no chassis has to bind
		// the ports for the verdict.
		out := e.explain("trace", "explain/web", "explain/db:8080/tcp", "-o", "json")
		var tr explain.TraceReport
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if tr.SourcePort != "explain_web" || tr.DestinationPort != "explain_db" || tr.Datapath != "en1" || tr.Delivered == nil || !*tr.Delivered {
			t.Errorf("trace = %s", out)
		}
		if len(tr.Verdicts) != 1 || tr.Verdicts[0].Action != "output" || tr.Verdicts[0].Port != "explain_db" || tr.Verdicts[0].Owner != "Pod/explain/db" {
			t.Errorf("verdicts = %+v", tr.Verdicts)
		}
		text := e.explain("trace", "explain/web", "explain/db")
		if !strings.Contains(text, "Verdict: output to explain_db (Pod/explain/db)") {
			t.Errorf("trace text:\n%s", text)
		}
		t.Logf("ovnkube explain trace explain/web explain/db:\n%s", text)
	})

	t.Run("trace denied by a policy", func(t *testing.T) {
		// A policy isolating the namespace's pods for ingress, allowing
		// nothing: the first packet of a new connection is dropped by the
		// namespace's default deny, which the trace names.
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "explain", Name: "deny-all"},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
		if _, err := e.client.NetworkingV1().NetworkPolicies("explain").Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The API server outlives this test and has no namespace
		// controller: a policy left behind would be programmed by the
		// next test's master.
		t.Cleanup(func() {
			_ = e.client.NetworkingV1().NetworkPolicies("explain").Delete(context.Background(), np.Name, metav1.DeleteOptions{})
		})
		e.waitIdle()
		out := e.explain("trace", "explain/web", "explain/db:8080/tcp", "-o", "json")
		var tr explain.TraceReport
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if tr.Delivered == nil || *tr.Delivered || len(tr.Verdicts) != 1 || tr.Verdicts[0].Action != "drop" || tr.Verdicts[0].Datapath != "en2" ||
			tr.Verdicts[0].Owner != "DefaultDeny/explain/ingress" {
			t.Errorf("trace through a deny-all policy = %s", out)
		}
		t.Logf("ovnkube explain trace explain/web explain/db:8080/tcp:\n%s", e.explain("trace", "explain/web", "explain/db:8080/tcp"))
	})
}
