package node

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Event reasons on Nodes.
const (
	ReasonInvalidAnnotation      = "InvalidNodeAnnotation"
	ReasonSubnetAllocationFailed = "SubnetAllocationFailed"
	ReasonSubnetConflict         = "NodeSubnetReallocated"
)

// Cluster is what every node's gateway router routes back to: the cluster
// subnets and ovn_cluster_router's join addresses.
type Cluster struct {
	CIDRs         []netip.Prefix
	RouterJoinIPs []netip.Addr
}

// OwnerType returns the Node owner type: a node's NB rows follow from its name
// and its k8s.ovn.org/node-subnets and node-chassis-id annotations, and, once
// the node agent has published its gateway (k8s.ovn.org/l3-gateway-config)
// and the master its join addresses, its gateway router. release is called
// once a deleted node's rows are gone, to free its subnet and id.
func OwnerType(lister corelisters.NodeLister, recorder record.EventRecorder, cluster Cluster, release func(string)) reconcile.OwnerType {
	return reconcile.OwnerType{
		Name: topology.OwnerTypeNode,
		Tables: []string{nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable,
			nbdb.LogicalRouterPortTable, nbdb.GatewayChassisTable, nbdb.LogicalRouterTable,
			nbdb.LogicalRouterStaticRouteTable, nbdb.LogicalRouterPolicyTable, nbdb.NATTable, nbdb.StaticMACBindingTable, nbdb.ACLTable},
		After: []string{topology.OwnerTypeCluster},
		List: func() ([]string, error) {
			nodes, err := lister.List(everything)
			if err != nil {
				return nil, err
			}
			names := make([]string, len(nodes))
			for i, n := range nodes {
				names[i] = n.Name
			}
			return names, nil
		},
		Desired: func(name string) ([]reconcile.Row, error) {
			node, ok, err := kube.Found(lister.Get(name))
			if err != nil || !ok {
				return nil, err
			}
			return DesiredRows(node, cluster)
		},
		Invalid: func(name string, err *reconcile.InvalidError) {
			if node, gerr := lister.Get(name); gerr == nil {
				recorder.Eventf(node, corev1.EventTypeWarning, ReasonInvalidAnnotation, "%v; the node's OVN topology is left as it was", err)
			}
		},
		Cleared: func(name string) {
			if _, ok, err := kube.Found(lister.Get(name)); err == nil && !ok {
				release(name)
			}
		},
	}
}

// DesiredRows translates a Node, as its annotations stand, into its NB
// rows: the node's own topology and, once its gateway is published, its
// gateway router.
func DesiredRows(node *corev1.Node, cluster Cluster) ([]reconcile.Row, error) {
	in, err := nodeInput(node)
	if err != nil {
		return nil, err
	}
	rows, err := Rows(in)
	if err != nil {
		return nil, reconcile.Invalid("bad-node-subnets", err)
	}
	gw, ok, err := gatewayInput(node, in, cluster)
	if err != nil || !ok {
		return rows, err
	}
	gwRows, err := GatewayRows(gw)
	if err != nil {
		return nil, reconcile.Invalid("bad-l3-gateway-config", err)
	}
	return append(rows, gwRows...), nil
}

// nodeInput reads the translation input from a Node's annotations.
func nodeInput(node *corev1.Node) (Input, error) {
	subnets, present, err := kube.ParseNodeSubnets(node.Annotations)
	if err != nil {
		return Input{}, reconcile.Invalid("bad-node-subnets", err)
	}
	if !present {
		return Input{}, reconcile.Wait("no subnet allocated yet")
	}
	chassis, err := kube.ParseChassisID(node.Annotations)
	if err != nil {
		return Input{}, reconcile.Invalid("bad-chassis-id", err)
	}
	return Input{Name: node.Name, Subnets: subnets, ChassisID: chassis}, nil
}

// gatewayInput reads the gateway router's input; ok is false until the node
// has a chassis, its agent has published l3-gateway-config and the master
// its join addresses (the node's other rows do not wait for them).
func gatewayInput(node *corev1.Node, in Input, cluster Cluster) (GatewayInput, bool, error) {
	l3, present, err := kube.ParseL3GatewayConfig(node.Annotations)
	if err != nil {
		return GatewayInput{}, false, reconcile.Invalid("bad-l3-gateway-config", err)
	}
	join, joinPresent, err := kube.ParseJoinAddrs(node.Annotations)
	if err != nil {
		return GatewayInput{}, false, reconcile.Invalid("bad-join-addresses", err)
	}
	if !present || !joinPresent || in.ChassisID == "" {
		return GatewayInput{}, false, nil
	}
	return GatewayInput{
		Node: node.Name, ChassisID: in.ChassisID, Subnets: in.Subnets, JoinAddrs: join,
		InterfaceID: l3.InterfaceID, MAC: l3.MAC, NodeIPs: l3.IPs, NextHops: l3.NextHops,
		ClusterCIDRs: cluster.CIDRs, ClusterJoinIP: cluster.RouterJoinIPs,
	}, true, nil
}

// topologyChanged reports whether an update can change the node's NB rows.
func topologyChanged(old, cur *corev1.Node) bool {
	for _, k := range []string{kube.NodeSubnetsAnnotation, kube.NodeChassisIDAnnotation,
		kube.L3GatewayConfigAnnotation, kube.NodeGatewayRouterLRPIfAddrsAnnotation} {
		if old.Annotations[k] != cur.Annotations[k] {
			return true
		}
	}
	return false
}
