package multicast

import (
	"encoding/json"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/topology"
	"github.com/ovnkube/ovnkube/pkg/topology/topotest"
)

func TestClusterRows(t *testing.T) {
	m := topotest.ByID(ClusterRows(topology.ClusterOwner))
	for _, tt := range []struct {
		id, dir, action string
		prio            int
		pg, match       string
	}{
		{"multicastDefaultDenyEgress", nbdb.ACLDirectionFromLport, nbdb.ACLActionDrop, 1011, "clusterPortGroup", anyMulticast},
		{"multicastDefaultDenyIngress", nbdb.ACLDirectionToLport, nbdb.ACLActionDrop, 1011, "clusterPortGroup", anyMulticast},
		{"multicastAllowInterNodeEgress", nbdb.ACLDirectionFromLport, nbdb.ACLActionAllow, 1012, "clusterRtrPortGroup", "inport == @clusterRtrPortGroup && " + anyMulticast},
		{"multicastAllowInterNodeIngress", nbdb.ACLDirectionToLport, nbdb.ACLActionAllow, 1012, "clusterRtrPortGroup", "outport == @clusterRtrPortGroup && " + anyMulticast},
	} {
		r, ok := m[tt.id]
		if !ok {
			t.Errorf("no ACL %s", tt.id)
			continue
		}
		acl := r.Model.(*nbdb.ACL)
		if acl.Direction != tt.dir || acl.Action != tt.action || acl.Priority != tt.prio || acl.Match != tt.match {
			t.Errorf("%s = %s %s %d %q", tt.id, acl.Direction, acl.Action, acl.Priority, acl.Match)
		}
		if after := acl.Options["apply-after-lb"] == "true"; after != (tt.dir == nbdb.ACLDirectionFromLport) {
			t.Errorf("%s apply-after-lb = %v: from-lport ACLs share the policies' egress stage", tt.id, after)
		}
		if len(r.Parents) != 1 || r.Parents[0].ID != tt.pg || r.Parents[0].Column != "acls" {
			t.Errorf("%s parents %+v, want %s acls", tt.id, r.Parents, tt.pg)
		}
	}
	if !strings.Contains(anyMulticast, "ip4.mcast") || !strings.Contains(anyMulticast, "mldv2") {
		t.Errorf("the deny match %q misses a family", anyMulticast)
	}
}

func TestNamespaceRows(t *testing.T) {
	as4 := networkpolicy.AddressSetName(NamespacePeer("team-a").String(), false)
	as6 := networkpolicy.AddressSetName(NamespacePeer("team-a").String(), true)
	tests := []struct {
		name           string
		ipv4, ipv6     bool
		egress, ingres string
	}{
		{"ipv4", true, false, "inport == @team_a_multicastAllow && (ip4.mcast)",
			"outport == @team_a_multicastAllow && (igmp || (ip4.src == $" + as4 + " && ip4.mcast))"},
		{"ipv6", false, true, "inport == @team_a_multicastAllow && (mldv1 || mldv2 || " + ipv6Dynamic + ")",
			"outport == @team_a_multicastAllow && (mldv1 || mldv2 || (ip6.src == $" + as6 + " && " + ipv6Dynamic + "))"},
		{"dual-stack", true, true, "inport == @team_a_multicastAllow && (ip4.mcast || mldv1 || mldv2 || " + ipv6Dynamic + ")",
			"outport == @team_a_multicastAllow && (igmp || (ip4.src == $" + as4 + " && ip4.mcast) || mldv1 || mldv2 || (ip6.src == $" + as6 + " && " + ipv6Dynamic + "))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := NamespaceRows(Owner("team-a"), "team-a", tt.ipv4, tt.ipv6)
			if err != nil {
				t.Fatal(err)
			}
			m := topotest.ByID(rows)
			if len(m) != 3 {
				t.Errorf("%d rows, want the port group and two ACLs", len(m))
			}
			if pg, ok := m["team_a_multicastAllow"].Model.(*nbdb.PortGroup); !ok || pg.ExternalIDs["k8s.ovn.org/name"] != "team-a" {
				t.Errorf("port group %+v", m["team_a_multicastAllow"].Model)
			}
			for id, want := range map[string]string{"team_a_multicastAllowEgress": tt.egress, "team_a_multicastAllowIngress": tt.ingres} {
				acl := m[id].Model.(*nbdb.ACL)
				if after := acl.Options["apply-after-lb"] == "true"; after != (acl.Direction == nbdb.ACLDirectionFromLport) {
					t.Errorf("%s apply-after-lb = %v", id, after)
				}
				if acl.Match != want || acl.Priority != AllowPriority || acl.Action != nbdb.ACLActionAllow {
					t.Errorf("%s = %d %s %q,\n want %q", id, acl.Priority, acl.Action, acl.Match, want)
				}
			}
		})
	}
	if _, err := NamespaceRows(Owner("x"), "x", false, false); err == nil {
		t.Error("no family: no error")
	}
}

// The namespace's pods share one address set with any policy peer
// `podSelector: {}` of the same namespace.
func TestNamespacePeerSharesPolicySet(t *testing.T) {
	pol := mustPolicy(t, "team-a", `{"ingress":[{"from":[{"podSelector":{}}]}]}`)
	keys := networkpolicy.PeerKeys(pol)
	if len(keys) != 1 || keys[0].ID() != NamespacePeer("team-a").ID() {
		t.Errorf("policy peer keys %v, want the namespace's %v", keys, NamespacePeer("team-a"))
	}
}

func TestParseEnabled(t *testing.T) {
	for _, tt := range []struct {
		ann     map[string]string
		on, bad bool
	}{
		{nil, false, false},
		{map[string]string{Annotation: "true"}, true, false},
		{map[string]string{Annotation: "false"}, false, false},
		{map[string]string{Annotation: "yes"}, false, true},
		{map[string]string{Annotation: ""}, false, true},
	} {
		on, err := ParseEnabled(tt.ann)
		if on != tt.on || (err != nil) != tt.bad {
			t.Errorf("ParseEnabled(%v) = %v, %v", tt.ann, on, err)
		}
	}
}

func mustPolicy(t *testing.T, ns, spec string) *networkingv1.NetworkPolicy {
	t.Helper()
	p := &networkingv1.NetworkPolicy{}
	if err := json.Unmarshal([]byte(spec), &p.Spec); err != nil {
		t.Fatal(err)
	}
	p.Namespace, p.Name = ns, "p"
	return p
}
