package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
	"github.com/ovnkube/ovnkube/test/harness"
)

// env is one test's cluster: the shared API server, its own OVN and master.
type env struct {
	t      *testing.T
	dir    string
	ovn    *sandbox.OVN
	master *sandbox.Master
	client kubernetes.Interface
	opts   sandbox.MasterOptions
}

func newEnv(t *testing.T, clusterSubnets, serviceCIDRs string, extra ...string) *env {
	t.Helper()
	c, err := apiServer.Client()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: harness.ShortTempDir(t), client: c}
	e.deleteAllNodes()
	e.ovn, err = sandbox.StartOVN(e.dir + "/ovn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.ovn.Stop)
	e.opts = sandbox.MasterOptions{
		Kubeconfig: apiServer.Kubeconfig, NBAddress: e.ovn.NBAddress, SBAddress: e.ovn.SBAddress,
		ClusterSubnets: clusterSubnets, ServiceCIDRs: serviceCIDRs, ExtraArgs: extra,
	}
	e.startMaster()
	return e
}

func (e *env) startMaster() {
	e.t.Helper()
	m, err := sandbox.StartMaster(e.dir+"/master", e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.master = m
	e.t.Cleanup(m.Stop)
}

func (e *env) restartMaster() {
	e.t.Helper()
	e.master.Stop()
	e.startMaster()
}

func (e *env) deleteAllNodes() {
	ctx := context.Background()
	nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if err := e.client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) createNode(name string, annotations map[string]string) {
	e.t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if _, err := e.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) node(name string) *corev1.Node {
	e.t.Helper()
	n, err := e.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) annotate(name, key, value string) {
	e.t.Helper()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if _, err := e.client.CoreV1().Nodes().Patch(context.Background(), name, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// nbctl runs ovn-nbctl against the test's NB and fails the test on error.
func (e *env) nbctl(args ...string) string {
	e.t.Helper()
	out, err := e.ovn.NBCtl(args...)
	if err != nil {
		e.t.Fatalf("ovn-nbctl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// get reads one column of one record ("" when the record does not exist).
func (e *env) get(table, record, column string) string {
	out, err := e.ovn.NBCtl("--if-exists", "get", table, record, column)
	if err != nil {
		return ""
	}
	return out
}

// names lists the name column of a table, sorted.
func (e *env) names(table string) []string {
	out := e.nbctl("--bare", "--columns=name", "list", table)
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	return names
}

// eventually polls cond until it returns "" or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after %s: %s", timeout, last)
}

// waitIdle waits until the master is ready and its reconciler has nothing
// pending: every change it has seen is planned and committed. Assertions
// that nothing was written hold from then on, without a timer.
func (e *env) waitIdle() {
	e.t.Helper()
	eventually(e.t, 20*time.Second, func() string {
		if e.metric("ovnkube_ready", nil) != 1 {
			return "master not ready"
		}
		if n := e.metric("ovnkube_reconcile_pending_owners", nil); n != 0 {
			return fmt.Sprintf("%v owners pending", n)
		}
		return ""
	})
}

// metric returns the value of a master metric series whose labels include
// labels (summed over the other labels; 0 when absent).
func (e *env) metric(name string, labels map[string]string) float64 {
	e.t.Helper()
	m, err := sandbox.Scrape(e.master.MetricsURL)
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Value(name, labels)
}

// warningEvents lists the reasons of Warning Events on a node.
func (e *env) warningEvents(node string) []string {
	e.t.Helper()
	return e.warningsOn("Node", "default", node)
}

// warningsOn lists "Reason: message" of the Warning Events on an object of
// kind (Events of cluster-scoped objects live in "default").
func (e *env) warningsOn(kind, ns, name string) []string {
	e.t.Helper()
	evs, err := e.client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs.Items {
		if ev.Type == corev1.EventTypeWarning {
			out = append(out, ev.Reason+": "+ev.Message)
		}
	}
	return out
}

// rowVersions returns _uuid -> _version of every row of the tables, read with
// ovsdb-client because ovn-nbctl does not show _version.
func (e *env) rowVersions(tables ...string) map[string]string {
	e.t.Helper()
	sock := strings.TrimPrefix(e.ovn.NBAddress, "unix:")
	out := map[string]string{}
	for _, table := range tables {
		req := fmt.Sprintf(`["OVN_Northbound",{"op":"select","table":%q,"where":[],"columns":["_uuid","_version"]}]`, table)
		raw, err := exec.Command("ovsdb-client", "transact", "unix:"+sock, req).CombinedOutput()
		if err != nil {
			e.t.Fatalf("ovsdb-client transact: %v: %s", err, raw)
		}
		var res []struct {
			Rows []struct {
				UUID    []string `json:"_uuid"`
				Version []string `json:"_version"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			e.t.Fatalf("parse ovsdb-client output %s: %v", raw, err)
		}
		for _, r := range res[0].Rows {
			out[table+"/"+r.UUID[1]] = r.Version[1]
		}
	}
	return out
}
