package topology

import (
	"fmt"
	"net/netip"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// NodeInput is what one node's rows depend on: its name, its subnets (one per
// family, from k8s.ovn.org/node-subnets) and, once ovnkube node has reported
// it, its chassis id (k8s.ovn.org/node-chassis-id).
type NodeInput struct {
	Name      string
	Subnets   []netip.Prefix
	ChassisID string
}

// NodeRows returns a node's rows: its switch with the subnet options, the
// rtos-/stor- link to ovn_cluster_router at .1, the management port k8s-<node>
// at .2 and, with a chassis id, the Gateway_Chassis that pins rtos-<node>.
func NodeRows(in NodeInput) ([]reconcile.Row, error) {
	if len(in.Subnets) == 0 {
		return nil, fmt.Errorf("node %s has no subnet", in.Name)
	}
	owner := reconcile.Owner{Type: reconcile.OwnerTypeNode, Name: in.Name}
	sw := NodeSwitch(in.Name)
	otherConfig := map[string]string{}
	var gwIPs, mgmtIPs []netip.Addr
	var networks []string
	for _, s := range in.Subnets {
		gw, err := GatewayIP(s)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", in.Name, err)
		}
		mgmt, err := ManagementIP(s)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", in.Name, err)
		}
		gwIPs = append(gwIPs, gw)
		mgmtIPs = append(mgmtIPs, mgmt)
		networks = append(networks, withPrefix(gw, s))
		if s.Addr().Is4() {
			otherConfig["subnet"] = s.Masked().String()
			// OVN's dynamic addressing must never hand out the management IP.
			otherConfig["exclude_ips"] = mgmt.String()
		} else {
			otherConfig["ipv6_prefix"] = s.Masked().Addr().String()
		}
	}
	rtos, stor, mgmtPort := RouterToSwitchPort(in.Name), SwitchToRouterPort(in.Name), ManagementPort(in.Name)
	switchRef := &reconcile.Ref{Owner: owner, Table: nbdb.LogicalSwitchTable, ID: sw}
	rows := []reconcile.Row{
		{ID: sw, Model: &nbdb.LogicalSwitch{Name: sw, OtherConfig: otherConfig}},
		{ID: rtos, Model: &nbdb.LogicalRouterPort{
			Name:     rtos,
			MAC:      MACFromIP(PreferIPv4(gwIPs)).String(),
			Networks: networks,
		}, Parent: &ClusterRouterRef},
		{ID: stor, Model: &nbdb.LogicalSwitchPort{
			Name:      stor,
			Type:      "router",
			Addresses: []string{"router"},
			Options:   map[string]string{"router-port": rtos},
		}, Parent: switchRef},
		{ID: mgmtPort, Model: &nbdb.LogicalSwitchPort{
			Name:      mgmtPort,
			Addresses: []string{addressLine(MACFromIP(PreferIPv4(mgmtIPs)), mgmtIPs)},
		}, Parent: switchRef},
	}
	if in.ChassisID != "" {
		name := GatewayChassisName(rtos, in.ChassisID)
		rows = append(rows, reconcile.Row{ID: name, Model: &nbdb.GatewayChassis{
			Name:        name,
			ChassisName: in.ChassisID,
			Priority:    1,
		}, Parent: &reconcile.Ref{Owner: owner, Table: nbdb.LogicalRouterPortTable, ID: rtos}})
	}
	return rows, nil
}
