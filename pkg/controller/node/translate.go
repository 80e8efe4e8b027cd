package node

import (
	"fmt"
	"net/netip"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Input is what one node's rows depend on: its name, its subnets (one per
// family, from k8s.ovn.org/node-subnets) and, once ovnkube node has reported
// it, its chassis id (k8s.ovn.org/node-chassis-id).
type Input struct {
	Name      string
	Subnets   []netip.Prefix
	ChassisID string
}

// managementPortACLPriority is that of network policies' allow rules, above
// their default deny (1000).
const managementPortACLPriority = 1001

// Rows returns a node's rows: its switch with the subnet options, the
// rtos-/stor- link to ovn_cluster_router at .1, the management port k8s-<node>
// at .2 and, with a chassis id, the Gateway_Chassis that pins rtos-<node>.
func Rows(in Input) ([]reconcile.Row, error) {
	if len(in.Subnets) == 0 {
		return nil, fmt.Errorf("node %s has no subnet", in.Name)
	}
	sw := topology.NodeSwitch(in.Name)
	otherConfig := map[string]string{}
	var gwIPs, mgmtIPs []netip.Addr
	var networks []string
	for _, s := range in.Subnets {
		gw, err := topology.GatewayIP(s)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", in.Name, err)
		}
		mgmt, err := topology.ManagementIP(s)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", in.Name, err)
		}
		gwIPs = append(gwIPs, gw)
		mgmtIPs = append(mgmtIPs, mgmt)
		networks = append(networks, topology.WithPrefix(gw, s))
		if s.Addr().Is4() {
			otherConfig["subnet"] = s.Masked().String()
			// OVN's dynamic addressing must never hand out the management IP.
			otherConfig["exclude_ips"] = mgmt.String()
		} else {
			otherConfig["ipv6_prefix"] = s.Masked().Addr().String()
		}
	}
	rtosMAC := topology.MACFromIP(topology.PreferIPv4(gwIPs))
	// IGMP/MLD snooping, so a group reaches only the pods that joined it,
	// and a querier speaking for the router port so memberships are
	// refreshed (and expire) without a multicast router on the link.
	otherConfig["mcast_snoop"] = "true"
	otherConfig["mcast_querier"] = "true"
	otherConfig["mcast_eth_src"] = rtosMAC.String()
	for _, gw := range gwIPs {
		if gw.Is4() {
			otherConfig["mcast_ip4_src"] = gw.String()
		} else {
			otherConfig["mcast_ip6_src"] = topology.LinkLocalFromMAC(rtosMAC).String()
		}
	}
	rtos, stor, mgmtPort := topology.RouterToSwitchPort(in.Name), topology.SwitchToRouterPort(in.Name), topology.ManagementPort(in.Name)
	onSwitch := []reconcile.Ref{topology.NodeSwitchRef(in.Name)}
	rows := []reconcile.Row{
		{ID: sw, Model: &nbdb.LogicalSwitch{Name: sw, OtherConfig: otherConfig}, Refs: map[string][]reconcile.Ref{
			// The cluster-wide services, shared by every node switch.
			"load_balancer_group": {topology.LBGroupRef(topology.ClusterLBGroup), topology.LBGroupRef(topology.ClusterSwitchLBGroup)},
		}},
		{ID: rtos, Model: &nbdb.LogicalRouterPort{
			Name:     rtos,
			MAC:      rtosMAC.String(),
			Networks: networks,
		}, Parents: []reconcile.Ref{topology.ClusterRouterRef}},
		{ID: stor, Model: &nbdb.LogicalSwitchPort{
			Name:      stor,
			Type:      "router",
			Addresses: []string{"router"},
			Options:   map[string]string{"router-port": rtos},
			// Multicast relayed by ovn_cluster_router enters and leaves
			// through here.
		}, Parents: append(onSwitch, topology.ClusterPortGroupRef(topology.ClusterRouterPortGroup))},
		{ID: mgmtPort, Model: &nbdb.LogicalSwitchPort{
			Name:      mgmtPort,
			Addresses: []string{topology.AddressLine(topology.MACFromIP(topology.PreferIPv4(mgmtIPs)), mgmtIPs)},
		}, Parents: onSwitch},
	}
	// The node itself (kubelet's health checks) reaches its pods through
	// the management port whatever their network policies say: one
	// allow-related ACL on the switch, above the policies' default deny.
	for _, ip := range mgmtIPs {
		l3 := "ip4"
		if ip.Is6() {
			l3 = "ip6"
		}
		rows = append(rows, reconcile.Row{ID: "mgmt-allow-" + ip.String(), Model: &nbdb.ACL{
			Direction: nbdb.ACLDirectionToLport, Priority: managementPortACLPriority, Action: nbdb.ACLActionAllowRelated,
			Match:       fmt.Sprintf("%s.src == %s", l3, ip),
			ExternalIDs: map[string]string{"k8s.ovn.org/name": in.Name + " management port"},
		}, Parents: onSwitch})
	}
	if in.ChassisID != "" {
		name := topology.GatewayChassisName(rtos, in.ChassisID)
		rows = append(rows, reconcile.Row{ID: name, Model: &nbdb.GatewayChassis{
			Name:        name,
			ChassisName: in.ChassisID,
			Priority:    1,
		}, Parents: []reconcile.Ref{topology.NodeRouterPortRef(in.Name)}})
	}
	return rows, nil
}
