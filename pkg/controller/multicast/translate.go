// Package multicast programs per-namespace IP multicast: denied for every
// pod (priority 1011) except those of namespaces annotated
// k8s.ovn.org/multicast-enabled=true (1012), which send to and receive from
// the groups their namespace's pods use. Both priorities sit above every
// NetworkPolicy ACL (1000, 1001): as the platform documents, multicast is
// not subject to NetworkPolicy. This file is the pure translation; the
// owner wiring is in owner.go.
package multicast

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// ACL priorities (OVN-Kubernetes values).
const (
	DenyPriority  = 1011
	AllowPriority = 1012
)

// ipv6Dynamic matches IPv6 multicast to a transient group (ff1x::, ff3x::):
// the groups applications join; the permanent ones (ff02::1:ffXX:XXXX of
// neighbour discovery, ff02::2 ...) stay untouched.
const ipv6Dynamic = "(ip6.dst[120..127] == 0xff && ip6.dst[116] == 1)"

// anyMulticast is every multicast packet of both families, IGMP and MLD
// included.
const anyMulticast = "(ip4.mcast || mldv1 || mldv2 || " + ipv6Dynamic + ")"

// stage places from-lport ACLs where the policies' egress ACLs are, after
// load balancing: OVN evaluates that stage on its own, so an allow before
// it would not outrank a default deny inside it.
func stage(direction string) map[string]string {
	if direction == nbdb.ACLDirectionFromLport {
		return map[string]string{"apply-after-lb": "true"}
	}
	return nil
}

// ClusterRows are the cluster-wide multicast ACLs: multicast dropped in
// both directions on every pod's switch (the ACLs hang off
// clusterPortGroup, which every pod joins), and allowed through the node
// switches' router ports (clusterRtrPortGroup) so ovn_cluster_router can
// relay a group between nodes. The port groups themselves are Cluster rows.
func ClusterRows(owner reconcile.Owner) []reconcile.Row {
	onPods := []reconcile.Ref{{Owner: owner, Table: nbdb.PortGroupTable, ID: topology.ClusterPortGroup, Column: "acls"}}
	onRouters := []reconcile.Ref{{Owner: owner, Table: nbdb.PortGroupTable, ID: topology.ClusterRouterPortGroup, Column: "acls"}}
	acl := func(name, dir, action, match string, prio int) *nbdb.ACL {
		return &nbdb.ACL{Name: &name, Direction: dir, Action: action, Priority: prio, Match: match,
			Options: stage(dir), ExternalIDs: map[string]string{"k8s.ovn.org/name": "multicast"}}
	}
	pg := "@" + topology.ClusterRouterPortGroup
	return []reconcile.Row{
		{ID: "multicastDefaultDenyEgress", Parents: onPods,
			Model: acl("multicastDefaultDenyEgress", nbdb.ACLDirectionFromLport, nbdb.ACLActionDrop, anyMulticast, DenyPriority)},
		{ID: "multicastDefaultDenyIngress", Parents: onPods,
			Model: acl("multicastDefaultDenyIngress", nbdb.ACLDirectionToLport, nbdb.ACLActionDrop, anyMulticast, DenyPriority)},
		{ID: "multicastAllowInterNodeEgress", Parents: onRouters,
			Model: acl("multicastAllowInterNodeEgress", nbdb.ACLDirectionFromLport, nbdb.ACLActionAllow, "inport == "+pg+" && "+anyMulticast, AllowPriority)},
		{ID: "multicastAllowInterNodeIngress", Parents: onRouters,
			Model: acl("multicastAllowInterNodeIngress", nbdb.ACLDirectionToLport, nbdb.ACLActionAllow, "outport == "+pg+" && "+anyMulticast, AllowPriority)},
	}
}

// PortGroupName is an enabled namespace's port group: all its pods.
// Policy port groups are <namespace>_<policy> with a lower-case policy
// name, so the capital letter keeps the two apart.
func PortGroupName(namespace string) string {
	return networkpolicy.SafeName(namespace + "_multicastAllow")
}

// NamespacePeer is the selection of all of a namespace's pods: the same
// key as a policy peer `podSelector: {}`, so the two share one address set.
func NamespacePeer(namespace string) networkpolicy.PeerKey {
	return networkpolicy.PeerKey{Namespace: namespace, PodSelector: &metav1.LabelSelector{}}
}

// NamespaceRows are an enabled namespace's rows: its port group (whose
// ports the pods' own rows link in) with an egress ACL letting its pods
// send multicast (and join groups) and an ingress ACL letting them receive
// what their namespace's pods send, plus IGMP/MLD queries. The address set
// of the namespace's pods is the shared NamespacePeer set.
func NamespaceRows(owner reconcile.Owner, namespace string, ipv4, ipv6 bool) ([]reconcile.Row, error) {
	if !ipv4 && !ipv6 {
		return nil, fmt.Errorf("multicast for namespace %s: the cluster has no IP family", namespace)
	}
	pg := PortGroupName(namespace)
	key := NamespacePeer(namespace).String()
	var egress, ingress []string
	if ipv4 {
		egress = append(egress, "ip4.mcast")
		ingress = append(ingress, "igmp", fmt.Sprintf("(ip4.src == $%s && ip4.mcast)", networkpolicy.AddressSetName(key, false)))
	}
	if ipv6 {
		egress = append(egress, "mldv1", "mldv2", ipv6Dynamic)
		ingress = append(ingress, "mldv1", "mldv2", fmt.Sprintf("(ip6.src == $%s && %s)", networkpolicy.AddressSetName(key, true), ipv6Dynamic))
	}
	onPG := []reconcile.Ref{{Owner: owner, Table: nbdb.PortGroupTable, ID: pg, Column: "acls"}}
	ids := map[string]string{"k8s.ovn.org/name": namespace}
	egressName := networkpolicy.SafeName(namespace + "_multicastAllowEgress")
	ingressName := networkpolicy.SafeName(namespace + "_multicastAllowIngress")
	return []reconcile.Row{
		{ID: pg, Model: &nbdb.PortGroup{Name: pg, ExternalIDs: ids}},
		{ID: egressName, Parents: onPG, Model: &nbdb.ACL{
			Name: &egressName, Direction: nbdb.ACLDirectionFromLport, Action: nbdb.ACLActionAllow, Priority: AllowPriority,
			Options: stage(nbdb.ACLDirectionFromLport),
			Match:   fmt.Sprintf("inport == @%s && (%s)", pg, strings.Join(egress, " || ")), ExternalIDs: ids,
		}},
		{ID: ingressName, Parents: onPG, Model: &nbdb.ACL{
			Name: &ingressName, Direction: nbdb.ACLDirectionToLport, Action: nbdb.ACLActionAllow, Priority: AllowPriority,
			Match: fmt.Sprintf("outport == @%s && (%s)", pg, strings.Join(ingress, " || ")), ExternalIDs: ids,
		}},
	}, nil
}
