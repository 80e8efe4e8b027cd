package pod

import (
	"net"
	"net/netip"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// PortName is a pod's logical switch port, "<namespace>_<pod>". Kubernetes
// names contain no '_', so the name is unambiguous.
func PortName(namespace, pod string) string { return namespace + "_" + pod }

// Input is what a pod's port depends on.
type Input struct {
	Namespace, Name string
	UID             string
	Node            string
	MAC             net.HardwareAddr
	IPs             []netip.Prefix
	// Groups are the port groups the port belongs to (network policies
	// selecting the pod, its namespace's default-deny groups): linked in
	// the transaction that creates the port, so a new pod never runs a
	// moment without its policies.
	Groups []reconcile.Ref
}

// Rows returns a pod's logical switch port on its node's switch. addresses
// and port_security are the same "<mac> <ip4> [<ip6>]": OVN answers ARP/ND
// for the pod and drops anything it sends from another address.
// requested-chassis pins the binding to the node's chassis (matched against
// its hostname, the node name) and iface-id-ver to this incarnation of the
// pod, so a stale interface of a previous pod with the same name never binds.
func Rows(in Input) []reconcile.Row {
	name := PortName(in.Namespace, in.Name)
	addrs := make([]netip.Addr, len(in.IPs))
	for i, ip := range in.IPs {
		addrs[i] = ip.Addr()
	}
	line := topology.AddressLine(in.MAC, addrs)
	return []reconcile.Row{{
		ID: name,
		Model: &nbdb.LogicalSwitchPort{
			Name:         name,
			Addresses:    []string{line},
			PortSecurity: []string{line},
			Options: map[string]string{
				"requested-chassis": in.Node,
				"iface-id-ver":      in.UID,
			},
			ExternalIDs: map[string]string{"namespace": in.Namespace, "pod": "true"},
		},
		Parents: append([]reconcile.Ref{topology.NodeSwitchRef(in.Node)}, in.Groups...),
	}}
}
