package topology

import (
	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// Owner types of the default network's topology. Features that link their
// rows into these owners' rows name them through the helpers below, never
// by building a reconcile.Ref by hand.
const (
	OwnerTypeCluster = "Cluster"
	OwnerTypeNode    = "Node"
	OwnerTypePod     = "Pod"
)

// ClusterOwner owns the cluster-wide rows (ovn_cluster_router, join, ...).
var ClusterOwner = reconcile.Owner{Type: OwnerTypeCluster, Name: "default"}

// NodeOwner owns a node's switch and its router, management and gateway ports.
func NodeOwner(node string) reconcile.Owner {
	return reconcile.Owner{Type: OwnerTypeNode, Name: node}
}

// PodOwner owns a pod's port; key is "namespace/name".
func PodOwner(key string) reconcile.Owner {
	return reconcile.Owner{Type: OwnerTypePod, Name: key}
}

// ClusterRouterRef is ovn_cluster_router, the parent of every node's rtos-
// port and of the join port.
var ClusterRouterRef = reconcile.Ref{Owner: ClusterOwner, Table: nbdb.LogicalRouterTable, ID: ClusterRouter}

// JoinSwitchRef is the join switch, the parent of every router's join port.
var JoinSwitchRef = reconcile.Ref{Owner: ClusterOwner, Table: nbdb.LogicalSwitchTable, ID: JoinSwitch}

// NodeSwitchRef is a node's logical switch, the parent of the node's own
// ports and of its pods' ports.
func NodeSwitchRef(node string) reconcile.Ref {
	return reconcile.Ref{Owner: NodeOwner(node), Table: nbdb.LogicalSwitchTable, ID: NodeSwitch(node)}
}

// NodeRouterPortRef is a node's rtos- port, the parent of its Gateway_Chassis.
func NodeRouterPortRef(node string) reconcile.Ref {
	return reconcile.Ref{Owner: NodeOwner(node), Table: nbdb.LogicalRouterPortTable, ID: RouterToSwitchPort(node)}
}

// OwnerTypeService owns a Service's load balancers; its owner name is
// "namespace/name".
const OwnerTypeService = "Service"

// ServiceOwner owns a Service's load balancers; key is "namespace/name".
func ServiceOwner(key string) reconcile.Owner {
	return reconcile.Owner{Type: OwnerTypeService, Name: key}
}

// Load-balancer groups (upstream names): every node switch and gateway
// router references clusterLBGroup, switches also clusterSwitchLBGroup and
// gateway routers clusterRouterLBGroup, so a cluster-wide load balancer is
// one row in one group whatever the node count.
const (
	ClusterLBGroup       = "clusterLBGroup"
	ClusterSwitchLBGroup = "clusterSwitchLBGroup"
	ClusterRouterLBGroup = "clusterRouterLBGroup"
)

// LBGroupRef is one of the cluster's load-balancer groups (a Cluster row).
func LBGroupRef(name string) reconcile.Ref {
	return reconcile.Ref{Owner: ClusterOwner, Table: nbdb.LoadBalancerGroupTable, ID: name}
}

// Cluster-wide port groups (upstream names): every pod's port is in
// clusterPortGroup and every node switch's router port in
// clusterRtrPortGroup, so a cluster-wide ACL is one row whatever the pod
// and node counts.
const (
	ClusterPortGroup       = "clusterPortGroup"
	ClusterRouterPortGroup = "clusterRtrPortGroup"
)

// ClusterPortGroupRef is a cluster-wide port group's ports column, which
// pods (clusterPortGroup) and nodes (clusterRtrPortGroup) link into.
func ClusterPortGroupRef(name string) reconcile.Ref {
	return reconcile.Ref{Owner: ClusterOwner, Table: nbdb.PortGroupTable, ID: name, Column: "ports"}
}
