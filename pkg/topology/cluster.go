package topology

import (
	"fmt"
	"net/netip"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// Table names the reconciler manages for the topology.
var Tables = []string{
	nbdb.LogicalRouterTable, nbdb.LogicalRouterPortTable, nbdb.LogicalSwitchTable,
	nbdb.LogicalSwitchPortTable, nbdb.GatewayChassisTable,
}

// ClusterInput is what the cluster-wide rows depend on.
type ClusterInput struct {
	JoinSubnets []netip.Prefix // one per family
}

// ClusterRows returns the Cluster owner's rows: ovn_cluster_router and the
// join switch linked to it by rtoj-/jtor-ovn_cluster_router at the join
// subnets' first addresses.
func ClusterRows(in ClusterInput) ([]reconcile.Row, error) {
	if len(in.JoinSubnets) == 0 {
		return nil, fmt.Errorf("no join subnet configured")
	}
	var ips []netip.Addr
	var networks []string
	for _, s := range in.JoinSubnets {
		ip, err := NthAddr(s, 1)
		if err != nil {
			return nil, fmt.Errorf("join subnet: %w", err)
		}
		ips = append(ips, ip)
		networks = append(networks, withPrefix(ip, s))
	}
	rtoj := RouterToJoinPort(ClusterRouter)
	jtor := JoinToRouterPort(ClusterRouter)
	owner := reconcile.ClusterOwner
	return []reconcile.Row{
		{ID: ClusterRouter, Model: &nbdb.LogicalRouter{
			Name:        ClusterRouter,
			ExternalIDs: map[string]string{"k8s-cluster-router": "yes"},
		}},
		{ID: JoinSwitch, Model: &nbdb.LogicalSwitch{Name: JoinSwitch}},
		{ID: rtoj, Model: &nbdb.LogicalRouterPort{
			Name:     rtoj,
			MAC:      MACFromIP(PreferIPv4(ips)).String(),
			Networks: networks,
		}, Parent: &reconcile.Ref{Owner: owner, Table: nbdb.LogicalRouterTable, ID: ClusterRouter}},
		{ID: jtor, Model: &nbdb.LogicalSwitchPort{
			Name:      jtor,
			Type:      "router",
			Addresses: []string{"router"},
			Options:   map[string]string{"router-port": rtoj},
		}, Parent: &reconcile.Ref{Owner: owner, Table: nbdb.LogicalSwitchTable, ID: JoinSwitch}},
	}, nil
}

// ClusterRouterRef points at ovn_cluster_router, the parent of every node's
// rtos- port.
var ClusterRouterRef = reconcile.Ref{Owner: reconcile.ClusterOwner, Table: nbdb.LogicalRouterTable, ID: ClusterRouter}
