// Package explain answers "what did ovnkube make of this object, and what is
// missing": for a pod, node, service or policy it lists the NB rows that
// carry the object's owner tags, and for pods and nodes the topology around
// them (switch, router ports, routers), their SB bindings and chassis, and
// every step not programmed yet, as a sentence. It also builds and reads
// ovn-trace runs between pods.
//
// The package is split like a feature: the pure part (Plan: what to read;
// Explain: the report from the objects and rows read; Microflow and
// ParseTrace for ovn-trace) is table-tested, and Sources does the reading,
// with select transactions only: explain never writes.
package explain

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ovnkube/ovnkube/pkg/controller/multicast"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Report is what `ovnkube explain KIND NAME` prints; `-o json` prints it
// as is, so its fields and tags are a stable interface for scripts.
type Report struct {
	Kind string `json:"kind"` // the owner type: Pod, Node, Service, ...
	Name string `json:"name"` // the owner name: "namespace/name" or "node"
	// Exists says whether the Kubernetes object exists; absent for kinds
	// that have no object of their own (Cluster, AddressSet, ...).
	Exists *bool `json:"exists,omitempty"`
	// Annotations are the object's k8s.ovn.org/ annotations.
	Annotations map[string]string `json:"annotations,omitempty"`
	Pod         *PodInfo          `json:"pod,omitempty"`
	Node        *NodeInfo         `json:"node,omitempty"`
	// Rows are the NB rows stamped with the owner's tags, by table.
	Rows []TableRows `json:"rows"`
	// Missing says, one sentence each, what is not programmed (yet) and
	// why; empty when everything is in place.
	Missing []string `json:"missing"`
}

// TableRows are the rows of one NB table, sorted by name.
type TableRows struct {
	Table string `json:"table"`
	Rows  []Row  `json:"rows"`
}

// Row is one NB row: its name (the name column, or the local id the
// reconciler gave it), uuid, and a one-line summary of its content.
type Row struct {
	Name    string `json:"name"`
	UUID    string `json:"uuid"`
	Summary string `json:"summary,omitempty"`
}

// PodInfo is a pod's allocation and where it is realized.
type PodInfo struct {
	Phase       string `json:"phase"`
	NodeName    string `json:"nodeName,omitempty"`
	HostNetwork bool   `json:"hostNetwork,omitempty"`
	// IPs, MAC and Gateways are the allocation of k8s.ovn.org/pod-networks.
	IPs      []string `json:"ips,omitempty"`
	MAC      string   `json:"mac,omitempty"`
	Gateways []string `json:"gateways,omitempty"`
	// NodeSubnets are the node's k8s.ovn.org/node-subnets.
	NodeSubnets []string `json:"nodeSubnets,omitempty"`
	Port        *Port    `json:"port,omitempty"`
	// Path is the way out of the pod's switch: node switch, its router
	// port, ovn_cluster_router, join, and the node's gateway router.
	Path    []Hop    `json:"path,omitempty"`
	Binding *Binding `json:"binding,omitempty"`
}

// Port is a logical switch port.
type Port struct {
	Name             string   `json:"name"`
	Switch           string   `json:"switch,omitempty"`
	Addresses        []string `json:"addresses"`
	PortSecurity     []string `json:"portSecurity"`
	RequestedChassis string   `json:"requestedChassis,omitempty"`
	// Up is the port's up column: ovn-controller has bound it on a chassis.
	Up bool `json:"up"`
}

// Binding is a port's SB Port_Binding and the chassis that claimed it.
type Binding struct {
	LogicalPort string `json:"logicalPort"`
	Chassis     string `json:"chassis,omitempty"` // the chassis name (the node's chassis id)
	Hostname    string `json:"hostname,omitempty"`
	Up          bool   `json:"up"`
}

// Hop is one row of a topology path, by table and name.
type Hop struct {
	Table  string `json:"table"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Found  bool   `json:"found"`
	Detail string `json:"detail,omitempty"`
}

// NodeInfo is a node's allocation, its rows and its chassis.
type NodeInfo struct {
	Subnets   []string `json:"subnets,omitempty"`
	ChassisID string   `json:"chassisID,omitempty"`
	// Topology is the node's switch, router port, management port,
	// gateway chassis and gateway router.
	Topology       []Hop    `json:"topology,omitempty"`
	ManagementPort *Binding `json:"managementPort,omitempty"`
	Chassis        *Chassis `json:"chassis,omitempty"`
}

// Chassis is an SB Chassis.
type Chassis struct {
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
}

// Kind is a kind of object explain knows: the owner type whose rows it
// finds, the names it answers to on the command line, and how its name
// reads.
type Kind struct {
	OwnerType string
	Aliases   []string
	// Namespaced kinds are named "namespace/name"; a bare name means the
	// default namespace.
	Namespaced bool
	// Object says a Kubernetes object of the owner's name justifies the
	// rows; the others (Cluster, the shared rows) are owners only.
	Object bool
}

// Kinds lists what explain can explain, in the order help shows them.
var Kinds = []Kind{
	{OwnerType: topology.OwnerTypePod, Aliases: []string{"pod", "pods", "po"}, Namespaced: true, Object: true},
	{OwnerType: topology.OwnerTypeNode, Aliases: []string{"node", "nodes", "no"}, Object: true},
	{OwnerType: topology.OwnerTypeService, Aliases: []string{"service", "services", "svc"}, Namespaced: true, Object: true},
	{OwnerType: networkpolicy.OwnerTypePolicy, Aliases: []string{"networkpolicy", "networkpolicies", "netpol"}, Namespaced: true, Object: true},
	{OwnerType: topology.OwnerTypeCluster, Aliases: []string{"cluster"}},
	{OwnerType: networkpolicy.OwnerTypeDefaultDeny, Aliases: []string{"defaultdeny"}},
	{OwnerType: networkpolicy.OwnerTypeAddressSet, Aliases: []string{"addressset"}},
	{OwnerType: multicast.OwnerType, Aliases: []string{"multicast"}},
}

func kindOf(ownerType string) Kind {
	for _, k := range Kinds {
		if k.OwnerType == ownerType {
			return k
		}
	}
	return Kind{OwnerType: ownerType}
}

// ParseOwner turns the command line's KIND and NAME into the owner whose
// rows to find: "pod web" is Pod/default/web, "cluster" is Cluster/default.
func ParseOwner(kind, name string) (reconcile.Owner, error) {
	var k *Kind
	for i := range Kinds {
		if strings.EqualFold(kind, Kinds[i].OwnerType) || slices.Contains(Kinds[i].Aliases, strings.ToLower(kind)) {
			k = &Kinds[i]
			break
		}
	}
	if k == nil {
		var names []string
		for _, k := range Kinds {
			names = append(names, k.Aliases[0])
		}
		return reconcile.Owner{}, fmt.Errorf("unknown kind %q: want one of %s", kind, strings.Join(names, ", "))
	}
	if name == "" && k.OwnerType == topology.OwnerTypeCluster {
		name = topology.ClusterOwner.Name
	}
	if name == "" {
		return reconcile.Owner{}, fmt.Errorf("%s needs a name", k.Aliases[0])
	}
	if k.Namespaced {
		ns, n, ok := strings.Cut(name, "/")
		if !ok {
			ns, n = "default", name
		}
		if ns == "" || n == "" || strings.Contains(n, "/") {
			return reconcile.Owner{}, fmt.Errorf("%s name %q: want NAMESPACE/NAME", k.Aliases[0], name)
		}
		name = ns + "/" + n
	} else if k.Object && strings.Contains(name, "/") {
		return reconcile.Owner{}, fmt.Errorf("%s name %q: a %s has no namespace", k.Aliases[0], name, k.Aliases[0])
	}
	return reconcile.Owner{Type: k.OwnerType, Name: name}, nil
}

// splitKey splits "namespace/name".
func splitKey(key string) (namespace, name string) {
	ns, n, ok := strings.Cut(key, "/")
	if !ok {
		return "", key
	}
	return ns, n
}

// ovnAnnotations keeps the k8s.ovn.org/ annotations.
func ovnAnnotations(all map[string]string) map[string]string {
	var out map[string]string
	for k, v := range all {
		if strings.HasPrefix(k, reconcile.OwnedKeyPrefix) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}
