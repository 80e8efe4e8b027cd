package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/kube"
)

// podIP waits for the master's address of a pod and returns its IPv4.
func (e *env) podIP(ns, name string) string {
	e.t.Helper()
	var ip string
	eventually(e.t, 20*time.Second, func() string {
		addrs, ok, err := kube.ParsePodNetworks(e.pod(ns, name).Annotations)
		if err != nil || !ok || len(addrs.IPs) == 0 {
			return ns + "/" + name + " has no address yet"
		}
		ip = addrs.IPs[0].Addr().String()
		return ""
	})
	return ip
}

// TestNetworkPolicyRows: a policy becomes its port group and one ACL per
// rule; its peer selection is a shared address set of the selected pods'
// addresses, which follows label changes; a restart writes nothing;
// deleting the policy leaves no port group, ACL or address set. (Bad
// selectors, CIDRs and excepts are refused by the API server's own
// validation of networking.k8s.io/v1; the translation's rejection of them
// is covered by TestRows.)
func TestNetworkPolicyRows(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("np1", map[string]string{kube.NodeChassisIDAnnotation: "chassis-np1"})
	ns := "np-it"
	e.createNamespace(ns)
	label := func(app string) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Labels = map[string]string{"app": app} }
	}
	e.createPod(ns, "server", "np1", label("server"))
	e.createPod(ns, "client", "np1", label("client"))
	e.createPod(ns, "other", "np1", label("other"))
	clientIP, otherIP := e.podIP(ns, "client"), e.podIP(ns, "other")

	tcp := corev1.ProtocolTCP
	port80 := intstr.FromInt32(80)
	allow := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "allow-client"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port80}},
			}},
		},
	}
	nps := e.client.NetworkingV1().NetworkPolicies(ns)
	if _, err := nps.Create(context.Background(), allow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	key := networkpolicy.PeerKeys(allow)[0]
	asName := networkpolicy.AddressSetName(key.String(), false)
	eventually(t, 20*time.Second, func() string {
		if got := e.get("Port_Group", "np_it_allow_client", "name"); got == "" {
			return "no port group np_it_allow_client"
		}
		if got := e.get("Address_Set", asName, "addresses"); !strings.Contains(got, clientIP) {
			return fmt.Sprintf("address set %s = %s, want %s", asName, got, clientIP)
		}
		return ""
	})
	e.waitIdle()
	acls := e.nbctl("--columns=name,match,action,priority,direction", "list", "ACL")
	for _, want := range []string{"np_it_allow_client_ingress_0", "outport == @np_it_allow_client", "ip4.src == $" + asName, "tcp.dst == 80", "allow-related", "1001", "to-lport"} {
		if !strings.Contains(acls, want) {
			t.Errorf("ACLs lack %q:\n%s", want, acls)
		}
	}
	if got := e.get("Port_Group", "np_it_allow_client", "acls"); strings.Count(got, "-") < 4 {
		t.Errorf("port group acls = %s, want the rule's ACL", got)
	}
	// The acl-logging meter (--acl-logging-rate-limit, default 20/s).
	if got := e.nbctl("meter-list"); !strings.Contains(got, "acl-logging") || !strings.Contains(got, "20 pktps") {
		t.Errorf("meters:\n%s", got)
	}
	// Logging on for the namespace: the rule's ACL logs at the severity,
	// through the meter; the default-deny drop at its own.
	if _, err := e.client.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"k8s.ovn.org/acl-logging":"{\"deny\": \"alert\", \"allow\": \"notice\"}"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		got := e.nbctl("--columns=name,log,severity,meter", "find", "ACL", "log=true")
		if !strings.Contains(got, "np_it_allow_client_ingress_0") || !strings.Contains(got, "notice") ||
			!strings.Contains(got, "np_it_ingressDefaultDeny") || !strings.Contains(got, "alert") || !strings.Contains(got, "acl-logging") {
			return "logging ACLs:\n" + got
		}
		return ""
	})
	// A bad value: reported on the namespace, and nothing logs.
	if _, err := e.client.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"k8s.ovn.org/acl-logging":"{\"deny\": \"loud\"}"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		if e.metric("ovnkube_invalid_objects_total", map[string]string{"kind": "Namespace", "reason": "bad-acl-logging"}) < 1 {
			return "no invalid_objects_total{kind=Namespace,reason=bad-acl-logging}"
		}
		for _, ev := range e.warningsOn("Namespace", "default", ns) {
			if strings.Contains(ev, "InvalidACLLogging") && strings.Contains(ev, "loud") {
				return ""
			}
		}
		return fmt.Sprintf("no InvalidACLLogging event: %v", e.warningsOn("Namespace", "default", ns))
	})
	if _, err := e.client.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"k8s.ovn.org/acl-logging":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		if got := strings.TrimSpace(e.nbctl("--bare", "--columns=name", "find", "ACL", "log=true")); got != "" {
			return "still logging: " + got
		}
		return ""
	})
	e.waitIdle()

	// A pod labelled into the selection: its address joins the set.
	if _, err := e.client.CoreV1().Pods(ns).Patch(context.Background(), "other", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"client"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		if got := e.get("Address_Set", asName, "addresses"); !strings.Contains(got, otherIP) || !strings.Contains(got, clientIP) {
			return fmt.Sprintf("address set = %s, want %s and %s", got, clientIP, otherIP)
		}
		return ""
	})
	e.waitIdle()
	if n := e.metric("ovnkube_network_policy_programming_latency_seconds", nil); n < 1 {
		t.Errorf("policy programming latency observed %v times", n)
	}

	// A restart over the same cluster writes nothing.
	before := e.rowVersions("Port_Group", "ACL", "Address_Set")
	e.master.Stop()
	e.startMaster()
	e.waitIdle()
	if after := e.rowVersions("Port_Group", "ACL", "Address_Set"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("restart rewrote rows:\nbefore %v\nafter  %v", before, after)
	}

	// Deleting the policies leaves nothing behind.
	if err := nps.Delete(context.Background(), "allow-client", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		// The cluster-wide port groups (multicast) stay; nothing of the
		// policy does.
		if pgs := e.names("Port_Group"); fmt.Sprint(pgs) != "[clusterPortGroup clusterRtrPortGroup]" {
			return fmt.Sprintf("port groups left: %v", pgs)
		}
		if rows := strings.TrimSpace(e.nbctl("--bare", "--columns=_uuid", "list", "Address_Set")); rows != "" {
			return "address sets left: " + rows
		}
		// The node's management-port ACL stays; no policy ACL does.
		if acls := e.nbctl("--bare", "--columns=match", "list", "ACL"); strings.Contains(acls, "@np_it") {
			return "policy ACLs left: " + acls
		}
		return ""
	})
}

// TestNamedEgressPortFollowsPeers: an egress rule naming a port resolves
// it over the destination pods, so a pod that joins the peer selection
// later (created, or relabelled) appears in the rule's ACL.
func TestNamedEgressPortFollowsPeers(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("ne1", map[string]string{kube.NodeChassisIDAnnotation: "chassis-ne1"})
	ns := "np-named"
	e.createNamespace(ns)
	withPort := func(app string, port int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Labels = map[string]string{"app": app}
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "db", ContainerPort: port, Protocol: corev1.ProtocolTCP}}
		}
	}
	e.createPod(ns, "client", "ne1", withPort("client", 1))
	e.createPod(ns, "db1", "ne1", withPort("db", 5432))
	db1 := e.podIP(ns, "db1")
	dbPort := intstr.FromString("db")
	p := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "to-db"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &dbPort}},
			}},
		},
	}
	if _, err := e.client.NetworkingV1().NetworkPolicies(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	match := func() string {
		return e.nbctl("--bare", "--columns=match", "find", "ACL", "name=np_named_to_db_egress_0")
	}
	eventually(t, 20*time.Second, func() string {
		if m := match(); !strings.Contains(m, "tcp.dst == 5432 && (ip4.dst == {"+db1+"})") {
			return "egress ACL: " + m
		}
		return ""
	})
	// A new peer with the name on another number, and a pod relabelled
	// into the peers: both in the ACL, without touching the policy.
	e.createPod(ns, "db2", "ne1", withPort("db", 3306))
	e.createPod(ns, "db3", "ne1", withPort("other", 5432))
	db2, db3 := e.podIP(ns, "db2"), e.podIP(ns, "db3")
	if _, err := e.client.CoreV1().Pods(ns).Patch(context.Background(), "db3", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"db"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		m := match()
		if !strings.Contains(m, "tcp.dst == 3306 && (ip4.dst == {"+db2+"})") || !strings.Contains(m, db3) || !strings.Contains(m, db1) {
			return fmt.Sprintf("egress ACL lacks db2 %s on 3306 or db3 %s on 5432: %s", db2, db3, m)
		}
		return ""
	})
	// The peers are no members of the client's port group.
	e.waitIdle()
	if lsp := strings.TrimSpace(e.get("Logical_Switch_Port", ns+"_db2", "_uuid")); strings.Contains(e.get("Port_Group", "np_named_to_db", "ports"), lsp) {
		t.Errorf("peer db2 joined the policy's port group")
	}
}
