package reconcile

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/test/harness"
)

var testTables = []string{nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.LogicalRouterTable, nbdb.LogicalRouterPortTable}

// fixture is a reconciler over a real ovsdb-server with one owner type,
// "Test", whose desired rows the test sets directly.
type fixture struct {
	t   testing.TB
	ovn *harness.OVN
	nb  client.Client
	r   *Reconciler

	mu      sync.Mutex
	desired map[string][]Row
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ovn, err := harness.StartOVN(harness.ShortTempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ovn.Stop)
	f := &fixture{t: t, ovn: ovn, desired: map[string][]Row{}}
	f.nb = f.connect()
	f.r, err = New(f.nb, Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	f.r.Register(OwnerType{Name: "Test", Desired: func(name string) ([]Row, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		rows := f.desired[name]
		// Fresh models every call, as a real translator returns.
		out := make([]Row, len(rows))
		for i, r := range rows {
			out[i] = Row{ID: r.ID, Model: model.Clone(r.Model), Parent: r.Parent}
		}
		return out, nil
	}})
	return f
}

func (f *fixture) connect() client.Client {
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := ovsdbclient.Connect(context.Background(), ovsdbclient.Options{
		Endpoints: []string{f.ovn.NBAddress}, Model: dbModel,
		Indexes: ClientIndexes(testTables), Tables: testTables,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(c.Close)
	return c
}

func (f *fixture) set(owner string, rows ...Row) {
	f.mu.Lock()
	f.desired[owner] = rows
	f.mu.Unlock()
}

// sync reconciles the owners synchronously until the queue is empty.
func (f *fixture) sync(owners ...string) {
	for _, o := range owners {
		f.r.Enqueue(Owner{Type: "Test", Name: o})
	}
	for f.r.queue.Len() > 0 {
		f.r.processBatch(context.Background())
	}
}

func (f *fixture) nbctl(args ...string) string {
	f.t.Helper()
	out, err := f.ovn.NBCtl(args...)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func testOwner(name string) Owner { return Owner{Type: "Test", Name: name} }

func sw(name string, otherConfig map[string]string) Row {
	return Row{ID: name, Model: &nbdb.LogicalSwitch{Name: name, OtherConfig: otherConfig}}
}

func lsp(owner, parent, name string, addrs ...string) Row {
	return Row{ID: name, Model: &nbdb.LogicalSwitchPort{Name: name, Addresses: addrs},
		Parent: &Ref{Owner: testOwner(owner), Table: nbdb.LogicalSwitchTable, ID: parent}}
}

func TestCreateChangeDelete(t *testing.T) {
	f := newFixture(t)
	f.set("a", sw("sw-a", map[string]string{"x": "1", "y": "2"}), lsp("a", "sw-a", "p1", "0a:58:00:00:00:01 10.0.0.1"), lsp("a", "sw-a", "p2"))
	f.sync("a")
	if got := f.nbctl("lsp-list", "sw-a"); !strings.Contains(got, "(p1)") || !strings.Contains(got, "(p2)") {
		t.Fatalf("ports of sw-a = %q", got)
	}
	if got := f.nbctl("get", "Logical_Switch_Port", "p1", "external_ids:k8s.ovn.org/parent"); got != `"Logical_Switch:default-network-controller:Test:a:sw-a"` {
		t.Errorf("p1 parent key = %s", got)
	}

	// A changed map value, a new key and a new set element become one mutate
	// per row, never an update of the whole column.
	f.set("a", sw("sw-a", map[string]string{"x": "1", "y": "3", "z": "4"}), lsp("a", "sw-a", "p1", "0a:58:00:00:00:01 10.0.0.1", "router"), lsp("a", "sw-a", "p2"))
	pl, err := f.r.planner.plan(testOwner("a"), f.r.types["Test"].mustDesired(t, "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := render(pl)
	if len(ops) != 2 {
		t.Fatalf("want 2 mutate ops, got %d: %+v", len(ops), ops)
	}
	for _, op := range ops {
		if op.Op != ovsdb.OperationMutate {
			t.Errorf("op %s on %s, want mutate", op.Op, op.Table)
		}
	}
	lsOp := ops[0]
	if lsOp.Table != nbdb.LogicalSwitchTable {
		lsOp = ops[1]
	}
	if fmt.Sprint(lsOp.Mutations) != fmt.Sprint([]ovsdb.Mutation{
		{Column: "other_config", Mutator: ovsdb.MutateOperationDelete, Value: ovsdb.OvsSet{GoSet: []any{"y"}}},
		{Column: "other_config", Mutator: ovsdb.MutateOperationInsert, Value: ovsdb.OvsMap{GoMap: map[any]any{"y": "3", "z": "4"}}},
	}) {
		t.Errorf("switch mutations = %v", lsOp.Mutations)
	}
	f.sync("a")
	if got := f.nbctl("get", "Logical_Switch", "sw-a", "other_config"); got != `{x="1", y="3", z="4"}` {
		t.Errorf("other_config = %s", got)
	}
	if pl, _ := f.r.planner.plan(testOwner("a"), f.r.types["Test"].mustDesired(t, "a"), nil); pl != nil {
		t.Errorf("plan after commit is not empty: %+v", render(pl))
	}

	// Removing a port unlinks and deletes it; removing everything deletes all.
	f.set("a", sw("sw-a", nil), lsp("a", "sw-a", "p1"))
	f.sync("a")
	if got := f.nbctl("lsp-list", "sw-a"); strings.Contains(got, "p2") || !strings.Contains(got, "(p1)") {
		t.Errorf("ports after removing p2 = %q", got)
	}
	f.set("a")
	f.sync("a")
	if got := f.nbctl("--bare", "--columns=name", "list", "Logical_Switch"); got != "" {
		t.Errorf("switches left: %q", got)
	}
	if got := f.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port"); got != "" {
		t.Errorf("ports left: %q", got)
	}
}

func (t *OwnerType) mustDesired(tb testing.TB, name string) []Row {
	rows, err := t.Desired(name)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

// TestCrossOwnerParent: a row linked into another owner's row waits for it,
// then inserts only its element into the parent's set.
func TestCrossOwnerParent(t *testing.T) {
	f := newFixture(t)
	router := Row{ID: "r", Model: &nbdb.LogicalRouter{Name: "r"}}
	port := func(name string) Row {
		return Row{ID: name, Model: &nbdb.LogicalRouterPort{Name: name, MAC: "0a:58:00:00:00:01", Networks: []string{"10.0.0.1/24"}},
			Parent: &Ref{Owner: testOwner("cluster"), Table: nbdb.LogicalRouterTable, ID: "r"}}
	}
	f.set("n1", port("rp1"))
	_, err := f.r.planner.plan(testOwner("n1"), f.r.types["Test"].mustDesired(t, "n1"), nil)
	if !IsParentMissing(err) {
		t.Fatalf("plan without the parent: err = %v, want parent missing", err)
	}
	f.set("cluster", router)
	f.set("n2", port("rp2"))
	f.sync("cluster", "n1", "n2") // one batch: n1 and n2 are deferred behind their parent
	if got := f.nbctl("lrp-list", "r"); !strings.Contains(got, "(rp1)") || !strings.Contains(got, "(rp2)") {
		t.Fatalf("router ports = %q", got)
	}
	f.set("n1")
	f.sync("n1")
	if got := f.nbctl("lrp-list", "r"); strings.Contains(got, "rp1") || !strings.Contains(got, "(rp2)") {
		t.Errorf("router ports after n1 left = %q", got)
	}
}

// TestFailingOwnerDoesNotBlockBatch: an owner whose rows OVSDB rejects is
// isolated by splitting the batch; the others commit, and it commits nothing.
func TestFailingOwnerDoesNotBlockBatch(t *testing.T) {
	f := newFixture(t)
	f.nbctl("ls-add", "foreign", "--", "lsp-add", "foreign", "taken")
	for _, o := range []string{"o1", "o2", "o3", "o4", "o5"} {
		f.set(o, sw("sw-"+o, nil), lsp(o, "sw-"+o, "port-"+o))
	}
	// o3 wants a port name that already exists: the LSP name index rejects it.
	f.set("o3", sw("sw-o3", nil), lsp("o3", "sw-o3", "taken"))
	for _, o := range []string{"o1", "o2", "o3", "o4", "o5"} {
		f.r.Enqueue(testOwner(o))
	}
	f.r.processBatch(context.Background())
	got := f.nbctl("--bare", "--columns=name", "list", "Logical_Switch")
	for _, want := range []string{"sw-o1", "sw-o2", "sw-o4", "sw-o5", "foreign"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s missing; switches: %q", want, got)
		}
	}
	if strings.Contains(got, "sw-o3") {
		t.Error("o3 was half-applied: its switch exists without its port")
	}
	if n := f.r.queue.NumRequeues(testOwner("o3")); n != 1 {
		t.Errorf("o3 requeued %d times, want 1", n)
	}
	// The foreign row is untouched.
	if f.nbctl("lsp-list", "foreign") == "" {
		t.Error("foreign port was removed")
	}
}

// TestNonRootRowNeedsParent: a port without a parent would be garbage
// collected by OVSDB at commit; the planner refuses it.
func TestNonRootRowNeedsParent(t *testing.T) {
	f := newFixture(t)
	_, err := f.r.planner.plan(testOwner("x"), []Row{{ID: "p", Model: &nbdb.LogicalSwitchPort{Name: "p"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "needs a parent") {
		t.Fatalf("err = %v", err)
	}
}

// TestRestartPlansNothing: a second reconciler over the same NB finds every
// row in place and has nothing to commit.
func TestRestartPlansNothing(t *testing.T) {
	f := newFixture(t)
	f.set("a", sw("sw-a", map[string]string{"k": "v"}), lsp("a", "sw-a", "p1", "0a:58:00:00:00:01 10.0.0.1"))
	f.sync("a")
	r2, err := New(f.connect(), Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := r2.planner.plan(testOwner("a"), f.r.types["Test"].mustDesired(t, "a"), nil)
	if err != nil || pl != nil {
		t.Fatalf("restart plan = %+v, %v; want nothing", render(pl), err)
	}
}

// TestLinksIntoSharedParentMerge: owners of one batch that link rows into
// the same parent cost one mutation of the parent's set, not one each.
func TestLinksIntoSharedParentMerge(t *testing.T) {
	f := newFixture(t)
	f.set("cluster", Row{ID: "r", Model: &nbdb.LogicalRouter{Name: "r"}})
	f.sync("cluster")
	var plans []*planOps
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("rp%d", i)
		pl, err := f.r.planner.plan(testOwner(name), []Row{{ID: name,
			Model:  &nbdb.LogicalRouterPort{Name: name, MAC: "0a:58:00:00:00:01", Networks: []string{"10.0.0.1/24"}},
			Parent: &Ref{Owner: testOwner("cluster"), Table: nbdb.LogicalRouterTable, ID: "r"}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, pl)
	}
	ops := render(plans...)
	var mutates int
	for _, op := range ops {
		if op.Op == ovsdb.OperationMutate {
			mutates++
		}
	}
	if len(ops) != 4 || mutates != 1 {
		t.Fatalf("3 linked ports rendered as %d operations (%d mutations), want 3 inserts and 1 mutation", len(ops), mutates)
	}
	if err := transact(context.Background(), f.nb, ops); err != nil {
		t.Fatal(err)
	}
	if got := f.nbctl("lrp-list", "r"); strings.Count(got, "(rp") != 3 {
		t.Errorf("router ports = %q", got)
	}
}
