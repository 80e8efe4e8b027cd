package reconcile

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
	"github.com/ovnkube/ovnkube/test/memnb"
)

// allTables are the tables the test owner types write.
var allTables = []string{
	nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.LogicalRouterTable,
	nbdb.LogicalRouterPortTable, nbdb.GatewayChassisTable, nbdb.LoadBalancerTable,
	nbdb.LoadBalancerGroupTable, nbdb.PortGroupTable, nbdb.AddressSetTable, nbdb.NATTable, nbdb.ACLTable,
}

// backend is an OVSDB server the fixture runs against: libovsdb's in-memory
// server for fast tests of the planner, the real ovsdb-server for the
// scenarios whose semantics (garbage collection, weak references, index
// checks) must be proven on the real thing.
type backend struct {
	name  string
	start func(t testing.TB) string // returns the NB endpoint
}

var (
	memory = backend{name: "memory", start: memnb.Start}
	real   = backend{name: "ovsdb-server", start: func(t testing.TB) string {
		dir, err := os.MkdirTemp("/tmp", "ovnk-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		ovn, err := sandbox.StartOVN(dir)
		if err != nil {
			t.Fatalf("%v (make debs installs OVN)", err)
		}
		t.Cleanup(ovn.Stop)
		return ovn.NBAddress
	}}
	backends = []backend{memory, real}
)

// onBoth runs a scenario against each backend.
func onBoth(t *testing.T, scenario func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { scenario(t, b) })
	}
}

// fixture is a reconciler over an NB whose owners' desired rows the test sets
// directly. The default owner types are Test, A, B, C, P, Q, R and Shared,
// each writing every test table.
type fixture struct {
	t        testing.TB
	endpoint string
	nb       client.Client
	r        *Reconciler

	mu      sync.Mutex
	desired map[Owner][]Row
	invalid map[Owner]error
	desires map[Owner]int // Desired calls per owner

	barrierMu sync.Mutex
	barriers  map[string]chan struct{}
	nextBar   int
}

func newFixture(t testing.TB, b backend, types ...OwnerType) *fixture {
	t.Helper()
	f := &fixture{t: t, endpoint: b.start(t), desired: map[Owner][]Row{}, invalid: map[Owner]error{},
		desires: map[Owner]int{}, barriers: map[string]chan struct{}{}}
	if len(types) == 0 {
		for _, n := range []string{"Test", "A", "B", "C", "P", "Q", "R", "Shared"} {
			types = append(types, OwnerType{Name: n, Tables: allTables})
		}
	}
	for i := range types {
		name := types[i].Name
		if types[i].Desired == nil {
			types[i].Desired = func(owner string) ([]Row, error) { return f.desiredRows(Owner{Type: name, Name: owner}) }
		}
		if types[i].List == nil {
			types[i].List = func() ([]string, error) { return f.list(name), nil }
		}
	}
	var handler cache.EventHandler
	f.nb = f.connect(Tables(types...), func() cache.EventHandler { return handler })
	// The client also monitors Logical_Switch for the barrier rows.
	r, err := New(f.nb, Options{}, types...)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	// Tests drive batches by hand: accept requests as a running reconciler
	// does (Run would enqueue every listed owner first).
	r.running.Store(true)
	handler = r.CacheHandler()
	return f
}

func (f *fixture) desiredRows(o Owner) ([]Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.desires[o]++
	if err := f.invalid[o]; err != nil {
		return nil, err
	}
	rows := f.desired[o]
	// Fresh models every call, as a real translator returns.
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = Row{ID: r.ID, Model: model.Clone(r.Model), Parents: r.Parents, Refs: r.Refs}
	}
	return out, nil
}

// connect opens a client whose events go to the reconciler's handler (once
// there is one) and then to the fixture's barrier check, in that order.
func (f *fixture) connect(tables []string, handler func() cache.EventHandler) client.Client {
	if handler == nil {
		handler = func() cache.EventHandler { return nil }
	}
	if !slices.Contains(tables, nbdb.LogicalSwitchTable) {
		tables = append(slices.Clone(tables), nbdb.LogicalSwitchTable)
	}
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		f.t.Fatal(err)
	}
	forward := &cache.EventHandlerFuncs{
		AddFunc: func(table string, m model.Model) {
			if h := handler(); h != nil {
				h.OnAdd(table, m)
			}
			if ls, ok := m.(*nbdb.LogicalSwitch); ok {
				f.barrierSeen(ls.Name)
			}
		},
		UpdateFunc: func(table string, old, cur model.Model) {
			if h := handler(); h != nil {
				h.OnUpdate(table, old, cur)
			}
		},
		DeleteFunc: func(table string, m model.Model) {
			if h := handler(); h != nil {
				h.OnDelete(table, m)
			}
		},
	}
	c, err := ovsdbclient.Connect(context.Background(), ovsdbclient.Options{
		Endpoints: []string{f.endpoint}, Model: dbModel,
		Indexes: ClientIndexes(nbdb.Schema(), tables), Tables: tables, Handler: forward,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(c.Close)
	return c
}

// set replaces owner's desired rows (none: the owner is gone).
func (f *fixture) set(o Owner, rows ...Row) {
	f.mu.Lock()
	f.desired[o] = rows
	f.mu.Unlock()
}

// list returns the owners of type typ that desire rows.
func (f *fixture) list(typ string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for o, rows := range f.desired {
		if o.Type == typ && len(rows) > 0 {
			out = append(out, o.Name)
		}
	}
	return out
}

func (f *fixture) setInvalid(o Owner, err error) {
	f.mu.Lock()
	f.invalid[o] = err
	f.mu.Unlock()
}

func (f *fixture) totalDesires() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.desires {
		n += c
	}
	return n
}

func (f *fixture) desireCount(o Owner) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.desires[o]
}

// barrier returns once every cache event of changes committed before the
// call has been handled by the reconciler: it commits a foreign marker row
// and waits for its insert to come through the same ordered event stream.
func (f *fixture) barrier() {
	f.t.Helper()
	f.barrierMu.Lock()
	f.nextBar++
	name := fmt.Sprintf("barrier-%d", f.nextBar)
	ch := make(chan struct{})
	f.barriers[name] = ch
	f.barrierMu.Unlock()
	f.transact(ovsdb.Operation{Op: ovsdb.OperationInsert, Table: nbdb.LogicalSwitchTable, Row: ovsdb.Row{"name": name}})
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		f.t.Fatalf("cache event of %s not seen within 10s", name)
	}
	f.transact(ovsdb.Operation{Op: ovsdb.OperationDelete, Table: nbdb.LogicalSwitchTable,
		Where: []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: name}}})
}

func (f *fixture) barrierSeen(name string) {
	f.barrierMu.Lock()
	defer f.barrierMu.Unlock()
	if ch, ok := f.barriers[name]; ok {
		close(ch)
		delete(f.barriers, name)
	}
}

// sync enqueues the owners and reconciles until nothing is left to do: the
// queue is empty after every cache event of our commits was handled.
func (f *fixture) sync(owners ...Owner) {
	f.t.Helper()
	f.r.EnqueueAll(owners)
	f.settle()
}

// settle processes batches until the queue stays empty across a barrier.
func (f *fixture) settle() {
	f.t.Helper()
	for {
		for f.r.queue.Len() > 0 {
			f.r.processBatch(context.Background())
		}
		f.barrier()
		if f.r.queue.Len() == 0 {
			return
		}
	}
}

// transact commits raw operations as "someone else" (an operator).
func (f *fixture) transact(ops ...ovsdb.Operation) {
	f.t.Helper()
	res, err := f.nb.Transact(context.Background(), ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		f.t.Fatalf("transact %+v: %v", ops, err)
	}
}

// rows returns every cached row of table.
func (f *fixture) rows(table string) map[string]model.Model {
	return f.nb.Cache().Table(table).RowsShallow()
}

// byName finds a row by its name column; nil when absent.
func (f *fixture) byName(table, name string) (string, model.Model) {
	for uuid, m := range f.rows(table) {
		if reflect.ValueOf(m).Elem().FieldByName("Name").String() == name {
			return uuid, m
		}
	}
	return "", nil
}

// names returns the sorted names of table's rows, barriers excluded.
func (f *fixture) names(table string) []string {
	var out []string
	for _, m := range f.rows(table) {
		n := reflect.ValueOf(m).Elem().FieldByName("Name").String()
		if len(n) < 8 || n[:8] != "barrier-" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// members returns the sorted names of the rows a reference column of the row
// named name holds.
func (f *fixture) members(table, name, column string) []string {
	f.t.Helper()
	_, m := f.byName(table, name)
	if m == nil {
		f.t.Fatalf("%s %s not in the NB", table, name)
	}
	ti := f.r.store.tables[table]
	c, ok := ti.refs[column]
	if !ok {
		f.t.Fatalf("%s has no reference column %s", table, column)
	}
	child := f.rows(c.refTable)
	var out []string
	for _, u := range ti.uuids(m, c) {
		if cm, ok := child[u]; ok {
			out = append(out, reflect.ValueOf(cm).Elem().FieldByName("Name").String())
		} else {
			out = append(out, "dangling:"+u)
		}
	}
	sort.Strings(out)
	return out
}

// counters snapshots the transaction and operation counters; delta against
// a later snapshot tells what a step committed.
type counters struct{ txns, insert, update, mutate, delete float64 }

func snapshot() counters {
	return counters{
		txns:   testutil.ToFloat64(metrics.NBTransactions.WithLabelValues("committed")),
		insert: testutil.ToFloat64(metrics.NBOperations.WithLabelValues("insert")),
		update: testutil.ToFloat64(metrics.NBOperations.WithLabelValues("update")),
		mutate: testutil.ToFloat64(metrics.NBOperations.WithLabelValues("mutate")),
		delete: testutil.ToFloat64(metrics.NBOperations.WithLabelValues("delete")),
	}
}

func (c counters) since(before counters) counters {
	return counters{c.txns - before.txns, c.insert - before.insert, c.update - before.update, c.mutate - before.mutate, c.delete - before.delete}
}

func owner(typ, name string) Owner { return Owner{Type: typ, Name: name} }

func testOwner(name string) Owner { return owner("Test", name) }

func ref(o Owner, table, id string) Ref { return Ref{Owner: o, Table: table, ID: id} }

func sw(name string, otherConfig map[string]string) Row {
	return Row{ID: name, Model: &nbdb.LogicalSwitch{Name: name, OtherConfig: otherConfig}}
}

// lsp is a port of o's switch parent.
func lsp(o Owner, parent, name string, addrs ...string) Row {
	return Row{ID: name, Model: &nbdb.LogicalSwitchPort{Name: name, Addresses: addrs},
		Parents: []Ref{ref(o, nbdb.LogicalSwitchTable, parent)}}
}

func lb(name string, parents ...Ref) Row {
	return Row{ID: name, Model: &nbdb.LoadBalancer{Name: name, Protocol: &[]string{"tcp"}[0],
		Vips: map[string]string{"10.96.0.1:80": "10.244.1.5:8080"}}, Parents: parents}
}

func lbGroup(name string) Row {
	return Row{ID: name, Model: &nbdb.LoadBalancerGroup{Name: name}}
}

func router(name string) Row { return Row{ID: name, Model: &nbdb.LogicalRouter{Name: name}} }

func (f *fixture) mustDesired(o Owner) []Row {
	f.t.Helper()
	rows, err := f.desiredRows(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return rows
}

func contextBackground() context.Context { return context.Background() }

func reconcileErrors(types []OwnerType) float64 {
	var n float64
	for _, t := range types {
		n += testutil.ToFloat64(metrics.ReconcileErrors.WithLabelValues(t.Name))
	}
	return n
}

// opSummary renders operations compactly for assertions:
// "insert T; mutate T col insert N; update T col,col; delete T".
func opSummary(ops []ovsdb.Operation) string {
	var parts []string
	for _, op := range ops {
		switch op.Op {
		case ovsdb.OperationMutate:
			var ms []string
			for _, m := range op.Mutations {
				n := 1
				switch v := m.Value.(type) {
				case ovsdb.OvsSet:
					n = len(v.GoSet)
				case ovsdb.OvsMap:
					n = len(v.GoMap)
				}
				ms = append(ms, fmt.Sprintf("%s %s %d", m.Column, m.Mutator, n))
			}
			parts = append(parts, fmt.Sprintf("mutate %s %s", op.Table, strings.Join(ms, ", ")))
		case ovsdb.OperationUpdate:
			cols := make([]string, 0, len(op.Row))
			for c := range op.Row {
				cols = append(cols, c)
			}
			sort.Strings(cols)
			parts = append(parts, fmt.Sprintf("update %s %s", op.Table, strings.Join(cols, ",")))
		default:
			parts = append(parts, fmt.Sprintf("%s %s", op.Op, op.Table))
		}
	}
	return strings.Join(parts, "; ")
}

// sortedSummary is opSummary with the operations sorted, for plans whose
// order among mutations depends on row uuids.
func sortedSummary(ops []ovsdb.Operation) string {
	parts := strings.Split(opSummary(ops), "; ")
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}
