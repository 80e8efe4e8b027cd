// Package networkpolicy programs Kubernetes NetworkPolicies as OVN port
// groups, ACLs and shared address sets. This file is the pure translation;
// the owner wiring (informers, selector index, shared owners) is apart.
package networkpolicy

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// ACL priorities (OVN-Kubernetes values).
const (
	AllowPriority       = 1001 // a policy's rules, and ARP/ND in isolated namespaces
	DefaultDenyPriority = 1000 // what no rule of an isolating policy allows
)

// Logging is a namespace's k8s.ovn.org/acl-logging: the severity of the
// log lines of its denied and allowed connections ("" for none).
type Logging struct {
	Deny, Allow string
}

// MeterName is the meter that rate-limits ACL log lines.
const MeterName = "acl-logging"

// Pod is what a pod contributes to a policy: its addresses and its named
// container ports (for rules that name ports).
type Pod struct {
	IPs   []netip.Addr
	Ports []corev1.ContainerPort
}

// Input is what a policy's rows depend on.
type Input struct {
	// Owner is the policy's owner, which also owns the port group its
	// ACLs hang off.
	Owner  reconcile.Owner
	Policy *networkingv1.NetworkPolicy
	// IPv4 and IPv6 are the cluster's families.
	IPv4, IPv6 bool
	// Selected are the pods the policy selects: the destinations of its
	// ingress rules, whose named ports those rules resolve.
	Selected []Pod
	// Peers returns the pods a peer selects: the destinations of an egress
	// rule, whose named ports it resolves. Optional without named egress
	// ports.
	Peers   func(PeerKey) []Pod
	Logging Logging
}

// Output is a policy's translation.
type Output struct {
	Rows []reconcile.Row
	// PeerKeys are the shared address sets the ACLs name.
	PeerKeys []PeerKey
	// Ingress and Egress tell which directions the policy isolates its
	// pods in: they join their namespace's default-deny port groups.
	Ingress, Egress bool
}

// Rows translates a policy into its port group (whose ports the selected
// pods' own rows link in, so a new pod is covered in the transaction that
// creates its port) and one allow-related ACL per rule on it. An error is
// a *reconcile.InvalidError: the policy is applied all or nothing.
func Rows(in Input) (Output, error) {
	p := in.Policy
	if _, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector); err != nil {
		return Output{}, reconcile.Invalid("bad-pod-selector", fmt.Errorf("podSelector: %w", err))
	}
	out := Output{}
	out.Ingress, out.Egress = Directions(p)
	pg := PortGroupName(p.Namespace, p.Name)
	out.Rows = append(out.Rows, reconcile.Row{ID: pg, Model: &nbdb.PortGroup{
		Name: pg, ExternalIDs: map[string]string{"k8s.ovn.org/name": p.Namespace + "/" + p.Name},
	}})
	peerKeys := map[string]PeerKey{}
	type rule struct {
		peers []networkingv1.NetworkPolicyPeer
		ports []networkingv1.NetworkPolicyPort
	}
	for _, egress := range []bool{false, true} {
		if (!egress && !out.Ingress) || (egress && !out.Egress) {
			continue
		}
		var rules []rule
		if egress {
			for _, r := range p.Spec.Egress {
				rules = append(rules, rule{r.To, r.Ports})
			}
		} else {
			for _, r := range p.Spec.Ingress {
				rules = append(rules, rule{r.From, r.Ports})
			}
		}
		for i, r := range rules {
			b := matchBuilder{in: &in, egress: egress, pg: pg}
			peers, keys, err := b.peers(r.peers)
			if err != nil {
				return Output{}, err
			}
			ports, err := b.ports(r.ports, keys)
			if err != nil {
				return Output{}, err
			}
			for _, k := range keys {
				peerKeys[k.String()] = k
			}
			if (len(r.peers) > 0 && len(peers) == 0) || (len(r.ports) > 0 && len(ports) == 0) {
				continue // the rule allows nothing (e.g. a named port no pod has)
			}
			out.Rows = append(out.Rows, b.acl(ACLName(p.Namespace, p.Name, egress, i), peers, ports))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(peerKeys)) {
		out.PeerKeys = append(out.PeerKeys, peerKeys[k])
	}
	return out, nil
}

// Directions tells which directions a policy isolates its pods in: its
// policyTypes or, without them, ingress always and egress when it has
// egress rules.
func Directions(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

// matchBuilder renders the ACL matches of one direction of a policy.
type matchBuilder struct {
	in     *Input
	egress bool
	pg     string
}

// peerAddr is the field a peer restricts: the source of ingress, the
// destination of egress.
func (b matchBuilder) peerAddr(ipv6 bool) string {
	f := "ip4"
	if ipv6 {
		f = "ip6"
	}
	if b.egress {
		return f + ".dst"
	}
	return f + ".src"
}

// families are the cluster's families, IPv4 first.
func (b matchBuilder) families() []bool {
	var out []bool
	if b.in.IPv4 {
		out = append(out, false)
	}
	if b.in.IPv6 {
		out = append(out, true)
	}
	return out
}

// peers returns one condition per peer (ORed by the caller) and the keys
// of the address sets they name.
func (b matchBuilder) peers(peers []networkingv1.NetworkPolicyPeer) ([]string, []PeerKey, error) {
	var conds []string
	var keys []PeerKey
	for _, peer := range peers {
		if peer.IPBlock != nil {
			cond, ok, err := b.ipBlock(peer.IPBlock)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				conds = append(conds, cond)
			}
			continue
		}
		key := PeerKey{PodSelector: normalize(peer.PodSelector), NamespaceSelector: normalize(peer.NamespaceSelector)}
		if peer.NamespaceSelector == nil {
			key.Namespace = b.in.Policy.Namespace
		}
		for _, s := range []*metav1.LabelSelector{peer.PodSelector, peer.NamespaceSelector} {
			if s == nil {
				continue
			}
			if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
				return nil, nil, reconcile.Invalid("bad-peer-selector", fmt.Errorf("peer selector: %w", err))
			}
		}
		keys = append(keys, key)
		var fam []string
		for _, v6 := range b.families() {
			fam = append(fam, fmt.Sprintf("%s == $%s", b.peerAddr(v6), AddressSetName(key.String(), v6)))
		}
		conds = append(conds, strings.Join(fam, " || "))
	}
	return conds, keys, nil
}

// ipBlock renders "addr == CIDR && addr != {except...}"; ok is false for a
// block of a family the cluster does not have.
func (b matchBuilder) ipBlock(blk *networkingv1.IPBlock) (string, bool, error) {
	cidr, err := netip.ParsePrefix(blk.CIDR)
	if err != nil {
		return "", false, reconcile.Invalid("bad-ipblock-cidr", fmt.Errorf("ipBlock cidr %q: %w", blk.CIDR, err))
	}
	cidr = cidr.Masked()
	var except []string
	for _, e := range blk.Except {
		ex, err := netip.ParsePrefix(e)
		if err != nil {
			return "", false, reconcile.Invalid("bad-ipblock-except", fmt.Errorf("ipBlock except %q: %w", e, err))
		}
		if ex.Addr().Is6() != cidr.Addr().Is6() || !cidr.Contains(ex.Addr()) || ex.Bits() < cidr.Bits() {
			return "", false, reconcile.Invalid("ipblock-except-outside-cidr", fmt.Errorf("ipBlock except %s is not inside cidr %s", e, cidr))
		}
		except = append(except, ex.Masked().String())
	}
	v6 := cidr.Addr().Is6()
	if (v6 && !b.in.IPv6) || (!v6 && !b.in.IPv4) {
		return "", false, nil
	}
	cond := fmt.Sprintf("%s == %s", b.peerAddr(v6), cidr)
	if len(except) > 0 {
		cond = fmt.Sprintf("(%s && %s != {%s})", cond, b.peerAddr(v6), strings.Join(except, ", "))
	}
	return cond, true, nil
}

// ports returns one condition per port (ORed by the caller). A named port
// is resolved over the rule's destinations: the selected pods for ingress,
// the peers' pods for egress; each number it maps to becomes a condition
// restricted to the pods that use that number.
func (b matchBuilder) ports(ports []networkingv1.NetworkPolicyPort, peers []PeerKey) ([]string, error) {
	var conds []string
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		l4, ok := map[corev1.Protocol]string{corev1.ProtocolTCP: "tcp", corev1.ProtocolUDP: "udp", corev1.ProtocolSCTP: "sctp"}[proto]
		if !ok {
			return nil, reconcile.Invalid("bad-port-protocol", fmt.Errorf("port protocol %q", proto))
		}
		switch {
		case p.Port == nil:
			conds = append(conds, l4)
		case p.Port.Type == intstr.String:
			if p.EndPort != nil {
				return nil, reconcile.Invalid("bad-port", fmt.Errorf("endPort %d with named port %q", *p.EndPort, p.Port.StrVal))
			}
			conds = append(conds, b.namedPort(l4, proto, p.Port.StrVal, peers)...)
		default:
			n := p.Port.IntVal
			if n < 1 || n > 65535 {
				return nil, reconcile.Invalid("bad-port", fmt.Errorf("port %d", n))
			}
			if p.EndPort == nil {
				conds = append(conds, fmt.Sprintf("%s && %s.dst == %d", l4, l4, n))
				continue
			}
			if *p.EndPort < n || *p.EndPort > 65535 {
				return nil, reconcile.Invalid("bad-port", fmt.Errorf("endPort %d before port %d", *p.EndPort, n))
			}
			conds = append(conds, fmt.Sprintf("%s && %s.dst >= %d && %s.dst <= %d", l4, l4, n, l4, *p.EndPort))
		}
	}
	return conds, nil
}

// namedPort resolves a port name over the rule's destination pods.
func (b matchBuilder) namedPort(l4 string, proto corev1.Protocol, name string, peers []PeerKey) []string {
	var pods []Pod
	if b.egress {
		if b.in.Peers == nil || len(peers) == 0 {
			return nil // ipBlock destinations have no named ports
		}
		for _, k := range peers {
			pods = append(pods, b.in.Peers(k)...)
		}
	} else {
		pods = b.in.Selected
	}
	byNumber := map[int32][]netip.Addr{}
	for _, pod := range pods {
		for _, cp := range pod.Ports {
			if cp.Name == name && cmp.Or(cp.Protocol, corev1.ProtocolTCP) == proto {
				byNumber[cp.ContainerPort] = append(byNumber[cp.ContainerPort], pod.IPs...)
			}
		}
	}
	var conds []string
	for _, n := range slices.Sorted(maps.Keys(byNumber)) {
		ips := byNumber[n]
		slices.SortFunc(ips, func(a, b netip.Addr) int { return a.Compare(b) })
		ips = slices.Compact(ips)
		var fam []string
		for _, v6 := range b.families() {
			var set []string
			for _, ip := range ips {
				if ip.Is6() == v6 {
					set = append(set, ip.String())
				}
			}
			if len(set) > 0 {
				f := "ip4"
				if v6 {
					f = "ip6"
				}
				fam = append(fam, fmt.Sprintf("%s.dst == {%s}", f, strings.Join(set, ", ")))
			}
		}
		if len(fam) == 0 {
			continue
		}
		conds = append(conds, fmt.Sprintf("%s && %s.dst == %d && (%s)", l4, l4, n, strings.Join(fam, " || ")))
	}
	return conds
}

// acl renders one rule's ACL on the policy's port group.
func (b matchBuilder) acl(name string, peers, ports []string) reconcile.Row {
	dir, port := nbdb.ACLDirectionToLport, "outport"
	if b.egress {
		dir, port = nbdb.ACLDirectionFromLport, "inport"
	}
	parts := []string{fmt.Sprintf("%s == @%s", port, b.pg), "ip"}
	if len(peers) > 0 {
		parts = append(parts, anyOf(peers))
	}
	if len(ports) > 0 {
		parts = append(parts, anyOf(ports))
	}
	acl := &nbdb.ACL{
		Name: &name, Action: nbdb.ACLActionAllowRelated, Direction: dir, Priority: AllowPriority,
		Match:       strings.Join(parts, " && "),
		ExternalIDs: map[string]string{"k8s.ovn.org/name": b.in.Policy.Namespace + "/" + b.in.Policy.Name},
	}
	if b.egress {
		// Egress rules see a service's backend, not its cluster IP.
		acl.Options = map[string]string{"apply-after-lb": "true"}
	}
	setLogging(acl, b.in.Logging.Allow)
	return reconcile.Row{ID: name, Model: acl, Parents: []reconcile.Ref{{Owner: b.in.Owner, Table: nbdb.PortGroupTable, ID: b.pg, Column: "acls"}}}
}

// anyOf ORs conditions. OVN refuses a match that mixes && and || without
// parentheses (northd then drops the whole ACL), so each condition is
// parenthesized.
func anyOf(conds []string) string {
	if len(conds) == 1 {
		return "(" + conds[0] + ")"
	}
	return "((" + strings.Join(conds, ") || (") + "))"
}

// setLogging turns logging on at severity ("" off), rate-limited by the
// acl-logging meter.
func setLogging(acl *nbdb.ACL, severity string) {
	if severity == "" {
		return
	}
	sev, meter := severity, MeterName
	acl.Log, acl.Severity, acl.Meter = true, &sev, &meter
}

// DefaultDenyRows are a namespace's default-deny port group of one
// direction: IP traffic dropped at 1000 (what no rule allows), ARP and ND
// allowed at 1001 so isolated pods still resolve their neighbours.
func DefaultDenyRows(owner reconcile.Owner, namespace string, egress bool, logging Logging) []reconcile.Row {
	pg := DefaultDenyPortGroupName(namespace, egress)
	dir, port, dirName := nbdb.ACLDirectionToLport, "outport", "ingress"
	var options map[string]string
	if egress {
		dir, port, dirName = nbdb.ACLDirectionFromLport, "inport", "egress"
		options = map[string]string{"apply-after-lb": "true"}
	}
	onPG := []reconcile.Ref{{Owner: owner, Table: nbdb.PortGroupTable, ID: pg, Column: "acls"}}
	denyName := SafeName(namespace + "_" + dirName + "DefaultDeny")
	arpName := SafeName(namespace + "_" + dirName + "ARPallow")
	deny := &nbdb.ACL{Name: &denyName, Action: nbdb.ACLActionDrop, Direction: dir, Priority: DefaultDenyPriority,
		Match: fmt.Sprintf("%s == @%s && ip", port, pg), Options: options}
	setLogging(deny, logging.Deny)
	arp := &nbdb.ACL{Name: &arpName, Action: nbdb.ACLActionAllow, Direction: dir, Priority: AllowPriority,
		Match: fmt.Sprintf("%s == @%s && (arp || nd)", port, pg), Options: options}
	return []reconcile.Row{
		{ID: pg, Model: &nbdb.PortGroup{Name: pg, ExternalIDs: map[string]string{"k8s.ovn.org/name": namespace}}},
		{ID: denyName, Model: deny, Parents: onPG},
		{ID: arpName, Model: arp, Parents: onPG},
	}
}

// AddressSetRows are the address sets of a peer key, one per cluster
// family, holding its pods' addresses.
func AddressSetRows(key PeerKey, ipv4, ipv6 bool, addrs []netip.Addr) []reconcile.Row {
	var rows []reconcile.Row
	for _, v6 := range []bool{false, true} {
		if (v6 && !ipv6) || (!v6 && !ipv4) {
			continue
		}
		var set []string
		for _, a := range addrs {
			if a.Is6() == v6 {
				set = append(set, a.String())
			}
		}
		slices.Sort(set)
		set = slices.Compact(set)
		name := AddressSetName(key.String(), v6)
		rows = append(rows, reconcile.Row{ID: name, Model: &nbdb.AddressSet{
			Name: name, Addresses: set, ExternalIDs: map[string]string{"k8s.ovn.org/selector": key.String()},
		}})
	}
	return rows
}
