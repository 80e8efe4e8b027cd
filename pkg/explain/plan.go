package explain

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/ovsdb-models/sbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/pod"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Lookup reads the rows of Table whose Column equals Value.
type Lookup struct {
	Table, Column, Value string
}

// Query is what an explanation reads besides the owner's own rows (which
// are found by their tags in every table): the topology around a pod or a
// node by name in the NB, and their bindings and chassis in the SB.
type Query struct {
	Owner reconcile.Owner
	NB    []Lookup
	SB    []Lookup
}

// hopSpec is one row of a path: what it is called and what it is for.
type hopSpec struct {
	table, name, role string
}

// clusterPath is the way from a node's switch to the join switch, as the
// topology names it.
func clusterPath(node string) []hopSpec {
	return []hopSpec{
		{nbdb.LogicalSwitchTable, topology.NodeSwitch(node), "node switch"},
		{nbdb.LogicalSwitchPortTable, topology.SwitchToRouterPort(node), "node switch port to " + topology.ClusterRouter},
		{nbdb.LogicalRouterPortTable, topology.RouterToSwitchPort(node), topology.ClusterRouter + " port on the node switch, the pods' gateway"},
		{nbdb.LogicalRouterTable, topology.ClusterRouter, "cluster router"},
		{nbdb.LogicalRouterPortTable, topology.RouterToJoinPort(topology.ClusterRouter), topology.ClusterRouter + " port on the join switch"},
		{nbdb.LogicalSwitchTable, topology.JoinSwitch, "join switch"},
	}
}

// gatewayPath continues clusterPath to the node's gateway router (and, for
// the node itself, to its external switch).
func gatewayPath(node string, external bool) []hopSpec {
	gr := topology.GatewayRouter(node)
	hops := []hopSpec{
		{nbdb.LogicalSwitchPortTable, topology.JoinToRouterPort(gr), "join switch port to the gateway router"},
		{nbdb.LogicalRouterPortTable, topology.RouterToJoinPort(gr), "gateway router port on the join switch"},
		{nbdb.LogicalRouterTable, gr, "the node's gateway router"},
	}
	if external {
		hops = append(hops,
			hopSpec{nbdb.LogicalRouterPortTable, topology.RouterToExtPort(gr), "gateway router port on the external switch"},
			hopSpec{nbdb.LogicalSwitchTable, topology.ExternalSwitch(node), "external switch, to br-ex"},
		)
	}
	return hops
}

// nodeHops are a node's own rows: switch, router link, management port and,
// with a chassis, the gateway chassis of its router port.
func nodeHops(node, chassisID string) []hopSpec {
	hops := []hopSpec{
		{nbdb.LogicalSwitchTable, topology.NodeSwitch(node), "node switch"},
		{nbdb.LogicalSwitchPortTable, topology.SwitchToRouterPort(node), "node switch port to " + topology.ClusterRouter},
		{nbdb.LogicalRouterPortTable, topology.RouterToSwitchPort(node), topology.ClusterRouter + " port on the node switch, the pods' gateway"},
		{nbdb.LogicalSwitchPortTable, topology.ManagementPort(node), "management port (ovn-k8s-mp0 on the host)"},
	}
	if chassisID != "" {
		hops = append(hops, hopSpec{nbdb.GatewayChassisTable, topology.GatewayChassisName(topology.RouterToSwitchPort(node), chassisID),
			"pins " + topology.RouterToSwitchPort(node) + " to the node's chassis"})
	}
	return hops
}

// chassisID reads a node's k8s.ovn.org/node-chassis-id ("" when absent or
// invalid).
func chassisID(n *corev1.Node) string {
	if n == nil {
		return ""
	}
	id, err := kube.ParseChassisID(n.Annotations)
	if err != nil {
		return ""
	}
	return id
}

func byName(hops []hopSpec) []Lookup {
	out := make([]Lookup, 0, len(hops))
	for _, h := range hops {
		out = append(out, Lookup{Table: h.table, Column: "name", Value: h.name})
	}
	return out
}

// Plan says what to read for an explanation of owner, given its object and,
// for a pod, its node (both nil when not found).
func Plan(owner reconcile.Owner, obj any, node *corev1.Node) Query {
	q := Query{Owner: owner}
	switch owner.Type {
	case topology.OwnerTypePod:
		ns, name := splitKey(owner.Name)
		port := pod.PortName(ns, name)
		q.NB = append(q.NB, Lookup{nbdb.LogicalSwitchPortTable, "name", port})
		q.SB = append(q.SB, Lookup{sbdb.PortBindingTable, "logical_port", port})
		if p, ok := obj.(*corev1.Pod); ok && p != nil && p.Spec.NodeName != "" {
			q.NB = append(q.NB, byName(clusterPath(p.Spec.NodeName))...)
			q.NB = append(q.NB, byName(gatewayPath(p.Spec.NodeName, false))...)
			if id := chassisID(node); id != "" {
				q.SB = append(q.SB, Lookup{sbdb.ChassisTable, "name", id})
			}
		}
	case topology.OwnerTypeNode:
		id := chassisID(node)
		q.NB = append(q.NB, byName(nodeHops(owner.Name, id))...)
		q.NB = append(q.NB, byName(gatewayPath(owner.Name, true))...)
		q.NB = append(q.NB, Lookup{nbdb.LogicalRouterTable, "name", topology.ClusterRouter})
		q.SB = append(q.SB, Lookup{sbdb.PortBindingTable, "logical_port", topology.ManagementPort(owner.Name)})
		if id != "" {
			q.SB = append(q.SB, Lookup{sbdb.ChassisTable, "name", id})
		}
	}
	return q
}
