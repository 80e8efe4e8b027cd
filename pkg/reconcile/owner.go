package reconcile

import (
	"fmt"
	"strings"
)

// External-ID keys that mark a row as ours. Every row the reconciler writes
// carries all four, and garbage collection only ever considers rows that carry
// OwnerControllerKey with our controller name.
const (
	OwnerControllerKey = "k8s.ovn.org/owner-controller"
	OwnerTypeKey       = "k8s.ovn.org/owner-type"
	OwnerKey           = "k8s.ovn.org/owner"
	IDKey              = "k8s.ovn.org/id"
	// ParentKey records, on a row that lives in another row's reference set
	// (a router port in a router's ports), which row that is:
	// "<Table>:<parent id>". Deleting a stale row needs its parent, and the
	// desired state that named the parent is gone by then.
	ParentKey = "k8s.ovn.org/parent"

	// DefaultController is the owner-controller value of the default network.
	DefaultController = "default-network-controller"
)

// Owner types known today. Each feature registers one.
const (
	OwnerTypeCluster = "Cluster"
	OwnerTypeNode    = "Node"
)

// ClusterOwner owns the cluster-wide rows (ovn_cluster_router, join, ...).
var ClusterOwner = Owner{Type: OwnerTypeCluster, Name: "default"}

// Owner is the Kubernetes object (or the cluster itself) whose desired state
// produces a set of NB rows. It is also the workqueue key.
type Owner struct {
	Type string // "Node", "Pod", "Cluster", ...
	Name string // the object's key: "node1", "ns/pod"
}

func (o Owner) String() string { return o.Type + "/" + o.Name }

// rowID composes the stable k8s.ovn.org/id of one row of owner:
// "<controller>:<owner type>:<owner>:<local id>". Kubernetes names never
// contain ':', so the first three fields parse back unambiguously even when
// the local id does (an IPv6 route, say).
func rowID(controller string, o Owner, local string) string {
	return controller + ":" + o.Type + ":" + o.Name + ":" + local
}

// parseRowID splits a k8s.ovn.org/id back into its owner and local id.
func parseRowID(id string) (controller string, o Owner, local string, err error) {
	parts := strings.SplitN(id, ":", 4)
	if len(parts) != 4 || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return "", Owner{}, "", fmt.Errorf("malformed %s %q", IDKey, id)
	}
	return parts[0], Owner{Type: parts[1], Name: parts[2]}, parts[3], nil
}
