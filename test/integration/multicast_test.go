package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ovnkube/ovnkube/pkg/controller/multicast"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/kube"
)

// TestMulticastRows: every pod's port is in clusterPortGroup under the
// 1011 multicast deny and every node router port in clusterRtrPortGroup;
// node switches snoop and query, ovn_cluster_router relays; an enabled
// namespace gets its 1012 allow port group (with its pods' ports) and
// address set; a bad value is reported and enables nothing; turning it
// off removes the namespace's rows; a restart writes nothing.
func TestMulticastRows(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("mc1", map[string]string{kube.NodeChassisIDAnnotation: "chassis-mc1"})
	ns := "mc-it"
	e.createNamespace(ns)
	e.createPod(ns, "a", "mc1")
	ipA := e.podIP(ns, "a")
	uuid := func(table, name string) string { return strings.TrimSpace(e.get(table, name, "_uuid")) }

	eventually(t, 20*time.Second, func() string {
		if lsp := uuid("Logical_Switch_Port", ns+"_a"); lsp == "" || !strings.Contains(e.get("Port_Group", "clusterPortGroup", "ports"), lsp) {
			return "pod port not in clusterPortGroup: " + e.get("Port_Group", "clusterPortGroup", "ports")
		}
		if stor := uuid("Logical_Switch_Port", "stor-mc1"); stor == "" || !strings.Contains(e.get("Port_Group", "clusterRtrPortGroup", "ports"), stor) {
			return "stor-mc1 not in clusterRtrPortGroup"
		}
		return ""
	})
	for col, want := range map[string]string{
		"other_config:mcast_snoop": `"true"`, "other_config:mcast_querier": `"true"`, "other_config:mcast_ip4_src": `"10.244.0.1"`,
	} {
		if got := strings.TrimSpace(e.get("Logical_Switch", "mc1", col)); got != want && got != strings.Trim(want, `"`) {
			t.Errorf("switch mc1 %s = %s, want %s", col, got, want)
		}
	}
	if got := strings.TrimSpace(e.get("Logical_Router", "ovn_cluster_router", "options:mcast_relay")); strings.Trim(got, `"`) != "true" {
		t.Errorf("ovn_cluster_router mcast_relay = %q", got)
	}
	acls := e.nbctl("--columns=name,priority,action", "list", "ACL")
	for _, want := range []string{"multicastDefaultDenyEgress", "multicastDefaultDenyIngress", "multicastAllowInterNodeEgress", "multicastAllowInterNodeIngress", "1011", "1012"} {
		if !strings.Contains(acls, want) {
			t.Errorf("ACLs lack %q:\n%s", want, acls)
		}
	}

	annotate := func(v string) {
		t.Helper()
		val := "null"
		if v != "" {
			val = fmt.Sprintf("%q", v)
		}
		if _, err := e.client.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"`+multicast.Annotation+`":`+val+`}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pg := multicast.PortGroupName(ns)
	as := networkpolicy.AddressSetName(multicast.NamespacePeer(ns).String(), false)
	annotate("true")
	e.createPod(ns, "b", "mc1") // created while enabled: joins in its creating transaction
	ipB := e.podIP(ns, "b")
	eventually(t, 20*time.Second, func() string {
		ports := e.get("Port_Group", pg, "ports")
		for _, p := range []string{ns + "_a", ns + "_b"} {
			if u := uuid("Logical_Switch_Port", p); u == "" || !strings.Contains(ports, u) {
				return fmt.Sprintf("%s not in %s: %s", p, pg, ports)
			}
		}
		if got := e.get("Address_Set", as, "addresses"); !strings.Contains(got, ipA) || !strings.Contains(got, ipB) {
			return fmt.Sprintf("address set %s = %s, want %s and %s", as, got, ipA, ipB)
		}
		if got := e.get("Port_Group", pg, "acls"); strings.Count(got, "-") < 8 {
			return "no allow ACLs on " + pg
		}
		return ""
	})
	e.waitIdle()
	acls = e.nbctl("--columns=name,match,priority", "list", "ACL")
	for _, want := range []string{"mc_it_multicastAllowEgress", "inport == @" + pg + " && (ip4.mcast)",
		"mc_it_multicastAllowIngress", "outport == @" + pg + " && (igmp || (ip4.src == $" + as + " && ip4.mcast))"} {
		if !strings.Contains(acls, want) {
			t.Errorf("ACLs lack %q:\n%s", want, acls)
		}
	}

	// A restart writes nothing.
	before := e.rowVersions("Port_Group", "ACL", "Address_Set", "Logical_Switch", "Logical_Router")
	e.master.Stop()
	e.startMaster()
	e.waitIdle()
	if after := e.rowVersions("Port_Group", "ACL", "Address_Set", "Logical_Switch", "Logical_Router"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("restart rewrote rows:\nbefore %v\nafter  %v", before, after)
	}

	// A bad value: Warning Event, metric, and multicast off.
	annotate("yes")
	eventually(t, 20*time.Second, func() string {
		if e.metric("ovnkube_invalid_objects_total", map[string]string{"kind": "Namespace", "reason": "bad-multicast-enabled"}) < 1 {
			return "no invalid_objects_total{kind=Namespace,reason=bad-multicast-enabled}"
		}
		found := false
		for _, ev := range e.warningsOn("Namespace", "default", ns) {
			found = found || strings.Contains(ev, "InvalidMulticastAnnotation") && strings.Contains(ev, `"yes"`)
		}
		if !found {
			return fmt.Sprintf("no InvalidMulticastAnnotation event: %v", e.warningsOn("Namespace", "default", ns))
		}
		if e.get("Port_Group", pg, "name") != "" || e.get("Address_Set", as, "name") != "" {
			return "the namespace's multicast rows stay under a bad value"
		}
		return ""
	})
	// Back on, then removed: the rows come and go; pods stay in clusterPortGroup.
	annotate("true")
	eventually(t, 20*time.Second, func() string {
		if e.get("Port_Group", pg, "name") == "" {
			return "re-enabled: no " + pg
		}
		return ""
	})
	annotate("")
	eventually(t, 20*time.Second, func() string {
		if e.get("Port_Group", pg, "name") != "" || e.get("Address_Set", as, "name") != "" {
			return "annotation removed: rows stay"
		}
		if acls := e.nbctl("--bare", "--columns=name", "list", "ACL"); strings.Contains(acls, "mc_it_") {
			return "namespace ACLs left: " + acls
		}
		if lsp := uuid("Logical_Switch_Port", ns+"_a"); !strings.Contains(e.get("Port_Group", "clusterPortGroup", "ports"), lsp) {
			return "pod a left clusterPortGroup"
		}
		return ""
	})
}
