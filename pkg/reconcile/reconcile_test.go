package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
)

// TestCreateChangeDelete: rows are inserted, changed by element mutations,
// and removed with their links.
func TestCreateChangeDelete(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		a := testOwner("a")
		f.set(a, sw("sw-a", map[string]string{"x": "1", "y": "2"}), lsp(a, "sw-a", "p1", "0a:58:00:00:00:01 10.0.0.1"), lsp(a, "sw-a", "p2"))
		f.sync(a)
		if got := f.members(nbdb.LogicalSwitchTable, "sw-a", "ports"); !reflect.DeepEqual(got, []string{"p1", "p2"}) {
			t.Fatalf("ports of sw-a = %v", got)
		}
		_, p1 := f.byName(nbdb.LogicalSwitchPortTable, "p1")
		if got := p1.(*nbdb.LogicalSwitchPort).ExternalIDs[ParentKey]; got != "Logical_Switch:default-network-controller:Test:a:sw-a" {
			t.Errorf("p1 parent key = %q", got)
		}

		// A changed map value, a new key and a new set element become one
		// mutate per row, never an update of the whole column.
		f.set(a, sw("sw-a", map[string]string{"x": "1", "y": "3", "z": "4"}), lsp(a, "sw-a", "p1", "0a:58:00:00:00:01 10.0.0.1", "router"), lsp(a, "sw-a", "p2"))
		res, err := f.r.planner.plan(a, f.mustDesired(a), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedSummary(render(res.ops)); got != "mutate Logical_Switch other_config delete 1, other_config insert 2; mutate Logical_Switch_Port addresses insert 1" {
			t.Fatalf("plan = %s", got)
		}
		f.sync(a)
		_, m := f.byName(nbdb.LogicalSwitchTable, "sw-a")
		if got := m.(*nbdb.LogicalSwitch).OtherConfig; !reflect.DeepEqual(got, map[string]string{"x": "1", "y": "3", "z": "4"}) {
			t.Errorf("other_config = %v", got)
		}
		if res, _ := f.r.planner.plan(a, f.mustDesired(a), nil); res.ops != nil {
			t.Errorf("plan after commit is not empty: %s", opSummary(render(res.ops)))
		}

		// Removing a port unlinks and deletes it; removing everything deletes all.
		f.set(a, sw("sw-a", nil), lsp(a, "sw-a", "p1"))
		f.sync(a)
		if got := f.members(nbdb.LogicalSwitchTable, "sw-a", "ports"); !reflect.DeepEqual(got, []string{"p1"}) {
			t.Errorf("ports after removing p2 = %v", got)
		}
		f.set(a)
		f.sync(a)
		if got := f.names(nbdb.LogicalSwitchTable); len(got) != 0 {
			t.Errorf("switches left: %v", got)
		}
		if got := f.names(nbdb.LogicalSwitchPortTable); len(got) != 0 {
			t.Errorf("ports left: %v", got)
		}
	})
}

// TestFailingOwnerDoesNotBlockBatch: an owner whose rows OVSDB rejects is
// isolated by splitting the batch; the others commit, and it commits nothing.
func TestFailingOwnerDoesNotBlockBatch(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		f.transact(
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: nbdb.LogicalSwitchPortTable, Row: ovsdb.Row{"name": "taken"}, UUIDName: "taken"},
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: nbdb.LogicalSwitchTable, Row: ovsdb.Row{"name": "foreign", "ports": uuidSet([]string{"taken"})}})
		names := []string{"o1", "o2", "o3", "o4", "o5"}
		for _, n := range names {
			o := testOwner(n)
			port := "port-" + n
			if n == "o3" {
				port = "taken" // the port name index rejects it
			}
			f.set(o, sw("sw-"+n, nil), lsp(o, "sw-"+n, port))
			f.r.Enqueue(o)
		}
		f.r.processBatch(context.Background())
		got := f.names(nbdb.LogicalSwitchTable)
		if !reflect.DeepEqual(got, []string{"foreign", "sw-o1", "sw-o2", "sw-o4", "sw-o5"}) {
			t.Errorf("switches = %v: o3 must commit nothing, the others everything", got)
		}
		if n := f.r.queue.NumRequeues(testOwner("o3")); n != 1 {
			t.Errorf("o3 requeued %d times, want 1", n)
		}
		if got := f.members(nbdb.LogicalSwitchTable, "foreign", "ports"); !reflect.DeepEqual(got, []string{"taken"}) {
			t.Errorf("foreign switch ports = %v", got)
		}
	})
}

// TestPlannerRefusesBadRows: rows the NB would lose or misplace are refused
// before anything is sent.
func TestPlannerRefusesBadRows(t *testing.T) {
	f := newFixture(t, memory)
	o := testOwner("x")
	for _, tc := range []struct {
		name string
		rows []Row
		want string
	}{
		{"non-root without parent", []Row{{ID: "p", Model: &nbdb.LogicalSwitchPort{Name: "p"}}}, "needs a parent"},
		{"non-root under a weak parent only", []Row{{ID: "p", Model: &nbdb.LogicalSwitchPort{Name: "p"}, Parents: []Ref{ref(owner("P", "pol"), nbdb.PortGroupTable, "pg")}}}, "needs a parent"},
		{"two rows with one id", []Row{sw("s", nil), sw("s", nil)}, "two Logical_Switch rows"},
		{"reference column of the wrong table", []Row{{ID: "s", Model: &nbdb.LogicalSwitch{Name: "s"}, Refs: map[string][]Ref{"load_balancer_group": {ref(o, nbdb.LoadBalancerTable, "lb")}}}}, "refers to Load_Balancer_Group"},
		{"not a reference column", []Row{{ID: "s", Model: &nbdb.LogicalSwitch{Name: "s"}, Refs: map[string][]Ref{"other_config": nil}}}, "not a reference column"},
		{"keyed row named apart from its id", []Row{{ID: "g", Model: &nbdb.LoadBalancerGroup{Name: "other"}}}, "need their name as id"},
		{"own parent not desired", []Row{lsp(o, "missing", "p")}, "not among the owner's rows"},
	} {
		if _, err := f.r.planner.plan(o, tc.rows, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestRestartPlansNothing: a second reconciler over the same NB finds every
// row, link and reference in place and has nothing to commit.
func TestRestartPlansNothing(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		a, c := testOwner("a"), owner("C", "cluster")
		group := lbGroup("clusterLBGroup")
		s := sw("sw-a", map[string]string{"k": "v"})
		s.Refs = map[string][]Ref{"load_balancer_group": {ref(c, nbdb.LoadBalancerGroupTable, "clusterLBGroup")}}
		f.set(c, group, lb("lb1", ref(c, nbdb.LoadBalancerGroupTable, "clusterLBGroup")))
		f.set(a, s, lsp(a, "sw-a", "p1", "0a:58:00:00:00:01 10.0.0.1"))
		f.sync(c, a)
		r2, err := New(f.connect(Tables(OwnerType{Tables: allTables}), nil), Options{}, OwnerType{Name: "Test", Tables: allTables, Desired: f.r.types["Test"].Desired},
			OwnerType{Name: "C", Tables: allTables, Desired: f.r.types["C"].Desired})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []Owner{c, a} {
			if res, err := r2.planner.plan(o, f.mustDesired(o), nil); err != nil || res.ops != nil {
				t.Fatalf("restart plan of %s = %s, %v; want nothing", o, opSummary(render(res.ops)), err)
			}
		}
	})
}

// TestLinksIntoSharedParentMerge: owners of one batch that link rows into
// the same parent cost one mutation of the parent's set, not one each.
func TestLinksIntoSharedParentMerge(t *testing.T) {
	f := newFixture(t, memory)
	cluster := testOwner("cluster")
	f.set(cluster, router("r"))
	f.sync(cluster)
	var plans []*planOps
	for i := range 3 {
		name := fmt.Sprintf("rp%d", i)
		res, err := f.r.planner.plan(testOwner(name), []Row{{ID: name,
			Model:   &nbdb.LogicalRouterPort{Name: name, MAC: "0a:58:00:00:00:01", Networks: []string{"10.0.0.1/24"}},
			Parents: []Ref{ref(cluster, nbdb.LogicalRouterTable, "r")}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, res.ops)
	}
	ops := render(plans...)
	if got := opSummary(ops); got != "insert Logical_Router_Port; insert Logical_Router_Port; insert Logical_Router_Port; mutate Logical_Router ports insert 3" {
		t.Fatalf("3 linked ports rendered as %s", got)
	}
	if err := transact(context.Background(), f.nb, txnHooks{}, ops); err != nil {
		t.Fatal(err)
	}
	if got := f.members(nbdb.LogicalRouterTable, "r", "ports"); len(got) != 3 {
		t.Errorf("router ports = %v", got)
	}
}

// TestEchoesReplanNobody: our own commits coming back through the monitor
// re-plan nobody: not the switch's owner when pods' ports join its ports,
// not the pods. A change by someone else to a column an owner decides
// re-plans that owner; a change to a column others own (a port's up flag)
// does not.
func TestEchoesReplanNobody(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		node := owner("C", "node1")
		f.set(node, sw("node1", map[string]string{"subnet": "10.244.1.0/24"}))
		f.sync(node)
		var pods []Owner
		for i := range 50 {
			o := owner("A", fmt.Sprintf("ns/pod%d", i))
			f.set(o, lsp(node, "node1", fmt.Sprintf("ns_pod%d", i), fmt.Sprintf("0a:58:0a:f4:01:%02x 10.244.1.%d", i+3, i+3)))
			pods = append(pods, o)
		}
		f.sync(pods...)
		if got := len(f.members(nbdb.LogicalSwitchTable, "node1", "ports")); got != 50 {
			t.Fatalf("%d ports on node1", got)
		}
		if got := f.desireCount(node); got != 1 {
			t.Errorf("the switch's owner was planned %d times, want 1: port echoes re-plan it", got)
		}
		for _, o := range pods {
			if got := f.desireCount(o); got != 1 {
				t.Errorf("%s planned %d times, want 1", o, got)
			}
		}
		// Someone else's changes.
		uuid, _ := f.byName(nbdb.LogicalSwitchPortTable, "ns_pod0")
		f.transact(ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: nbdb.LogicalSwitchPortTable, Where: uuidWhere(uuid), Row: ovsdb.Row{"up": true}})
		f.settle()
		if got := f.desireCount(pods[0]); got != 1 {
			t.Errorf("a change of up (northd's column) re-planned the pod (%d plans)", got)
		}
		f.transact(ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: nbdb.LogicalSwitchPortTable, Where: uuidWhere(uuid),
			Row: ovsdb.Row{"addresses": ovsdb.OvsSet{GoSet: []any{"00:00:00:00:00:01"}}}})
		f.settle()
		if got := f.desireCount(pods[0]); got != 2 {
			t.Errorf("a hand edit of addresses planned the pod %d times, want once more", got-1)
		}
		_, m := f.byName(nbdb.LogicalSwitchPortTable, "ns_pod0")
		if got := m.(*nbdb.LogicalSwitchPort).Addresses; !reflect.DeepEqual(got, []string{"0a:58:0a:f4:01:03 10.244.1.3"}) {
			t.Errorf("addresses not restored: %v", got)
		}
	})
}

// TestWaitProgrammed: callers wait for the NB, not a timer.
func TestWaitProgrammed(t *testing.T) {
	f := newFixture(t, memory)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.r.Run(ctx) }()
	<-f.r.Ready()

	a := testOwner("a")
	f.set(a, sw("sw-a", nil))
	f.r.Enqueue(a)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := f.r.WaitProgrammed(wctx, a); err != nil {
		t.Fatal(err)
	}
	if f.nb.Cache().Table(nbdb.LogicalSwitchTable).Len() == 0 {
		t.Fatal("WaitProgrammed returned before the switch was in the NB")
	}

	// Invalid input: the error, at once.
	bad := testOwner("bad")
	f.setInvalid(bad, Invalid("bad-annotation", errors.New("bad annotation")))
	f.r.Enqueue(bad)
	var inv *InvalidError
	if err := f.r.WaitProgrammed(wctx, bad); !errors.As(err, &inv) {
		t.Errorf("invalid owner: err = %v", err)
	}

	// A parent of another owner missing: keeps waiting, until it appears.
	n1, cluster := testOwner("n1"), owner("C", "cluster")
	f.set(n1, Row{ID: "rp", Model: &nbdb.LogicalRouterPort{Name: "rp", MAC: "0a:58:00:00:00:01", Networks: []string{"10.0.0.1/24"}},
		Parents: []Ref{ref(cluster, nbdb.LogicalRouterTable, "r")}})
	f.r.Enqueue(n1)
	short, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer scancel()
	if err := f.r.WaitProgrammed(short, n1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("owner without its parent: err = %v, want to keep waiting", err)
	}
	done := make(chan error, 1)
	go func() { done <- f.r.WaitProgrammed(wctx, n1) }()
	f.set(cluster, router("r"))
	f.r.Enqueue(cluster)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.members(nbdb.LogicalRouterTable, "r", "ports"); !reflect.DeepEqual(got, []string{"rp"}) {
		t.Errorf("router ports = %v", got)
	}
	select {
	case <-f.r.Idle():
	case <-wctx.Done():
		t.Error("reconciler not idle")
	}
}

// TestReadyMeansCommitted: owners an informer reported before Run (its
// initial list, in any order) do not jump the first pass's dependency
// order, and Ready closes only once every listed owner's rows are in the NB.
func TestReadyMeansCommitted(t *testing.T) {
	types := []OwnerType{
		{Name: "Port", Tables: []string{nbdb.LogicalSwitchPortTable}, After: []string{"Switch"}},
		{Name: "Switch", Tables: []string{nbdb.LogicalSwitchTable}},
	}
	f := newFixture(t, memory, types...)
	f.r.running.Store(false) // as in ovnkube master: informers start before Run
	sw1 := owner("Switch", "s1")
	f.set(sw1, sw("s1", nil))
	var ports []Owner
	for i := range 600 { // more than one batch
		o := owner("Port", fmt.Sprintf("p%d", i))
		f.set(o, lsp(sw1, "s1", o.Name))
		ports = append(ports, o)
	}
	for _, o := range ports {
		f.r.Enqueue(o) // the informer's initial list, before Run
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.r.Run(ctx) }()
	select {
	case <-f.r.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("not ready after 30s")
	}
	if got := f.nb.Cache().Table(nbdb.LogicalSwitchPortTable).Len(); got != len(ports) {
		t.Errorf("ready with %d of %d ports in the NB", got, len(ports))
	}
}
