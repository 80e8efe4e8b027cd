package cluster

import (
	"fmt"
	"net/netip"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/multicast"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Input is what the cluster-wide rows depend on.
type Input struct {
	JoinSubnets []netip.Prefix // one per family
	// ACLLoggingRate is the acl-logging meter's rate, log lines per second
	// (--acl-logging-rate-limit); 0 writes no meter.
	ACLLoggingRate int
}

// ACLLoggingMeter is the meter every logging ACL names (upstream's name).
const ACLLoggingMeter = "acl-logging"

// Rows returns the Cluster owner's rows: ovn_cluster_router and the join
// switch linked to it by rtoj-/jtor-ovn_cluster_router at the join subnets'
// first addresses, the three load-balancer groups that node switches
// and gateway routers reference, and the cluster-wide port groups of all
// pods and all node router ports with the multicast default ACLs.
func Rows(in Input) ([]reconcile.Row, error) {
	if len(in.JoinSubnets) == 0 {
		return nil, fmt.Errorf("no join subnet configured")
	}
	var ips []netip.Addr
	var networks []string
	for _, s := range in.JoinSubnets {
		ip, err := topology.NthAddr(s, 1)
		if err != nil {
			return nil, fmt.Errorf("join subnet: %w", err)
		}
		ips = append(ips, ip)
		networks = append(networks, topology.WithPrefix(ip, s))
	}
	router, join := topology.ClusterRouter, topology.JoinSwitch
	rtoj := topology.RouterToJoinPort(router)
	jtor := topology.JoinToRouterPort(router)
	rows := []reconcile.Row{
		{ID: router, Model: &nbdb.LogicalRouter{
			Name:        router,
			ExternalIDs: map[string]string{"k8s-cluster-router": "yes"},
			// Multicast of enabled namespaces is routed between the node
			// switches whose pods joined the group.
			Options: map[string]string{"mcast_relay": "true"},
		}},
		{ID: join, Model: &nbdb.LogicalSwitch{Name: join}},
		{ID: rtoj, Model: &nbdb.LogicalRouterPort{
			Name:     rtoj,
			MAC:      topology.MACFromIP(topology.PreferIPv4(ips)).String(),
			Networks: networks,
		}, Parents: []reconcile.Ref{topology.ClusterRouterRef}},
		{ID: jtor, Model: &nbdb.LogicalSwitchPort{
			Name:      jtor,
			Type:      "router",
			Addresses: []string{"router"},
			Options:   map[string]string{"router-port": rtoj},
		}, Parents: []reconcile.Ref{topology.JoinSwitchRef}},
		{ID: topology.ClusterLBGroup, Model: &nbdb.LoadBalancerGroup{Name: topology.ClusterLBGroup}},
		{ID: topology.ClusterSwitchLBGroup, Model: &nbdb.LoadBalancerGroup{Name: topology.ClusterSwitchLBGroup}},
		{ID: topology.ClusterRouterLBGroup, Model: &nbdb.LoadBalancerGroup{Name: topology.ClusterRouterLBGroup}},
		{ID: topology.ClusterPortGroup, Model: &nbdb.PortGroup{Name: topology.ClusterPortGroup}},
		{ID: topology.ClusterRouterPortGroup, Model: &nbdb.PortGroup{Name: topology.ClusterRouterPortGroup}},
	}
	rows = append(rows, multicast.ClusterRows(topology.ClusterOwner)...)
	if in.ACLLoggingRate > 0 {
		// ovn-controller rate-limits the log lines of ACLs naming the meter.
		fair := true
		rows = append(rows,
			reconcile.Row{ID: ACLLoggingMeter, Model: &nbdb.Meter{Name: ACLLoggingMeter, Unit: nbdb.MeterUnitPktps, Fair: &fair}},
			reconcile.Row{ID: ACLLoggingMeter + "-band", Model: &nbdb.MeterBand{Action: nbdb.MeterBandActionDrop, Rate: in.ACLLoggingRate},
				Parents: []reconcile.Ref{{Owner: topology.ClusterOwner, Table: nbdb.MeterTable, ID: ACLLoggingMeter, Column: "bands"}}})
	}
	return rows, nil
}
