package integration

import (
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

var topologyTables = []string{"Logical_Router", "Logical_Router_Port", "Logical_Switch", "Logical_Switch_Port", "Gateway_Chassis"}

// TestThreeNodesTopology: three Nodes give exactly the upstream topology.
func TestThreeNodesTopology(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	for _, n := range []string{"node1", "node2", "node3"} {
		e.createNode(n, nil)
	}
	eventually(t, 20*time.Second, func() string {
		if got := e.names("Logical_Switch"); !reflect.DeepEqual(got, []string{"join", "node1", "node2", "node3"}) {
			return fmt.Sprintf("switches %v", got)
		}
		return ""
	})
	if got := e.names("Logical_Router"); !reflect.DeepEqual(got, []string{"ovn_cluster_router"}) {
		t.Errorf("routers = %v", got)
	}
	wantLRPs := []string{"rtoj-ovn_cluster_router", "rtos-node1", "rtos-node2", "rtos-node3"}
	if got := e.names("Logical_Router_Port"); !reflect.DeepEqual(got, wantLRPs) {
		t.Errorf("router ports = %v, want %v", got, wantLRPs)
	}
	// Every router port is attached to ovn_cluster_router.
	for _, p := range wantLRPs {
		if !strings.Contains(e.nbctl("lrp-list", "ovn_cluster_router"), "("+p+")") {
			t.Errorf("%s is not a port of ovn_cluster_router", p)
		}
	}
	if got := e.get("Logical_Router_Port", "rtoj-ovn_cluster_router", "networks"); got != `["100.64.0.1/16"]` {
		t.Errorf("rtoj networks = %s", got)
	}
	if got := e.get("Logical_Switch_Port", "jtor-ovn_cluster_router", "options"); got != `{router-port=rtoj-ovn_cluster_router}` {
		t.Errorf("jtor options = %s", got)
	}
	seen := map[string]string{}
	ids := map[int]bool{}
	for _, n := range []string{"node1", "node2", "node3"} {
		subnets, ok, err := kube.ParseNodeSubnets(e.node(n).Annotations)
		if !ok || err != nil || len(subnets) != 1 {
			t.Fatalf("%s node-subnets annotation: %v %v %v", n, subnets, ok, err)
		}
		s := subnets[0]
		if other, dup := seen[s.String()]; dup {
			t.Errorf("%s and %s share subnet %s", n, other, s)
		}
		seen[s.String()] = n
		id, ok, err := kube.ParseNodeID(e.node(n).Annotations)
		if !ok || err != nil {
			t.Errorf("%s has no valid node-id: %v", n, err)
		}
		ids[id] = true
		base := s.Addr().As4()
		gw := fmt.Sprintf("%d.%d.%d.1", base[0], base[1], base[2])
		mgmt := fmt.Sprintf("%d.%d.%d.2", base[0], base[1], base[2])
		mac := func(last int) string {
			return fmt.Sprintf("0a:58:%02x:%02x:%02x:%02x", base[0], base[1], base[2], last)
		}
		if got := e.get("Logical_Switch", n, "other_config"); got != fmt.Sprintf(`{exclude_ips="%s", mcast_eth_src="%s", mcast_ip4_src="%s", mcast_querier="true", mcast_snoop="true", subnet="%s"}`, mgmt, mac(1), gw, s) {
			t.Errorf("%s other_config = %s", n, got)
		}
		if got := e.get("Logical_Router_Port", "rtos-"+n, "networks"); got != fmt.Sprintf(`["%s/24"]`, gw) {
			t.Errorf("rtos-%s networks = %s", n, got)
		}
		if got := e.get("Logical_Router_Port", "rtos-"+n, "mac"); got != `"`+mac(1)+`"` {
			t.Errorf("rtos-%s mac = %s, want %s", n, got, mac(1))
		}
		if got := e.get("Logical_Switch_Port", "stor-"+n, "type"); got != "router" {
			t.Errorf("stor-%s type = %s", n, got)
		}
		if got := e.get("Logical_Switch_Port", "stor-"+n, "options"); got != fmt.Sprintf("{router-port=rtos-%s}", n) {
			t.Errorf("stor-%s options = %s", n, got)
		}
		if got := e.get("Logical_Switch_Port", "k8s-"+n, "addresses"); got != fmt.Sprintf(`["%s %s"]`, mac(2), mgmt) {
			t.Errorf("k8s-%s addresses = %s", n, got)
		}
		ports := e.nbctl("lsp-list", n)
		if !strings.Contains(ports, "(stor-"+n+")") || !strings.Contains(ports, "(k8s-"+n+")") || strings.Count(ports, "\n") != 1 {
			t.Errorf("%s ports = %q", n, ports)
		}
		ids := e.get("Logical_Switch", n, "external_ids")
		for _, kv := range []string{`"k8s.ovn.org/owner"=` + n, `"k8s.ovn.org/owner-type"=Node`, `"k8s.ovn.org/owner-controller"=default-network-controller`, `"k8s.ovn.org/id"=`} {
			if !strings.Contains(ids, kv) {
				t.Errorf("%s external_ids %s lack %s", n, ids, kv)
			}
		}
	}
	// Ids start at 2 as in OVN-Kubernetes (0 and 1 are reserved).
	if !reflect.DeepEqual(ids, map[int]bool{2: true, 3: true, 4: true}) {
		t.Errorf("node ids = %v, want 2, 3 and 4", ids)
	}
	// No gateway chassis until the node reports its chassis id.
	if got := e.names("Gateway_Chassis"); len(got) != 0 {
		t.Errorf("gateway chassis before any chassis id: %v", got)
	}
	const chassis = "6a1e3c7e-0b7a-4a43-9c39-c1d8f1c7a001"
	e.annotate("node2", kube.NodeChassisIDAnnotation, chassis)
	gcName := "rtos-node2-" + chassis
	eventually(t, 10*time.Second, func() string {
		if got := e.names("Gateway_Chassis"); !reflect.DeepEqual(got, []string{gcName}) {
			return fmt.Sprintf("gateway chassis %v", got)
		}
		return ""
	})
	if got := e.nbctl("--bare", "--columns=chassis_name,priority", "find", "Gateway_Chassis", "name="+gcName); got != chassis+"\n1" {
		t.Errorf("chassis_name = %s", got)
	}
	if got := e.nbctl("lrp-get-gateway-chassis", "rtos-node2"); !strings.Contains(got, gcName) || !strings.Contains(got, "1") {
		t.Errorf("lrp-get-gateway-chassis rtos-node2 = %q", got)
	}
}

// TestDualStackTopology: one subnet per family, v6 prefix and dual networks.
func TestDualStackTopology(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24,fd00:10:244::/48/64", "10.96.0.0/16,fd00:10:96::/112")
	e.createNode("ds1", nil)
	eventually(t, 20*time.Second, func() string {
		if e.get("Logical_Switch_Port", "k8s-ds1", "addresses") == "" {
			return "no management port yet"
		}
		return ""
	})
	subnets, _, err := kube.ParseNodeSubnets(e.node("ds1").Annotations)
	if err != nil || len(subnets) != 2 || !subnets[0].Addr().Is4() || !subnets[1].Addr().Is6() {
		t.Fatalf("dual-stack node-subnets = %v (%v)", subnets, err)
	}
	v4, v6 := subnets[0], subnets[1]
	a := v4.Addr().As4()
	mac := fmt.Sprintf("0a:58:%02x:%02x:%02x:01", a[0], a[1], a[2])
	if got := e.get("Logical_Switch", "ds1", "other_config"); got != fmt.Sprintf(`{exclude_ips="%d.%d.%d.2", ipv6_prefix="%s", mcast_eth_src="%s", mcast_ip4_src="%d.%d.%d.1", mcast_ip6_src="%s", mcast_querier="true", mcast_snoop="true", subnet="%s"}`,
		a[0], a[1], a[2], v6.Addr(), mac, a[0], a[1], a[2], topology.LinkLocalFromMAC(net.HardwareAddr{0x0a, 0x58, a[0], a[1], a[2], 1}), v4) {
		t.Errorf("other_config = %s", got)
	}
	if got := e.get("Logical_Router_Port", "rtos-ds1", "networks"); got != fmt.Sprintf(`["%d.%d.%d.1/24", "%s1/64"]`, a[0], a[1], a[2], v6.Addr()) {
		t.Errorf("rtos-ds1 networks = %s", got)
	}
	if got := e.get("Logical_Router_Port", "rtoj-ovn_cluster_router", "networks"); got != `["100.64.0.1/16", "fd98::1/64"]` {
		t.Errorf("rtoj networks = %s", got)
	}
	if got := e.get("Logical_Switch_Port", "k8s-ds1", "addresses"); got != fmt.Sprintf(`["0a:58:%02x:%02x:%02x:02 %d.%d.%d.2 %s2"]`, a[0], a[1], a[2], a[0], a[1], a[2], v6.Addr()) {
		t.Errorf("k8s-ds1 addresses = %s", got)
	}
}
