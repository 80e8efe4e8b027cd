package networkpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

var owner = reconcile.Owner{Type: "NetworkPolicy", Name: "ns-x/p"}

func policy(mut func(*networkingv1.NetworkPolicySpec)) *networkingv1.NetworkPolicy {
	p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-x", Name: "p"}}
	mut(&p.Spec)
	return p
}

func sel(kv ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.MatchLabels[kv[i]] = kv[i+1]
	}
	return s
}

func port(proto corev1.Protocol, p intstr.IntOrString, end ...int32) networkingv1.NetworkPolicyPort {
	np := networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
	if len(end) > 0 {
		np.EndPort = &end[0]
	}
	return np
}

// as is the address-set reference of a peer key in one family.
func as(k PeerKey, v6 bool) string { return "$" + AddressSetName(k.String(), v6) }

func TestRows(t *testing.T) {
	tcp, udp, sctp := corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP
	client := PeerKey{Namespace: "ns-x", PodSelector: sel("app", "client")}
	monitoring := PeerKey{NamespaceSelector: sel("team", "mon"), PodSelector: sel("app", "prom")}
	anyInMon := PeerKey{NamespaceSelector: sel("team", "mon")}
	pods := []Pod{
		{IPs: []netip.Addr{netip.MustParseAddr("10.244.0.5")}, Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}}},
		{IPs: []netip.Addr{netip.MustParseAddr("10.244.1.7")}, Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9090}}},
	}
	tests := []struct {
		name            string
		spec            func(*networkingv1.NetworkPolicySpec)
		ipv6            bool
		selected        []Pod
		logging         Logging
		acls            map[string]string // name -> match
		keys            []PeerKey
		ingress, egress bool
		reason          string // an invalid policy
	}{{
		name: "deny all ingress: the port group, no rule",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		},
		ingress: true, acls: map[string]string{},
	}, {
		name: "pods of the namespace by label, on one port",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "client")}},
				Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromInt32(80))},
			}}
		},
		ingress: true, keys: []PeerKey{client},
		acls: map[string]string{"ns_x_p_ingress_0": "outport == @ns_x_p && ip && (ip4.src == " + as(client, false) + ") && (tcp && tcp.dst == 80)"},
	}, {
		name: "namespace and pod selector in one peer (AND) or in two peers (OR)",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "mon"), PodSelector: sel("app", "prom")}}},
				{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "mon")}, {PodSelector: sel("app", "client")}}},
			}
		},
		ingress: true, keys: []PeerKey{anyInMon, monitoring, client},
		acls: map[string]string{
			"ns_x_p_ingress_0": "outport == @ns_x_p && ip && (ip4.src == " + as(monitoring, false) + ")",
			"ns_x_p_ingress_1": "outport == @ns_x_p && ip && ((ip4.src == " + as(anyInMon, false) + ") || (ip4.src == " + as(client, false) + "))",
		},
	}, {
		name: "ipBlock with except, port range, UDP and SCTP",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}},
				Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromInt32(8000), 8080), port(udp, intstr.FromInt32(53)), port(sctp, intstr.FromInt32(9))},
			}}
		},
		ingress: true,
		acls: map[string]string{"ns_x_p_ingress_0": "outport == @ns_x_p && ip && ((ip4.src == 10.0.0.0/8 && ip4.src != {10.1.0.0/16})) && " +
			"((tcp && tcp.dst >= 8000 && tcp.dst <= 8080) || (udp && udp.dst == 53) || (sctp && sctp.dst == 9))"},
	}, {
		name: "a named port that maps to different numbers on different pods",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromString("web"))}}}
		},
		selected: pods, ingress: true,
		acls: map[string]string{"ns_x_p_ingress_0": "outport == @ns_x_p && ip && " +
			"((tcp && tcp.dst == 8080 && (ip4.dst == {10.244.0.5})) || (tcp && tcp.dst == 9090 && (ip4.dst == {10.244.1.7})))"},
	}, {
		name: "a named port no pod has: the rule allows nothing",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromString("metrics"))}}}
		},
		selected: pods, ingress: true, acls: map[string]string{},
	}, {
		name: "egress: from the pods, after load balancing; no policyTypes means ingress too",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "client")}}}}
		},
		ingress: true, egress: true, keys: []PeerKey{client},
		acls: map[string]string{"ns_x_p_egress_0": "inport == @ns_x_p && ip && (ip4.dst == " + as(client, false) + ")"},
	}, {
		name: "dual stack: both families' address sets",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "client")}}}}
		},
		ipv6: true, ingress: true, keys: []PeerKey{client},
		acls: map[string]string{"ns_x_p_ingress_0": "outport == @ns_x_p && ip && (ip4.src == " + as(client, false) + " || ip6.src == " + as(client, true) + ")"},
	}, {
		name: "allow-all ingress (one empty rule) with logging",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
		},
		logging: Logging{Allow: "notice", Deny: "alert"}, ingress: true,
		acls: map[string]string{"ns_x_p_ingress_0": "outport == @ns_x_p && ip"},
	}, {
		name: "bad selector", reason: "bad-peer-selector",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Sometimes"}}}}}}}
		},
	}, {
		name: "bad CIDR", reason: "bad-ipblock-cidr",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/33"}}}}}
		},
	}, {
		name: "except outside its CIDR", reason: "ipblock-except-outside-cidr",
		spec: func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.9.0.0/24"}}}}}}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Rows(Input{Owner: owner, Policy: policy(tt.spec), IPv4: true, IPv6: tt.ipv6, Selected: tt.selected, Logging: tt.logging})
			if tt.reason != "" {
				var inv *reconcile.InvalidError
				if !errors.As(err, &inv) || inv.Reason != tt.reason {
					t.Fatalf("err = %v, want invalid %q", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Ingress != tt.ingress || out.Egress != tt.egress {
				t.Errorf("isolates ingress=%v egress=%v, want %v %v", out.Ingress, out.Egress, tt.ingress, tt.egress)
			}
			if pg := out.Rows[0].Model.(*nbdb.PortGroup); pg.Name != "ns_x_p" {
				t.Errorf("port group %q", pg.Name)
			}
			acls := map[string]string{}
			for _, r := range out.Rows[1:] {
				acl := r.Model.(*nbdb.ACL)
				acls[*acl.Name] = acl.Match
				if err := ovnMatchSyntax(acl.Match); err != nil {
					t.Errorf("%s: OVN would refuse %q: %v", *acl.Name, acl.Match, err)
				}
				if acl.Priority != AllowPriority || acl.Action != nbdb.ACLActionAllowRelated {
					t.Errorf("%s: priority %d action %s", *acl.Name, acl.Priority, acl.Action)
				}
				if egress := strings.Contains(*acl.Name, "_egress_"); egress != (acl.Direction == nbdb.ACLDirectionFromLport) || egress != (acl.Options["apply-after-lb"] == "true") {
					t.Errorf("%s: direction %s options %v", *acl.Name, acl.Direction, acl.Options)
				}
				if len(r.Parents) != 1 || r.Parents[0].ID != "ns_x_p" || r.Parents[0].Column != "acls" || r.Parents[0].Owner != owner {
					t.Errorf("%s: parents %+v", *acl.Name, r.Parents)
				}
				if tt.logging.Allow != "" && (!acl.Log || acl.Severity == nil || *acl.Severity != tt.logging.Allow || acl.Meter == nil || *acl.Meter != MeterName) {
					t.Errorf("%s: logging log=%v severity=%v meter=%v", *acl.Name, acl.Log, acl.Severity, acl.Meter)
				}
			}
			if !reflect.DeepEqual(acls, tt.acls) {
				t.Errorf("ACLs:\n got %v\nwant %v", acls, tt.acls)
			}
			var keys []string
			for _, k := range out.PeerKeys {
				keys = append(keys, k.String())
			}
			var want []string
			for _, k := range tt.keys {
				want = append(want, k.String())
			}
			if !slices.Equal(slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(want))) {
				t.Errorf("peer keys %v, want %v", keys, want)
			}
		})
	}
}

// TestPeerKeyNormalized: one selection spelled two ways is one address set.
func TestPeerKeyNormalized(t *testing.T) {
	a := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "b", Operator: metav1.LabelSelectorOpIn, Values: []string{"2", "1"}}, {Key: "a", Operator: metav1.LabelSelectorOpExists}}}
	b := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "a", Operator: metav1.LabelSelectorOpExists}, {Key: "b", Operator: metav1.LabelSelectorOpIn, Values: []string{"1", "2"}}}}
	ka, kb := PeerKey{Namespace: "n", PodSelector: normalize(a)}, PeerKey{Namespace: "n", PodSelector: normalize(b)}
	if ka.String() != kb.String() || AddressSetName(ka.String(), false) != AddressSetName(kb.String(), false) {
		t.Errorf("%s != %s", ka, kb)
	}
}

func TestDefaultDenyAndAddressSets(t *testing.T) {
	ddOwner := reconcile.Owner{Type: "DefaultDeny", Name: "ns-x"}
	rows := DefaultDenyRows(ddOwner, "ns-x", true, Logging{Deny: "alert"})
	if pg := rows[0].Model.(*nbdb.PortGroup); pg.Name != "ns_x_egressDefaultDeny" {
		t.Fatalf("port group %q", pg.Name)
	}
	deny, arp := rows[1].Model.(*nbdb.ACL), rows[2].Model.(*nbdb.ACL)
	if deny.Match != "inport == @ns_x_egressDefaultDeny && ip" || deny.Priority != DefaultDenyPriority || deny.Action != nbdb.ACLActionDrop ||
		!deny.Log || *deny.Severity != "alert" || deny.Options["apply-after-lb"] != "true" {
		t.Errorf("deny ACL %+v", deny)
	}
	if arp.Match != "inport == @ns_x_egressDefaultDeny && (arp || nd)" || arp.Priority != AllowPriority || arp.Action != nbdb.ACLActionAllow || arp.Log {
		t.Errorf("ARP ACL %+v", arp)
	}
	k := PeerKey{Namespace: "ns-x", PodSelector: sel("app", "client")}
	as := AddressSetRows(k, true, true, []netip.Addr{netip.MustParseAddr("10.244.1.7"), netip.MustParseAddr("fd00::7"), netip.MustParseAddr("10.244.0.5"), netip.MustParseAddr("10.244.0.5")})
	if len(as) != 2 {
		t.Fatalf("%d address sets", len(as))
	}
	if v4 := as[0].Model.(*nbdb.AddressSet); !reflect.DeepEqual(v4.Addresses, []string{"10.244.0.5", "10.244.1.7"}) || !strings.HasSuffix(v4.Name, "_v4") {
		t.Errorf("v4 set %+v", v4)
	}
	if v6 := as[1].Model.(*nbdb.AddressSet); !reflect.DeepEqual(v6.Addresses, []string{"fd00::7"}) || !strings.HasSuffix(v6.Name, "_v6") {
		t.Errorf("v6 set %+v", v6)
	}
}

func TestSanitize(t *testing.T) {
	if got := SafeName("kube-system_allow-dns.v2"); got != "kube_system_allow_dns_v2" {
		t.Errorf("sanitize = %q", got)
	}
	long := strings.Repeat("a", 80)
	if got := SafeName(long); len(got) != maxName || got == SafeName(long+"b") {
		t.Errorf("long names: %q (%d)", got, len(got))
	}
}

// ovnMatchSyntax checks the rule of OVN's expression parser that a plain
// string comparison misses: && and || never mix at one parenthesis depth
// without parentheses (ovn-controller refuses the flow: the ACL is lost).
func ovnMatchSyntax(match string) error {
	type level struct{ and, or bool }
	stack := []level{{}}
	for i := 0; i < len(match); i++ {
		switch {
		case match[i] == '(' || match[i] == '{':
			stack = append(stack, level{})
		case match[i] == ')' || match[i] == '}':
			if len(stack) == 1 {
				return fmt.Errorf("unbalanced ')' at %d", i)
			}
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(match[i:], "&&"):
			stack[len(stack)-1].and = true
			i++
		case strings.HasPrefix(match[i:], "||"):
			stack[len(stack)-1].or = true
			i++
		}
		if l := stack[len(stack)-1]; l.and && l.or {
			return fmt.Errorf("&& and || mixed without parentheses before offset %d", i)
		}
	}
	if len(stack) != 1 {
		return fmt.Errorf("unbalanced '('")
	}
	return nil
}

func TestOVNMatchSyntax(t *testing.T) {
	for match, ok := range map[string]bool{
		"ip && (a || b)":                true,
		"ip && a || b":                  false,
		"((a && b) || (c && d))":        true,
		"(a && b || c)":                 false,
		"ip4.dst == {1.1.1.1, 2.2.2.2}": true,
	} {
		if err := ovnMatchSyntax(match); (err == nil) != ok {
			t.Errorf("ovnMatchSyntax(%q) = %v", match, err)
		}
	}
}
