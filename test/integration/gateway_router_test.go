package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// l3Config is what a node agent publishes for node n (index i).
func l3Config(n string, i int) string {
	return fmt.Sprintf(`{"default":{"mode":"shared","bridge-id":"br-ex","interface-id":"br-ex_%s","mac-address":"0a:00:00:00:00:%02x",`+
		`"ip-addresses":["172.31.0.%d/24","fd31::%d/64"],"ip-address":"172.31.0.%d/24","next-hops":["172.31.0.254","fd31::fe"],`+
		`"next-hop":"172.31.0.254","node-port-enable":"true","vlan-id":"0"}}`, n, i, i, i, i)
}

// TestGatewayRouterLifecycle: a node with a chassis and a published gateway
// gets its gateway router, external switch, join port, routes, NAT and
// cluster-router route and policy, dual-stack; deleting the Node removes
// every one of them, and the other node's stay.
func TestGatewayRouterLifecycle(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24,fd00:10:244::/48/64", "10.96.0.0/16,fd00:10:96::/112")
	for i, n := range []string{"g1", "g2"} {
		e.createNode(n, map[string]string{kube.NodeChassisIDAnnotation: "chassis-" + n, kube.L3GatewayConfigAnnotation: l3Config(n, i+1)})
	}
	eventually(t, 20*time.Second, func() string {
		for _, n := range []string{"g1", "g2"} {
			if e.get("Logical_Router", "GR_"+n, "name") == "" {
				return "no GR_" + n
			}
		}
		return ""
	})
	e.waitIdle()
	join := e.node("g1").Annotations[kube.NodeGatewayRouterLRPIfAddrsAnnotation]
	if join != `{"default":{"ipv4":"100.64.0.2/16","ipv6":"fd98::2/64"}}` && join != `{"default":{"ipv4":"100.64.0.3/16","ipv6":"fd98::3/64"}}` {
		t.Errorf("g1 join addresses = %s", join)
	}
	if got := e.get("Logical_Router", "GR_g1", "options:chassis"); got != `chassis-g1` && got != `"chassis-g1"` {
		t.Errorf("GR_g1 chassis = %s", got)
	}
	show := e.nbctl("show", "GR_g1")
	for _, want := range []string{"rtoe-GR_g1", "172.31.0.1/24", "fd31::1/64", "rtoj-GR_g1", `logical ip: "10.244.`, `external ip: "172.31.0.1"`, `external ip: "fd31::1"`} {
		if !strings.Contains(show, want) {
			t.Errorf("GR_g1 lacks %q:\n%s", want, show)
		}
	}
	routes := e.nbctl("lr-route-list", "GR_g1")
	for _, want := range []string{"0.0.0.0/0", "172.31.0.254", "::/0", "fd31::fe", "10.244.0.0/16", "100.64.0.1", "fd00:10:244::/48", "fd98::1"} {
		if !strings.Contains(routes, want) {
			t.Errorf("GR_g1 routes lack %q:\n%s", want, routes)
		}
	}
	if ext := e.nbctl("show", "ext_g1"); !strings.Contains(ext, "br-ex_g1") || !strings.Contains(ext, "etor-GR_g1") {
		t.Errorf("ext_g1 = %s", ext)
	}
	if !strings.Contains(e.nbctl("lsp-list", "join"), "jtor-GR_g1") {
		t.Error("jtor-GR_g1 not on join")
	}
	if got := e.nbctl("lr-policy-list", "ovn_cluster_router"); !strings.Contains(got, `ip4.dst == 172.31.0.1 /* g1 */`) {
		t.Errorf("policies = %s", got)
	}
	// The GR knows the cluster router's join MAC, and the cluster router
	// routes the GR's join address back to it.
	if got := e.nbctl("--bare", "--columns=ip,mac", "find", "Static_MAC_Binding", "logical_port=rtoj-GR_g1"); !strings.Contains(got, "100.64.0.1") || !strings.Contains(got, "fd98::1") || !strings.Contains(got, "0a:58:64:40:00:01") {
		t.Errorf("rtoj-GR_g1 static MAC bindings = %q", got)
	}
	g1JoinAddrs, _, _ := kube.ParseJoinAddrs(map[string]string{kube.NodeGatewayRouterLRPIfAddrsAnnotation: join})
	if got := e.nbctl("lr-route-list", "ovn_cluster_router"); len(g1JoinAddrs) == 0 || !strings.Contains(got, g1JoinAddrs[0].Addr().String()) {
		t.Errorf("ovn_cluster_router routes lack g1's join address:\n%s", got)
	}

	if err := e.client.CoreV1().Nodes().Delete(t.Context(), "g1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		if e.get("Logical_Router", "GR_g1", "name") != "" {
			return "GR_g1 still there"
		}
		return ""
	})
	e.waitIdle()
	for _, tc := range []struct{ table, name string }{
		{"Logical_Switch", "ext_g1"}, {"Logical_Switch_Port", "jtor-GR_g1"}, {"Logical_Switch_Port", "br-ex_g1"},
		{"Logical_Router_Port", "rtoe-GR_g1"}, {"Logical_Router_Port", "rtoj-GR_g1"},
	} {
		if e.get(tc.table, tc.name, "name") != "" {
			t.Errorf("%s %s left after the node was deleted", tc.table, tc.name)
		}
	}
	g1Join, _, err := kube.ParseJoinAddrs(map[string]string{kube.NodeGatewayRouterLRPIfAddrsAnnotation: join})
	if err != nil {
		t.Fatal(err)
	}
	if out := e.nbctl("lr-route-list", "ovn_cluster_router"); strings.Contains(out, g1Join[0].Addr().String()+" ") {
		t.Errorf("ovn_cluster_router still routes via g1's gateway router:\n%s", out)
	}
	if out := e.nbctl("lr-policy-list", "ovn_cluster_router"); strings.Contains(out, "/* g1 */") {
		t.Errorf("ovn_cluster_router still has g1's policy:\n%s", out)
	}
	if n := len(strings.Fields(e.nbctl("--bare", "--columns=_uuid", "list", "NAT"))); n != 2 {
		t.Errorf("%d NAT rows left, want g2's two", n)
	}
	if e.get("Logical_Router", "GR_g2", "name") == "" {
		t.Error("GR_g2 went with g1")
	}
	if got := e.nbctl("--bare", "--columns=logical_port", "find", "Static_MAC_Binding"); strings.Contains(got, "rtoj-GR_g1") || !strings.Contains(got, "rtoj-GR_g2") {
		t.Errorf("static MAC bindings after deleting g1: %q", got)
	}
}
