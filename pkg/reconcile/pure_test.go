package reconcile

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
)

func nbTables(t *testing.T) map[string]*tableInfo {
	t.Helper()
	cm, err := nbdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	dbModel, errs := model.NewDatabaseModel(nbdb.Schema(), cm)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tables, err := buildTables(dbModel, allTables)
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// TestDiffRow: which operation each kind of column change becomes.
func TestDiffRow(t *testing.T) {
	tables := nbTables(t)
	ls := tables[nbdb.LogicalSwitchTable]
	lrp := tables[nbdb.LogicalRouterPortTable]
	for _, tc := range []struct {
		name       string
		t          *tableInfo
		want, have model.Model
		refs       map[string][]string
		summary    string
	}{
		{"equal", ls, &nbdb.LogicalSwitch{Name: "a"}, &nbdb.LogicalSwitch{Name: "a"}, nil, ""},
		{"scalar", ls, &nbdb.LogicalSwitch{Name: "b"}, &nbdb.LogicalSwitch{Name: "a"}, nil, "update Logical_Switch name"},
		{"map value changed: delete key, insert pair", ls,
			&nbdb.LogicalSwitch{OtherConfig: map[string]string{"k": "2"}}, &nbdb.LogicalSwitch{OtherConfig: map[string]string{"k": "1", "gone": "x"}}, nil,
			"mutate Logical_Switch other_config delete 2, other_config insert 1"},
		{"operator's external_ids key stays, ours goes", ls,
			&nbdb.LogicalSwitch{ExternalIDs: map[string]string{"pod": "true"}},
			&nbdb.LogicalSwitch{ExternalIDs: map[string]string{"pod": "true", "note": "keep", OwnedKeyPrefix + "old": "x"}}, nil,
			"mutate Logical_Switch external_ids delete 1"},
		{"constrained set (networks needs one element): whole column", lrp,
			&nbdb.LogicalRouterPort{Networks: []string{"10.0.0.1/24", "fd00::1/64"}}, &nbdb.LogicalRouterPort{Networks: []string{"10.0.0.1/24"}}, nil,
			"update Logical_Router_Port networks"},
		{"declared references: elements", ls, &nbdb.LogicalSwitch{}, &nbdb.LogicalSwitch{LoadBalancerGroup: []string{"u1", "u2"}},
			map[string][]string{"load_balancer_group": {"u2", "u3"}},
			"mutate Logical_Switch load_balancer_group insert 1, load_balancer_group delete 1"},
		{"undeclared reference column: untouched", ls, &nbdb.LogicalSwitch{}, &nbdb.LogicalSwitch{Ports: []string{"u1"}}, nil, ""},
	} {
		up, mu, err := diffRow(tc.t, "u", tc.want, tc.have, tc.refs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ops []ovsdb.Operation
		for _, op := range []*ovsdb.Operation{up, mu} {
			if op != nil {
				ops = append(ops, *op)
			}
		}
		if got := opSummary(ops); got != tc.summary {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.summary)
		}
	}
}

// TestParentsRoundTrip: ParentKey lists every parent, sorted, with the
// column only when the row named it; ids with ':' survive.
func TestParentsRoundTrip(t *testing.T) {
	links := []parentLink{
		{target: target{table: "Port_Group", owner: Owner{"NetworkPolicy", "ns/deny"}, local: "pg"}},
		{target: target{table: "Logical_Switch", owner: Owner{"Node", "n1"}, local: "n1"}},
		{target: target{table: "NAT", owner: Owner{"Node", "n1"}, local: "snat:fd00::/64"}, column: "allowed_ext_ips"},
	}
	v := encodeParents("c", links)
	want := "Logical_Switch:c:Node:n1:n1,NAT.allowed_ext_ips:c:Node:n1:snat:fd00::/64,Port_Group:c:NetworkPolicy:ns/deny:pg"
	if v != want {
		t.Fatalf("encoded %q, want %q", v, want)
	}
	got := decodeParents(v)
	if len(got) != 3 || got[1] != links[2] || got[0] != links[1] || got[2] != links[0] {
		t.Errorf("decoded %+v", got)
	}
	if decodeParents("") != nil || len(decodeParents("garbage,Logical_Switch:bad")) != 0 {
		t.Error("unparsable entries must be skipped")
	}
}

// TestOrderTypes: After decides the first pass; unknown names and cycles
// are refused.
func TestOrderTypes(t *testing.T) {
	ty := func(name string, after ...string) OwnerType {
		return OwnerType{Name: name, Tables: []string{"x"}, After: after, Desired: func(string) ([]Row, error) { return nil, nil }}
	}
	_, order, err := orderTypes([]OwnerType{ty("Pod", "Node", "AddressSet"), ty("AddressSet"), ty("Node", "Cluster"), ty("Cluster")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range order {
		names = append(names, o.Name)
	}
	if !reflect.DeepEqual(names, []string{"AddressSet", "Cluster", "Node", "Pod"}) {
		t.Errorf("order = %v", names)
	}
	if _, _, err := orderTypes([]OwnerType{ty("A", "B"), ty("B", "A")}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: err = %v", err)
	}
	if _, _, err := orderTypes([]OwnerType{ty("A", "Nope")}); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("unknown: err = %v", err)
	}
}

// TestDepsOnlyUnseenRows: a row's insert re-plans owners that waited for it
// or saw another incarnation, never those that already planned against it.
func TestDepsOnlyUnseenRows(t *testing.T) {
	d := newDeps()
	sw := target{table: "Logical_Switch", owner: Owner{"Node", "n1"}, local: "n1"}
	waiting, linked, old := Owner{"Pod", "a"}, Owner{"Pod", "b"}, Owner{"Pod", "c"}
	d.add(waiting, sw)
	d.set(waiting, map[target]string{sw: ""})
	d.set(linked, map[target]string{sw: "u2"})
	d.set(old, map[target]string{sw: "u1"})
	got := d.stale(sw, "u2")
	if len(got) != 2 || (got[0] != waiting && got[1] != waiting) || (got[0] != old && got[1] != old) {
		t.Errorf("stale = %v, want the waiting and the old-incarnation owner", got)
	}
	d.set(waiting, nil)
	if got := d.stale(sw, "u1"); len(got) != 1 || got[0] != linked {
		t.Errorf("after the waiting owner dropped the target: %v", got)
	}
}

// TestEchoes: each expected update is counted off once; a failed
// transaction withdraws its expectations; a stale one expires instead of
// swallowing someone else's change.
func TestEchoes(t *testing.T) {
	var e echoes
	e.expect([]string{"a", "b"})
	e.expect([]string{"a"})
	withdraw := e.expect([]string{"c"})
	withdraw()
	for _, tc := range []struct {
		uuid string
		echo bool
	}{{"a", true}, {"a", true}, {"a", false}, {"b", true}, {"b", false}, {"c", false}} {
		if got := e.consume(tc.uuid); got != tc.echo {
			t.Errorf("consume(%s) = %v, want %v", tc.uuid, got, tc.echo)
		}
	}
	e.expect([]string{"d"})
	e.pending["d"] = expected{n: 1, since: time.Now().Add(-2 * echoTTL)}
	if e.consume("d") {
		t.Error("an expired expectation swallowed an update")
	}
	e.expect([]string{"gone"})
	e.forget("gone")
	if e.consume("gone") {
		t.Error("a deleted row's expectation survived")
	}
}

// TestInsertOrder: within one owner's new rows, every row is inserted after
// the rows it names (its children, its declared references), whatever order
// the translation returned them in.
func TestInsertOrder(t *testing.T) {
	f := newFixture(t, memory)
	o := testOwner("a")
	rows := []Row{
		{ID: "pg", Model: &nbdb.PortGroup{Name: "pg"}, Refs: map[string][]Ref{"ports": {ref(o, nbdb.LogicalSwitchPortTable, "p1")}}},
		sw("s", nil),
		{ID: "gc", Model: &nbdb.GatewayChassis{Name: "gc", ChassisName: "c", Priority: 1}, Parents: []Ref{ref(o, nbdb.LogicalRouterPortTable, "rp")}},
		{ID: "rp", Model: &nbdb.LogicalRouterPort{Name: "rp", MAC: "0a:58:00:00:00:01", Networks: []string{"10.0.0.1/24"}}, Parents: []Ref{ref(o, nbdb.LogicalRouterTable, "r")}},
		router("r"),
		lsp(o, "s", "p1"),
	}
	res, err := f.r.planner.plan(o, rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := render(res.ops)
	pos := map[string]int{}
	for i, op := range ops {
		pos[op.Table] = i
	}
	for _, before := range [][2]string{
		{nbdb.LogicalSwitchPortTable, nbdb.LogicalSwitchTable},
		{nbdb.LogicalSwitchPortTable, nbdb.PortGroupTable},
		{nbdb.GatewayChassisTable, nbdb.LogicalRouterPortTable},
		{nbdb.LogicalRouterPortTable, nbdb.LogicalRouterTable},
	} {
		if pos[before[0]] > pos[before[1]] {
			t.Errorf("%s inserted after %s: %s", before[0], before[1], opSummary(ops))
		}
	}
	if len(ops) != 6 {
		t.Errorf("want 6 inserts and nothing else, got %s", opSummary(ops))
	}
	if err := transact(context.Background(), f.nb, txnHooks{}, ops); err != nil {
		t.Fatal(err)
	}
	if got := f.members(nbdb.PortGroupTable, "pg", "ports"); !reflect.DeepEqual(got, []string{"p1"}) {
		t.Errorf("port group = %v", got)
	}
}
