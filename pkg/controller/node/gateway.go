package node

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// GatewayInput is what a node's gateway router depends on: its join
// addresses (k8s.ovn.org/node-gateway-router-lrp-ifaddrs), its external
// bridge as the node agent reported it (k8s.ovn.org/l3-gateway-config), its
// chassis, its pod subnets, and the cluster's subnets and the cluster
// router's join addresses the router routes back through.
type GatewayInput struct {
	Node          string
	ChassisID     string
	Subnets       []netip.Prefix // the node's pod subnets
	JoinAddrs     []netip.Prefix // GR_<node> on the join switch
	InterfaceID   string         // localnet port, br-ex_<node>
	MAC           net.HardwareAddr
	NodeIPs       []netip.Prefix // on br-ex
	NextHops      []netip.Addr
	ClusterCIDRs  []netip.Prefix
	ClusterJoinIP []netip.Addr // ovn_cluster_router's rtoj- addresses
}

// Router policy priorities on ovn_cluster_router (OVN-Kubernetes values).
const nodeSubnetPolicyPriority = 1004

// GatewayRows returns a node's shared-gateway topology, named as upstream:
//
//	ovn_cluster_router --join-- GR_<node> --ext_<node>-- br-ex_<node> (localnet) -- br-ex
//
// The gateway router is pinned to the node's chassis, routes the world via
// the node's next hop and the cluster back via ovn_cluster_router, and
// source-NATs the node's pods to the node IP. ovn_cluster_router sends each
// pod's traffic that no other route claims to its own node's gateway router
// (a src-ip route), and a pod's traffic to its own node's IP to the node
// through the management port (policy 1004).
func GatewayRows(in GatewayInput) ([]reconcile.Row, error) {
	gr := topology.GatewayRouter(in.Node)
	owner := topology.NodeOwner(in.Node)
	onGR := func(column string) []reconcile.Ref {
		return []reconcile.Ref{{Owner: owner, Table: nbdb.LogicalRouterTable, ID: gr, Column: column}}
	}
	ext := topology.ExternalSwitch(in.Node)
	onExt := []reconcile.Ref{{Owner: owner, Table: nbdb.LogicalSwitchTable, ID: ext}}
	if len(in.JoinAddrs) == 0 || len(in.NodeIPs) == 0 {
		return nil, fmt.Errorf("node %s: gateway router needs join and node addresses", in.Node)
	}
	var joinIPs []netip.Addr
	var joinNets []string
	for _, a := range in.JoinAddrs {
		joinIPs = append(joinIPs, a.Addr())
		joinNets = append(joinNets, a.String())
	}
	var nodeIPs []string
	for _, a := range in.NodeIPs {
		nodeIPs = append(nodeIPs, a.String())
	}
	rtoj, jtor := topology.RouterToJoinPort(gr), topology.JoinToRouterPort(gr)
	rtoe, etor := topology.RouterToExtPort(gr), topology.ExtToRouterPort(gr)
	rows := []reconcile.Row{
		{ID: gr, Model: &nbdb.LogicalRouter{
			Name: gr,
			Options: map[string]string{
				"chassis": in.ChassisID,
				// Service traffic leaving through the GR takes the address of
				// the port it leaves by, so replies come back to this GR.
				"lb_force_snat_ip":              "router_ip",
				"snat-ct-zone":                  "0",
				"always_learn_from_arp_request": "false",
				"dynamic_neigh_routers":         "true",
			},
			ExternalIDs: map[string]string{"physical_ip": in.NodeIPs[0].Addr().String()},
		}, Refs: map[string][]reconcile.Ref{
			"load_balancer_group": {topology.LBGroupRef(topology.ClusterLBGroup), topology.LBGroupRef(topology.ClusterRouterLBGroup)},
		}},
		{ID: rtoj, Model: &nbdb.LogicalRouterPort{
			Name: rtoj, MAC: topology.MACFromIP(topology.PreferIPv4(joinIPs)).String(), Networks: joinNets,
		}, Parents: onGR("ports")},
		{ID: jtor, Model: &nbdb.LogicalSwitchPort{
			Name: jtor, Type: "router", Addresses: []string{"router"}, Options: map[string]string{"router-port": rtoj},
		}, Parents: []reconcile.Ref{topology.JoinSwitchRef}},
		{ID: ext, Model: &nbdb.LogicalSwitch{Name: ext}},
		{ID: in.InterfaceID, Model: &nbdb.LogicalSwitchPort{
			Name: in.InterfaceID, Type: "localnet", Addresses: []string{"unknown"},
			Options: map[string]string{"network_name": topology.PhysicalNetwork},
		}, Parents: onExt},
		{ID: rtoe, Model: &nbdb.LogicalRouterPort{Name: rtoe, MAC: in.MAC.String(), Networks: nodeIPs}, Parents: onGR("ports")},
		{ID: etor, Model: &nbdb.LogicalSwitchPort{
			Name: etor, Type: "router", Addresses: []string{in.MAC.String()}, Options: map[string]string{"router-port": rtoe},
		}, Parents: onExt},
	}
	for _, hop := range in.NextHops {
		dst := "0.0.0.0/0"
		if hop.Is6() {
			dst = "::/0"
		}
		port := rtoe
		rows = append(rows, reconcile.Row{ID: "default-" + dst, Model: &nbdb.LogicalRouterStaticRoute{
			IPPrefix: dst, Nexthop: hop.String(), OutputPort: &port,
		}, Parents: onGR("static_routes")})
	}
	for _, cidr := range in.ClusterCIDRs {
		via, ok := sameFamily(in.ClusterJoinIP, cidr.Addr())
		if !ok {
			continue
		}
		rows = append(rows, reconcile.Row{ID: "cluster-" + cidr.String(), Model: &nbdb.LogicalRouterStaticRoute{
			IPPrefix: cidr.String(), Nexthop: via.String(),
		}, Parents: onGR("static_routes")})
	}
	// The router's own join address, as a host route on ovn_cluster_router:
	// replies to what the router source-NATed to it (load-balancer traffic,
	// lb_force_snat_ip) must go back to this router, and without it the
	// more specific src-ip route of the replying pod's node (a /24 beats the
	// join /16) would send them to that node's router instead.
	for _, ip := range joinIPs {
		rows = append(rows, reconcile.Row{ID: "join-route-" + ip.String(), Model: &nbdb.LogicalRouterStaticRoute{
			IPPrefix: ip.String(), Nexthop: ip.String(),
		}, Parents: []reconcile.Ref{topology.ClusterRouterRef}})
	}
	// The cluster router's join addresses, resolved statically: with
	// dynamic_neigh_routers the router would ARP for them on the first
	// packet to the cluster, and OVN 23.03 re-injects that packet after the
	// reply in a way that breaks the first load-balanced connection (its
	// un-DNAT entry collides with the post-DNAT commit in the userspace
	// datapath); the binding costs one row per node and family.
	if len(in.ClusterJoinIP) > 0 {
		clusterRouterMAC := topology.MACFromIP(topology.PreferIPv4(in.ClusterJoinIP)).String()
		for _, ip := range in.ClusterJoinIP {
			rows = append(rows, reconcile.Row{ID: rtoj + "|" + ip.String(), Model: &nbdb.StaticMACBinding{
				LogicalPort: rtoj, IP: ip.String(), MAC: clusterRouterMAC, OverrideDynamicMAC: true,
			}})
		}
	}
	srcIP := nbdb.LogicalRouterStaticRoutePolicySrcIP
	for _, subnet := range in.Subnets {
		nodeIP, ok := samePrefixFamily(in.NodeIPs, subnet.Addr())
		if !ok {
			continue
		}
		rows = append(rows, reconcile.Row{ID: "snat-" + subnet.String(), Model: &nbdb.NAT{
			Type: nbdb.NATTypeSNAT, LogicalIP: subnet.String(), ExternalIP: nodeIP.Addr().String(),
		}, Parents: onGR("nat")})
		if join, ok := sameFamily(joinIPs, subnet.Addr()); ok {
			rows = append(rows, reconcile.Row{ID: "pod-route-" + subnet.String(), Model: &nbdb.LogicalRouterStaticRoute{
				IPPrefix: subnet.String(), Nexthop: join.String(), Policy: &srcIP,
			}, Parents: []reconcile.Ref{topology.ClusterRouterRef}})
		}
		mgmt, err := topology.ManagementIP(subnet)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", in.Node, err)
		}
		l3 := "ip4"
		if subnet.Addr().Is6() {
			l3 = "ip6"
		}
		rows = append(rows, reconcile.Row{ID: "node-ip-policy-" + nodeIP.Addr().String(), Model: &nbdb.LogicalRouterPolicy{
			Priority: nodeSubnetPolicyPriority,
			Match:    fmt.Sprintf(`inport == "%s" && %s.dst == %s /* %s */`, topology.RouterToSwitchPort(in.Node), l3, nodeIP.Addr(), in.Node),
			Action:   nbdb.LogicalRouterPolicyActionReroute,
			Nexthops: []string{mgmt.String()},
		}, Parents: []reconcile.Ref{topology.ClusterRouterRef}})
	}
	return rows, nil
}

func sameFamily(addrs []netip.Addr, like netip.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		if a.Is4() == like.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func samePrefixFamily(ps []netip.Prefix, like netip.Addr) (netip.Prefix, bool) {
	for _, p := range ps {
		if p.Addr().Is4() == like.Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
