package node

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
	"github.com/ovnkube/ovnkube/pkg/topology/topotest"
)

func TestGatewayRows(t *testing.T) {
	mac, _ := net.ParseMAC("4e:a2:ce:5e:8a:21")
	in := GatewayInput{
		Node: "node1", ChassisID: "c1",
		Subnets:     topotest.Prefixes("10.244.1.0/24", "fd00:10:244:1::/64"),
		JoinAddrs:   topotest.Prefixes("100.64.0.2/16", "fd98::2/64"),
		InterfaceID: "br-ex_node1", MAC: mac,
		NodeIPs:       topotest.Prefixes("172.31.0.1/24", "fd31::1/64"),
		NextHops:      []netip.Addr{netip.MustParseAddr("172.31.0.254"), netip.MustParseAddr("fe80::1")},
		ClusterCIDRs:  topotest.Prefixes("10.244.0.0/16", "fd00:10:244::/48"),
		ClusterJoinIP: []netip.Addr{netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("fd98::1")},
	}
	rows, err := GatewayRows(in)
	if err != nil {
		t.Fatal(err)
	}
	m := topotest.ByID(rows)
	gr := m["GR_node1"].Model.(*nbdb.LogicalRouter)
	for k, v := range map[string]string{"chassis": "c1", "lb_force_snat_ip": "router_ip", "snat-ct-zone": "0",
		"always_learn_from_arp_request": "false", "dynamic_neigh_routers": "true"} {
		if gr.Options[k] != v {
			t.Errorf("GR option %s = %q, want %q", k, gr.Options[k], v)
		}
	}
	grRef := func(col string) []reconcile.Ref {
		return []reconcile.Ref{{Owner: topology.NodeOwner("node1"), Table: nbdb.LogicalRouterTable, ID: "GR_node1", Column: col}}
	}
	rtoj := m["rtoj-GR_node1"]
	if lrp := rtoj.Model.(*nbdb.LogicalRouterPort); lrp.MAC != "0a:58:64:40:00:02" || !reflect.DeepEqual(lrp.Networks, []string{"100.64.0.2/16", "fd98::2/64"}) ||
		!reflect.DeepEqual(rtoj.Parents, grRef("ports")) {
		t.Errorf("rtoj = %+v parents %+v", lrp, rtoj.Parents)
	}
	if p := m["jtor-GR_node1"]; p.Model.(*nbdb.LogicalSwitchPort).Options["router-port"] != "rtoj-GR_node1" || !reflect.DeepEqual(p.Parents, []reconcile.Ref{topology.JoinSwitchRef}) {
		t.Errorf("jtor = %+v", p)
	}
	if lsp := m["br-ex_node1"].Model.(*nbdb.LogicalSwitchPort); lsp.Type != "localnet" || lsp.Options["network_name"] != "physnet" {
		t.Errorf("localnet port = %+v", lsp)
	}
	if lrp := m["rtoe-GR_node1"].Model.(*nbdb.LogicalRouterPort); lrp.MAC != mac.String() || !reflect.DeepEqual(lrp.Networks, []string{"172.31.0.1/24", "fd31::1/64"}) {
		t.Errorf("rtoe = %+v", lrp)
	}
	for id, want := range map[string][2]string{
		"default-0.0.0.0/0":        {"0.0.0.0/0", "172.31.0.254"},
		"default-::/0":             {"::/0", "fe80::1"},
		"cluster-10.244.0.0/16":    {"10.244.0.0/16", "100.64.0.1"},
		"cluster-fd00:10:244::/48": {"fd00:10:244::/48", "fd98::1"},
	} {
		r, ok := m[id]
		if !ok {
			t.Errorf("no route %s", id)
			continue
		}
		sr := r.Model.(*nbdb.LogicalRouterStaticRoute)
		if sr.IPPrefix != want[0] || sr.Nexthop != want[1] || !reflect.DeepEqual(r.Parents, grRef("static_routes")) {
			t.Errorf("route %s = %s via %s, parents %+v", id, sr.IPPrefix, sr.Nexthop, r.Parents)
		}
	}
	for subnet, ext := range map[string]string{"10.244.1.0/24": "172.31.0.1", "fd00:10:244:1::/64": "fd31::1"} {
		n := m["snat-"+subnet].Model.(*nbdb.NAT)
		if n.Type != nbdb.NATTypeSNAT || n.LogicalIP != subnet || n.ExternalIP != ext {
			t.Errorf("SNAT of %s = %+v", subnet, n)
		}
		pr := m["pod-route-"+subnet]
		if sr := pr.Model.(*nbdb.LogicalRouterStaticRoute); sr.Policy == nil || *sr.Policy != "src-ip" || !reflect.DeepEqual(pr.Parents, []reconcile.Ref{topology.ClusterRouterRef}) {
			t.Errorf("pod route of %s = %+v", subnet, pr)
		}
	}
	pol := m["node-ip-policy-172.31.0.1"].Model.(*nbdb.LogicalRouterPolicy)
	if pol.Priority != 1004 || pol.Match != `inport == "rtos-node1" && ip4.dst == 172.31.0.1 /* node1 */` || !reflect.DeepEqual(pol.Nexthops, []string{"10.244.1.2"}) {
		t.Errorf("node subnet policy = %+v", pol)
	}
	if _, err := GatewayRows(GatewayInput{Node: "x"}); err == nil {
		t.Error("a gateway without addresses must be refused")
	}
}

func TestJoinAddrs(t *testing.T) {
	got, err := JoinAddrs(topotest.Prefixes("100.64.0.0/16", "fd98::/64"), 2)
	if err != nil || !reflect.DeepEqual(got, topotest.Prefixes("100.64.0.2/16", "fd98::2/64")) {
		t.Errorf("JoinAddrs = %v, %v", got, err)
	}
	if _, err := JoinAddrs(topotest.Prefixes("100.64.0.0/30"), 5); err == nil {
		t.Error("an id past the join subnet must be an error")
	}
}
