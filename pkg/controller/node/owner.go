package node

import (
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

// OwnerType returns the Node owner type: a node's NB rows follow from its name
// and its k8s.ovn.org/node-subnets and node-chassis-id annotations. release is
// called once a deleted node's rows are gone, to free its subnet and id.
func OwnerType(lister corelisters.NodeLister, recorder record.EventRecorder, release func(string)) reconcile.OwnerType {
	return reconcile.OwnerType{
		Name: topology.OwnerTypeNode,
		Tables: []string{nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable,
			nbdb.LogicalRouterPortTable, nbdb.GatewayChassisTable},
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
			in, err := nodeInput(node)
			if err != nil {
				return nil, err
			}
			rows, err := Rows(in)
			if err != nil {
				return nil, reconcile.Invalid("bad-node-subnets", err)
			}
			return rows, nil
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

// topologyChanged reports whether an update can change the node's NB rows.
func topologyChanged(old, cur *corev1.Node) bool {
	for _, k := range []string{kube.NodeSubnetsAnnotation, kube.NodeChassisIDAnnotation} {
		if old.Annotations[k] != cur.Annotations[k] {
			return true
		}
	}
	return false
}
