package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

func waitSwitches(t *testing.T, e *env, want ...string) {
	t.Helper()
	eventually(t, 20*time.Second, func() string {
		if got := e.names("Logical_Switch"); !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("switches %v, want %v", got, want)
		}
		return ""
	})
}

// TestRestartWritesNothing: a master restarted over an unchanged cluster
// commits no NB transaction, changes no row's _version and patches no Node.
func TestRestartWritesNothing(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24,fd00:10:244::/48/64", "10.96.0.0/16,fd00:10:96::/112")
	for _, n := range []string{"r1", "r2", "r3"} {
		e.createNode(n, map[string]string{kube.NodeChassisIDAnnotation: "chassis-" + n})
	}
	waitSwitches(t, e, "join", "r1", "r2", "r3")
	eventually(t, 10*time.Second, func() string {
		if n := len(e.names("Gateway_Chassis")); n != 3 {
			return fmt.Sprintf("%d gateway chassis", n)
		}
		return ""
	})
	before := e.rowVersions(topologyTables...)
	nodeVersions := map[string]string{}
	for _, n := range []string{"r1", "r2", "r3"} {
		nodeVersions[n] = e.node(n).ResourceVersion
	}
	if e.metric("ovnkube_nb_transactions_total", map[string]string{"result": "committed"}) == 0 {
		t.Fatal("the first master committed nothing")
	}

	e.restartMaster()
	e.waitIdle()
	if got := e.metric("ovnkube_nb_transactions_total", map[string]string{"result": "committed"}); got != 0 {
		t.Errorf("restart committed %v transactions, want 0", got)
	}
	if got := e.metric("ovnkube_nb_operations_total", map[string]string{"op": "update"}); got != 0 {
		t.Errorf("restart sent %v updates", got)
	}
	after := e.rowVersions(topologyTables...)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("row versions changed across restart:\nbefore %v\nafter  %v", before, after)
	}
	for n, rv := range nodeVersions {
		if got := e.node(n).ResourceVersion; got != rv {
			t.Errorf("node %s was written on restart (resourceVersion %s -> %s)", n, rv, got)
		}
	}
	if e.metric("ovnkube_ready", nil) != 1 {
		t.Error("ovnkube_ready is not 1")
	}
}

// TestForeignRowsAndSelfHealing: rows made by hand survive, rows of ours
// deleted or changed by hand come back.
func TestForeignRowsAndSelfHealing(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("h1", nil)
	e.createNode("h2", nil)
	waitSwitches(t, e, "h1", "h2", "join")

	e.nbctl("ls-add", "operator-switch", "--", "lsp-add", "operator-switch", "op-port")
	e.nbctl("lsp-add", "h1", "operator-port-on-h1")
	e.nbctl("lr-add", "operator-router")
	e.nbctl("ls-del", "h2")                                                          // ours: whole switch with its ports
	e.nbctl("lrp-del", "rtos-h1")                                                    // ours: a router port
	e.nbctl("set", "Logical_Switch_Port", "k8s-h1", `addresses="00:00:00:00:00:01"`) // ours: a changed column
	h1Subnet := e.get("Logical_Switch", "h1", "other_config:subnet")

	eventually(t, 10*time.Second, func() string {
		if e.get("Logical_Switch", "h2", "name") == "" {
			return "h2 switch not recreated"
		}
		if e.get("Logical_Router_Port", "rtos-h1", "name") == "" {
			return "rtos-h1 not recreated"
		}
		if !strings.Contains(e.nbctl("lrp-list", "ovn_cluster_router"), "(rtos-h1)") {
			return "rtos-h1 not back on ovn_cluster_router"
		}
		if got := e.get("Logical_Switch_Port", "k8s-h1", "addresses"); strings.Contains(got, "00:00:00:00:00:01") {
			return "k8s-h1 addresses not restored: " + got
		}
		return ""
	})
	if got := e.nbctl("lsp-list", "h2"); !strings.Contains(got, "(stor-h2)") || !strings.Contains(got, "(k8s-h2)") {
		t.Errorf("h2 ports not recreated: %q", got)
	}
	// Foreign rows are untouched, also after a restart's full reconcile.
	e.restartMaster()
	e.waitIdle()
	for _, tc := range []struct{ table, name string }{
		{"Logical_Switch", "operator-switch"}, {"Logical_Switch_Port", "op-port"},
		{"Logical_Switch_Port", "operator-port-on-h1"}, {"Logical_Router", "operator-router"},
	} {
		if e.get(tc.table, tc.name, "name") == "" {
			t.Errorf("foreign %s %s was deleted", tc.table, tc.name)
		}
	}
	if !strings.Contains(e.nbctl("lsp-list", "h1"), "(operator-port-on-h1)") {
		t.Error("foreign port was removed from our switch h1")
	}
	if got := e.get("Logical_Switch", "h1", "other_config:subnet"); got != h1Subnet {
		t.Errorf("h1 subnet changed: %s -> %s", h1Subnet, got)
	}
}

// TestNodeDeleteAndExhaustion: a fifth node on a four-subnet cluster gets a
// Warning Event; deleting a node removes every row it owned and only then
// frees its subnet, which the waiting node receives.
func TestNodeDeleteAndExhaustion(t *testing.T) {
	e := newEnv(t, "10.244.0.0/22/24", "10.96.0.0/16")
	for i := 1; i <= 4; i++ {
		e.createNode(fmt.Sprintf("x%d", i), map[string]string{kube.NodeChassisIDAnnotation: fmt.Sprintf("ch%d", i)})
	}
	waitSwitches(t, e, "join", "x1", "x2", "x3", "x4")
	x1Subnet := e.node("x1").Annotations[kube.NodeSubnetsAnnotation]

	e.createNode("x5", nil)
	eventually(t, 10*time.Second, func() string {
		for _, ev := range e.warningEvents("x5") {
			if strings.HasPrefix(ev, "SubnetAllocationFailed") {
				return ""
			}
		}
		return "no SubnetAllocationFailed event on x5"
	})
	if got := e.metric("ovnkube_node_subnet_allocation_failures_total", map[string]string{"reason": "exhausted"}); got < 1 {
		t.Errorf("exhaustion metric = %v", got)
	}
	if e.metric("ovnkube_node_subnets_allocated", map[string]string{"family": "ipv4"}) != 4 {
		t.Error("ovnkube_node_subnets_allocated{family=ipv4} != 4")
	}

	if err := e.client.CoreV1().Nodes().Delete(context.Background(), "x1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Watch closely: x5 must never hold x1's subnet while x1's switch exists.
	deadline := time.Now().Add(20 * time.Second)
	for {
		x5 := e.node("x5").Annotations[kube.NodeSubnetsAnnotation]
		x1Exists := e.get("Logical_Switch", "x1", "name") != ""
		if x5 == x1Subnet && x1Exists {
			t.Fatal("x5 got x1's subnet while x1's switch still exists")
		}
		if x5 == x1Subnet {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("x5 never got the freed subnet %s (has %q)", x1Subnet, x5)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitSwitches(t, e, "join", "x2", "x3", "x4", "x5")
	for _, table := range topologyTables {
		out := e.nbctl("--bare", "--columns=_uuid", "find", table, `external_ids:"k8s.ovn.org/owner"=x1`)
		if out != "" {
			t.Errorf("%s rows of x1 left: %s", table, out)
		}
	}
	if got := e.names("Gateway_Chassis"); reflect.DeepEqual(got, []string{"rtos-x1-ch1"}) || len(got) != 3 {
		t.Errorf("gateway chassis after delete = %v", got)
	}
	if strings.Contains(e.nbctl("lrp-list", "ovn_cluster_router"), "rtos-x1") {
		t.Error("rtos-x1 still on ovn_cluster_router")
	}
}

// TestWidenClusterCIDR: widening 10.128.0.0/19 to /14 keeps every subnet; a
// changed host prefix is refused at start with a clear error.
func TestWidenClusterCIDR(t *testing.T) {
	e := newEnv(t, "10.128.0.0/19/23", "172.30.0.0/16")
	for _, n := range []string{"w1", "w2", "w3"} {
		e.createNode(n, nil)
	}
	waitSwitches(t, e, "join", "w1", "w2", "w3")
	before := map[string]string{}
	for _, n := range []string{"w1", "w2", "w3"} {
		before[n] = e.node(n).Annotations[kube.NodeSubnetsAnnotation]
	}
	versions := e.rowVersions(topologyTables...)

	e.master.Stop()
	e.opts.ClusterSubnets = "10.128.0.0/14/23"
	e.startMaster()
	e.waitIdle()
	for n, s := range before {
		if got := e.node(n).Annotations[kube.NodeSubnetsAnnotation]; got != s {
			t.Errorf("%s subnet changed on widening: %s -> %s", n, s, got)
		}
	}
	if got := e.rowVersions(topologyTables...); !reflect.DeepEqual(got, versions) {
		t.Error("widening rewrote NB rows")
	}
	e.createNode("w4", nil)
	waitSwitches(t, e, "join", "w1", "w2", "w3", "w4")
	w4 := e.node("w4").Annotations[kube.NodeSubnetsAnnotation]
	for n, s := range before {
		if s == w4 {
			t.Errorf("w4 got %s's subnet %s", n, s)
		}
	}

	// A different host prefix is refused.
	e.master.Stop()
	bin, err := sandbox.BuiltBin("", "ovnkube")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "master", "--kubeconfig", apiServer.Kubeconfig, "--nb-address", e.ovn.NBAddress,
		"--cluster-subnets", "10.128.0.0/14/24", "--service-cidrs", "172.30.0.0/16", "--metrics-address", "").CombinedOutput()
	if err == nil {
		t.Fatalf("master started with a changed host prefix:\n%s", out)
	}
	if !strings.Contains(string(out), "host prefix cannot change") || !strings.Contains(string(out), "--cluster-subnets") {
		t.Errorf("host prefix change error does not explain itself:\n%s", out)
	}
	// The fatal error is the last line and the only error line (the
	// informers started before it must not log their teardown).
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], "Error: ") {
		t.Errorf("the last line is not the error:\n%s", out)
	}
	for _, l := range lines[:len(lines)-1] {
		if len(l) > 1 && l[0] == 'E' && l[1] >= '0' && l[1] <= '9' || strings.HasPrefix(l, "Error") {
			t.Errorf("another error line before the fatal one: %s", l)
		}
	}
}

// TestMalformedAnnotation: a node whose chassis id is bad gets a Warning
// Event and a metric increment, keeps no half-applied rows, and converges
// once fixed; a node subnet annotation that does not parse (only the master
// writes it) is replaced by a new subnet, with a Warning Event; the others
// converge.
func TestMalformedAnnotation(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("bad1", map[string]string{kube.NodeSubnetsAnnotation: `{"default":["10.244.7.0/33"]`})
	e.createNode("bad2", map[string]string{kube.NodeChassisIDAnnotation: "not a chassis; id"})
	e.createNode("good", nil)
	waitSwitches(t, e, "bad1", "good", "join")
	e.expectSubnetRepaired("bad1")
	eventually(t, 10*time.Second, func() string {
		for _, ev := range e.warningEvents("bad2") {
			if strings.HasPrefix(ev, "InvalidNodeAnnotation") {
				return ""
			}
		}
		return "no InvalidNodeAnnotation event on bad2"
	})
	if got := e.metric("ovnkube_invalid_objects_total", map[string]string{"kind": "Node", "reason": "bad-chassis-id"}); got < 1 {
		t.Errorf("ovnkube_invalid_objects_total{kind=Node,reason=bad-chassis-id} = %v", got)
	}
	// Fixing the input converges the node.
	e.annotate("bad2", kube.NodeChassisIDAnnotation, "chassis-ok")
	waitSwitches(t, e, "bad1", "bad2", "good", "join")
	if got := e.metric("ovnkube_reconcile_errors_total", map[string]string{"owner_type": "Node"}); got != 0 {
		t.Errorf("bad input counted as %v reconcile errors", got)
	}
}

// expectSubnetRepaired waits until node has a valid subnet annotation of
// the cluster's host prefix and a NodeSubnetReallocated Warning Event.
func (e *env) expectSubnetRepaired(node string) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, func() string {
		subnets, ok, err := kube.ParseNodeSubnets(e.node(node).Annotations)
		if !ok || err != nil || len(subnets) != 1 || subnets[0].Bits() != 24 {
			return fmt.Sprintf("%s node-subnets %v (%v)", node, subnets, err)
		}
		for _, ev := range e.warningEvents(node) {
			if strings.HasPrefix(ev, "NodeSubnetReallocated") {
				return ""
			}
		}
		return fmt.Sprintf("no NodeSubnetReallocated event on %s: %v", node, e.warningEvents(node))
	})
}

// TestBadNodeAnnotationsAtRestart: nodes whose subnet annotation is garbage
// or of another host prefix do not stop a restarting master: it is ready
// within 30 s, both nodes get a valid subnet and a Warning Event, and the
// other nodes' rows are not written.
func TestBadNodeAnnotationsAtRestart(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	for _, n := range []string{"ok1", "ok2", "junk", "wide"} {
		e.createNode(n, nil)
	}
	waitSwitches(t, e, "join", "junk", "ok1", "ok2", "wide")
	e.waitIdle()
	e.master.Stop()
	e.annotate("junk", kube.NodeSubnetsAnnotation, `garbage{`)
	e.annotate("wide", kube.NodeSubnetsAnnotation, kube.FormatNodeSubnets([]netip.Prefix{netip.MustParsePrefix("10.244.200.0/23")}))
	uuids := map[string]bool{} // the good nodes' switches and ports
	for _, n := range []string{"ok1", "ok2"} {
		for _, name := range []string{n, "rtos-" + n, "stor-" + n, "k8s-" + n} {
			uuids[strings.TrimSpace(e.get(map[bool]string{true: "Logical_Router_Port", false: "Logical_Switch_Port"}[strings.HasPrefix(name, "rtos-")], name, "_uuid"))] = true
		}
		uuids[strings.TrimSpace(e.get("Logical_Switch", n, "_uuid"))] = true
	}
	before := e.rowVersions(topologyTables...)
	start := time.Now()
	e.startMaster()
	t.Logf("master ready %s after start", time.Since(start).Round(time.Millisecond))
	if time.Since(start) > 30*time.Second {
		t.Errorf("master took %s to be ready", time.Since(start))
	}
	e.expectSubnetRepaired("junk")
	e.expectSubnetRepaired("wide")
	e.waitIdle()
	after := e.rowVersions(topologyTables...)
	for k, v := range before {
		_, uuid, _ := strings.Cut(k, "/")
		if uuids[uuid] && after[k] != v {
			t.Errorf("row %s of a good node was rewritten (_version %s -> %s)", k, v, after[k])
		}
	}
}

// TestMetricsPassPromtool: /metrics is valid exposition format.
func TestMetricsPassPromtool(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("m1", nil)
	waitSwitches(t, e, "join", "m1")
	promtool, err := sandbox.DebianBin("promtool")
	if err != nil {
		t.Fatal(err)
	}
	curl := exec.Command("curl", "-sf", e.master.MetricsURL)
	body, err := curl.Output()
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(string(body))
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	for _, name := range []string{"ovnkube_reconcile_duration_seconds", "ovnkube_nb_transactions_total", "ovnkube_nb_operations_total",
		"ovnkube_reconcile_errors_total", "ovnkube_reconcile_queue_depth", "ovnkube_node_subnets_allocated", "ovnkube_ready"} {
		if !strings.Contains(string(body), "# HELP "+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for path, want := range map[string]string{e.master.HealthURL: "ok", e.master.ReadyURL: "ok: leader"} {
		if out, err := exec.Command("curl", "-sf", path).Output(); err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("GET %s = %q, %v; want %q", path, out, err, want)
		}
	}
}

// TestNBRestart: the master rides out an NB ovsdb-server restart: it
// reconnects, converges on what changed meanwhile, and never duplicates a row.
func TestNBRestart(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("nb1", nil)
	e.createNode("nb2", nil)
	waitSwitches(t, e, "join", "nb1", "nb2")

	nb, err := sandbox.Restart(e.ovn.NB.Record())
	if err != nil {
		t.Fatal(err)
	}
	e.ovn.NB = nb
	t.Cleanup(nb.Stop)
	// Changes while the master's NB connection is down or coming back.
	e.createNode("nb3", nil)
	if err := e.client.CoreV1().Nodes().Delete(context.Background(), "nb1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string {
		out, err := e.ovn.NBCtl("--bare", "--columns=name", "list", "Logical_Switch")
		if err != nil {
			return "NB not back: " + err.Error()
		}
		if got := strings.Fields(out); len(got) != 3 || !sameSet(got, []string{"join", "nb2", "nb3"}) {
			return fmt.Sprintf("switches %v", got)
		}
		return ""
	})
	// Every row exactly once.
	for table, want := range map[string][]string{
		"Logical_Router":      {"ovn_cluster_router"},
		"Logical_Router_Port": {"rtoj-ovn_cluster_router", "rtos-nb2", "rtos-nb3"},
		"Logical_Switch_Port": {"jtor-ovn_cluster_router", "k8s-nb2", "k8s-nb3", "stor-nb2", "stor-nb3"},
	} {
		if got := e.names(table); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", table, got, want)
		}
	}
	if got := strings.Count(e.nbctl("lrp-list", "ovn_cluster_router"), "\n") + 1; got != 3 {
		t.Errorf("ovn_cluster_router has %d ports, want 3", got)
	}
}

func sameSet(a, b []string) bool {
	sa, sb := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(sa)
	sort.Strings(sb)
	return reflect.DeepEqual(sa, sb)
}
