package reconcile

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
)

// TestRowInSeveralParents: a load balancer owned by A sits in a group owned
// by B and in a switch owned by C; each link is added and removed by one
// one-element mutation of that parent, never a rewrite.
func TestRowInSeveralParents(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		A, B, C := owner("A", "svc"), owner("B", "cluster"), owner("C", "node1")
		group := ref(B, nbdb.LoadBalancerGroupTable, "clusterLBGroup")
		onSwitch := ref(C, nbdb.LogicalSwitchTable, "node1")
		f.set(B, lbGroup("clusterLBGroup"))
		f.set(C, sw("node1", nil))
		f.sync(B, C)

		f.set(A, lb("Service_ns/web_TCP_cluster", group, onSwitch))
		res, err := f.r.planner.plan(A, f.mustDesired(A), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedSummary(render(res.ops)); got != "insert Load_Balancer; mutate Load_Balancer_Group load_balancer insert 1; mutate Logical_Switch load_balancer insert 1" {
			t.Fatalf("plan = %s", got)
		}
		f.sync(A)
		if got := f.members(nbdb.LoadBalancerGroupTable, "clusterLBGroup", "load_balancer"); !reflect.DeepEqual(got, []string{"Service_ns/web_TCP_cluster"}) {
			t.Errorf("group members = %v", got)
		}
		if got := f.members(nbdb.LogicalSwitchTable, "node1", "load_balancer"); !reflect.DeepEqual(got, []string{"Service_ns/web_TCP_cluster"}) {
			t.Errorf("switch load balancers = %v", got)
		}

		// Leaving one parent: one element removed from that parent, and the
		// row's recorded parents updated; the row itself stays.
		uuid, _ := f.byName(nbdb.LoadBalancerTable, "Service_ns/web_TCP_cluster")
		f.set(A, lb("Service_ns/web_TCP_cluster", group))
		res, err = f.r.planner.plan(A, f.mustDesired(A), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedSummary(render(res.ops)); got != "mutate Load_Balancer external_ids delete 1, external_ids insert 1; mutate Logical_Switch load_balancer delete 1" {
			t.Fatalf("plan = %s", got)
		}
		f.sync(A)
		if got := f.members(nbdb.LogicalSwitchTable, "node1", "load_balancer"); len(got) != 0 {
			t.Errorf("switch still lists %v", got)
		}
		if got := f.members(nbdb.LoadBalancerGroupTable, "clusterLBGroup", "load_balancer"); len(got) != 1 {
			t.Errorf("group members = %v", got)
		}
		if u, _ := f.byName(nbdb.LoadBalancerTable, "Service_ns/web_TCP_cluster"); u != uuid {
			t.Errorf("load balancer replaced (%s -> %s), want it kept", uuid, u)
		}

		// Moving to another group is a leave and a join; the owner going
		// away deletes the row and OVSDB drops the weak references.
		f.set(B, lbGroup("clusterLBGroup"), lbGroup("clusterSwitchLBGroup"))
		f.sync(B)
		f.set(A, lb("Service_ns/web_TCP_cluster", ref(B, nbdb.LoadBalancerGroupTable, "clusterSwitchLBGroup")))
		f.sync(A)
		if got := f.members(nbdb.LoadBalancerGroupTable, "clusterLBGroup", "load_balancer"); len(got) != 0 {
			t.Errorf("old group still lists %v", got)
		}
		if got := f.members(nbdb.LoadBalancerGroupTable, "clusterSwitchLBGroup", "load_balancer"); len(got) != 1 {
			t.Errorf("new group members = %v", got)
		}
		f.set(A)
		f.sync(A)
		if got := f.names(nbdb.LoadBalancerTable); len(got) != 0 {
			t.Errorf("load balancers left: %v", got)
		}
		if got := f.members(nbdb.LoadBalancerGroupTable, "clusterSwitchLBGroup", "load_balancer"); len(got) != 0 {
			t.Errorf("group still lists %v", got)
		}
	})
}

// TestRefsToOtherOwnersRows: a port group owned by P lists ports owned by Q
// and R. R's port does not exist yet: P is committed without it, waits
// without backoff, and is planned again (once) when R's port appears.
func TestRefsToOtherOwnersRows(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		P, Q, R := owner("P", "policy"), owner("Q", "pod-q"), owner("R", "pod-r")
		f.set(Q, sw("s", nil), lsp(Q, "s", "q1"))
		f.sync(Q)
		pg := Row{ID: "pg", Model: &nbdb.PortGroup{Name: "pg"}, Refs: map[string][]Ref{
			"ports": {ref(Q, nbdb.LogicalSwitchPortTable, "q1"), ref(R, nbdb.LogicalSwitchPortTable, "r1")},
		}}
		f.set(P, pg)
		f.sync(P)
		if got := f.members(nbdb.PortGroupTable, "pg", "ports"); !reflect.DeepEqual(got, []string{"q1"}) {
			t.Fatalf("port group = %v, want [q1] while r1 does not exist", got)
		}
		if n := f.r.queue.NumRequeues(P); n != 0 {
			t.Errorf("P requeued with backoff %d times; an unresolved reference is not an error", n)
		}
		plans := f.desireCount(P)

		f.set(R, lsp(Q, "s", "r1"))
		f.sync(R) // R's insert re-plans P through the cache event
		if got := f.members(nbdb.PortGroupTable, "pg", "ports"); !reflect.DeepEqual(got, []string{"q1", "r1"}) {
			t.Fatalf("port group = %v after r1 appeared", got)
		}
		if got := f.desireCount(P) - plans; got != 1 {
			t.Errorf("P planned %d times after r1 appeared, want 1", got)
		}

		// A declared reference column is content: a port removed by hand
		// comes back, one added by hand goes.
		q1, _ := f.byName(nbdb.LogicalSwitchPortTable, "q1")
		pgUUID, _ := f.byName(nbdb.PortGroupTable, "pg")
		f.transact(mutateRefs(nbdb.PortGroupTable, pgUUID, "ports", ovsdb.MutateOperationDelete, q1))
		f.settle()
		if got := f.members(nbdb.PortGroupTable, "pg", "ports"); !reflect.DeepEqual(got, []string{"q1", "r1"}) {
			t.Errorf("port group = %v after q1 was removed by hand", got)
		}
	})
}

// TestRecreatedParentRelinksMembers: a load-balancer group deleted by hand
// is re-created by its owner, and all its members, owned by others, are
// linked back in the next round: one transaction, one mutation.
func TestRecreatedParentRelinksMembers(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		B := owner("B", "cluster")
		group := ref(B, nbdb.LoadBalancerGroupTable, "clusterLBGroup")
		f.set(B, lbGroup("clusterLBGroup"))
		var members []Owner
		for i := range 20 {
			o := owner("A", fmt.Sprintf("svc%d", i))
			f.set(o, lb(fmt.Sprintf("lb%d", i), group))
			members = append(members, o)
		}
		f.sync(append([]Owner{B}, members...)...)
		if got := f.members(nbdb.LoadBalancerGroupTable, "clusterLBGroup", "load_balancer"); len(got) != 20 {
			t.Fatalf("group has %d members, want 20", len(got))
		}

		uuid, _ := f.byName(nbdb.LoadBalancerGroupTable, "clusterLBGroup")
		before := snapshot()
		f.transact(deleteOp(nbdb.LoadBalancerGroupTable, uuid))
		f.settle()
		if got := f.members(nbdb.LoadBalancerGroupTable, "clusterLBGroup", "load_balancer"); len(got) != 20 {
			t.Fatalf("re-created group has %d members, want 20: %v", len(got), got)
		}
		// The metrics count only the reconciler's commits (the hand delete
		// and the fixture's barriers bypass them).
		if d := snapshot().since(before); d.txns != 2 || d.insert != 1 || d.mutate != 1 {
			t.Errorf("re-creation + relink cost %+v, want 2 transactions: 1 insert, then 1 mutation", d)
		}
	})
}

// TestSharedRowOutlivesEachUser: an Address_Set shared by two users stays
// while either uses it and goes with the last.
func TestSharedRowOutlivesEachUser(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		users := map[string]map[string]bool{"web": {"policy-a": true, "policy-b": true}}
		var f *fixture
		shared := Shared{
			Name:   "AddressSet",
			Tables: []string{nbdb.AddressSetTable},
			Keys: func() ([]string, error) {
				var keys []string
				for k, u := range users {
					if len(u) > 0 {
						keys = append(keys, k)
					}
				}
				return keys, nil
			},
			Users: func(key string) (int, error) { return len(users[key]), nil },
			Rows: func(key string) ([]Row, error) {
				return []Row{{ID: key, Model: &nbdb.AddressSet{Name: "as_" + key, Addresses: []string{"10.244.1.5"}}}}, nil
			},
		}
		f = newFixture(t, b, shared.OwnerType())
		o := shared.Owner("web")
		f.sync(o)
		if got := f.names(nbdb.AddressSetTable); !reflect.DeepEqual(got, []string{"as_web"}) {
			t.Fatalf("address sets = %v", got)
		}
		delete(users["web"], "policy-a")
		f.sync(o)
		if got := f.names(nbdb.AddressSetTable); !reflect.DeepEqual(got, []string{"as_web"}) {
			t.Fatalf("address sets after the first user stopped = %v", got)
		}
		delete(users["web"], "policy-b")
		f.sync(o)
		if got := f.names(nbdb.AddressSetTable); len(got) != 0 {
			t.Fatalf("address sets after the last user stopped = %v", got)
		}
	})
}

// TestChainColdStartsInOneBatch: four owner types, each pointing at rows of
// the one before (switch <- port <- port group listing ports <- ACL in the
// port group), cold-start in one batch: no owner fails, none backs off.
func TestChainColdStartsInOneBatch(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		types := []OwnerType{
			{Name: "Rule", Tables: []string{nbdb.ACLTable}, After: []string{"Group"}},
			{Name: "Group", Tables: []string{nbdb.PortGroupTable}, After: []string{"Port"}},
			{Name: "Port", Tables: []string{nbdb.LogicalSwitchPortTable}, After: []string{"Switch"}},
			{Name: "Switch", Tables: []string{nbdb.LogicalSwitchTable}},
		}
		f := newFixture(t, b, types...)
		const switches, portsPer, groups, rulesPer = 10, 20, 20, 2
		for s := range switches {
			so := owner("Switch", fmt.Sprintf("s%d", s))
			f.set(so, sw(so.Name, nil))
			for p := range portsPer {
				po := owner("Port", fmt.Sprintf("s%d-p%d", s, p))
				f.set(po, lsp(so, so.Name, po.Name))
			}
		}
		for g := range groups {
			gid := fmt.Sprintf("pg%d", g)
			var ports []Ref
			for p := range 10 { // ports of several switches
				name := fmt.Sprintf("s%d-p%d", (g+p)%switches, g%portsPer)
				ports = append(ports, ref(owner("Port", name), nbdb.LogicalSwitchPortTable, name))
			}
			f.set(owner("Group", gid), Row{ID: gid, Model: &nbdb.PortGroup{Name: gid}, Refs: map[string][]Ref{"ports": ports}})
			for r := range rulesPer {
				rid := fmt.Sprintf("%s-r%d", gid, r)
				f.set(owner("Rule", rid), Row{ID: rid, Model: &nbdb.ACL{Direction: "to-lport", Priority: 1001 + r, Match: "ip4", Action: "allow-related"},
					Parents: []Ref{ref(owner("Group", gid), nbdb.PortGroupTable, gid)}})
			}
		}
		errsBefore := reconcileErrors(types)
		before := snapshot()
		if err := f.r.enqueueInitial(); err != nil {
			t.Fatal(err)
		}
		f.r.processBatch(contextBackground())
		plans := f.totalDesires()
		f.settle() // the inserts' cache events: nobody needs planning again
		if got := f.totalDesires() - plans; got != 0 {
			t.Errorf("%d owners planned again after the cold-start batch", got)
		}
		if got := reconcileErrors(types) - errsBefore; got != 0 {
			t.Errorf("%v reconcile errors during the cold start", got)
		}
		if got := len(f.names(nbdb.LogicalSwitchPortTable)); got != switches*portsPer {
			t.Errorf("%d ports, want %d", got, switches*portsPer)
		}
		for g := range groups {
			gid := fmt.Sprintf("pg%d", g)
			if got := f.members(nbdb.PortGroupTable, gid, "ports"); len(got) != 10 {
				t.Errorf("%s lists %d ports, want 10", gid, len(got))
			}
			if got := len(f.aclsOf(gid)); got != rulesPer {
				t.Errorf("%s holds %d ACLs, want %d", gid, got, rulesPer)
			}
		}
		if d := snapshot().since(before); d.txns != 4 {
			t.Errorf("cold start took %v transactions, want 4 (one per owner type)", d.txns)
		}
		f.barrier()
		for _, o := range []Owner{owner("Switch", "s0"), owner("Port", "s0-p0"), owner("Group", "pg0"), owner("Rule", "pg0-r0")} {
			if n := f.r.queue.NumRequeues(o); n != 0 {
				t.Errorf("%s backed off %d times", o, n)
			}
		}
	})
}

// TestOperatorKeysSurvive: an operator's external_ids key on one of our rows
// survives every replan and a restart's full pass; a stale key of ours goes.
func TestOperatorKeysSurvive(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		o := testOwner("a")
		f.set(o, sw("sw-a", map[string]string{"k": "1"}))
		f.sync(o)
		uuid, _ := f.byName(nbdb.LogicalSwitchTable, "sw-a")
		f.transact(ovsdb.Operation{Op: ovsdb.OperationMutate, Table: nbdb.LogicalSwitchTable, Where: uuidWhere(uuid),
			Mutations: []ovsdb.Mutation{{Column: "external_ids", Mutator: ovsdb.MutateOperationInsert,
				Value: ovsdb.OvsMap{GoMap: map[any]any{"note": "keep", OwnedKeyPrefix + "stale": "x"}}}}})
		f.settle() // the owned key's change re-plans the owner
		f.set(o, sw("sw-a", map[string]string{"k": "2"}))
		f.sync(o)
		_, m := f.byName(nbdb.LogicalSwitchTable, "sw-a")
		ext := m.(*nbdb.LogicalSwitch).ExternalIDs
		if ext["note"] != "keep" {
			t.Errorf("operator's note lost: %v", ext)
		}
		if _, ok := ext[OwnedKeyPrefix+"stale"]; ok {
			t.Errorf("a k8s.ovn.org/ key nobody desires was kept: %v", ext)
		}
		// A restart plans every owner from scratch: still nothing to do.
		r2, err := New(f.connect(Tables(OwnerType{Tables: allTables}), nil), Options{}, OwnerType{Name: "Test", Tables: allTables, Desired: f.r.types["Test"].Desired})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := r2.planner.plan(o, f.mustDesired(o), nil); err != nil || res.ops != nil {
			t.Fatalf("restart plan = %s, %v; want nothing", opSummary(render(res.ops)), err)
		}
	})
}

// TestMissingParentWaitsWithoutBackoff: a row whose parent of another owner
// is not there waits, is not retried with backoff, and is linked as soon as
// the parent appears.
func TestMissingParentWaitsWithoutBackoff(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		cluster, n1 := owner("C", "cluster"), owner("Test", "n1")
		f.set(n1, Row{ID: "rtos-n1", Model: &nbdb.LogicalRouterPort{Name: "rtos-n1", MAC: "0a:58:0a:f4:01:01", Networks: []string{"10.244.1.1/24"}},
			Parents: []Ref{ref(cluster, nbdb.LogicalRouterTable, "r")}})
		f.sync(n1)
		if got := f.names(nbdb.LogicalRouterPortTable); len(got) != 0 {
			t.Fatalf("port committed without its parent: %v", got)
		}
		if n := f.r.queue.NumRequeues(n1); n != 0 {
			t.Errorf("n1 backed off %d times", n)
		}
		select {
		case <-f.r.Idle():
		default:
			t.Error("an owner waiting for its parent keeps the reconciler busy")
		}
		f.set(cluster, router("r"))
		f.sync(cluster) // the router's insert re-plans n1
		if got := f.members(nbdb.LogicalRouterTable, "r", "ports"); !reflect.DeepEqual(got, []string{"rtos-n1"}) {
			t.Errorf("router ports = %v", got)
		}
	})
}

// TestDeletingReferencedRowUnlinksReferrers: a group that other owners'
// switches reference (a strong reference) is deleted in one transaction with
// those references; when it comes back, the switches reference it again.
func TestDeletingReferencedRowUnlinksReferrers(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		B := owner("B", "cluster")
		f.set(B, lbGroup("clusterLBGroup"))
		var nodes []Owner
		for i := range 3 {
			o := owner("C", fmt.Sprintf("node%d", i))
			row := sw(o.Name, nil)
			row.Refs = map[string][]Ref{"load_balancer_group": {ref(B, nbdb.LoadBalancerGroupTable, "clusterLBGroup")}}
			f.set(o, row)
			nodes = append(nodes, o)
		}
		f.sync(append([]Owner{B}, nodes...)...)
		if got := f.members(nbdb.LogicalSwitchTable, "node1", "load_balancer_group"); !reflect.DeepEqual(got, []string{"clusterLBGroup"}) {
			t.Fatalf("node1 load_balancer_group = %v", got)
		}
		f.set(B)
		f.sync(B)
		if got := f.names(nbdb.LoadBalancerGroupTable); len(got) != 0 {
			t.Fatalf("group not deleted: %v (errors: %d requeues)", got, f.r.queue.NumRequeues(B))
		}
		for _, n := range nodes {
			if got := f.members(nbdb.LogicalSwitchTable, n.Name, "load_balancer_group"); len(got) != 0 {
				t.Errorf("%s still references %v", n.Name, got)
			}
		}
		f.set(B, lbGroup("clusterLBGroup"))
		f.sync(B)
		for _, n := range nodes {
			if got := f.members(nbdb.LogicalSwitchTable, n.Name, "load_balancer_group"); !reflect.DeepEqual(got, []string{"clusterLBGroup"}) {
				t.Errorf("%s references %v after the group came back", n.Name, got)
			}
		}
	})
}

// TestParentColumnMustBeNamedWhenAmbiguous: NAT refers to Address_Set through
// two columns; a parent reference that does not say which is refused, one
// that does links into that column only.
func TestParentColumnMustBeNamedWhenAmbiguous(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		o := testOwner("gw")
		nat := Row{ID: "snat", Model: &nbdb.NAT{Type: "snat", LogicalIP: "10.244.1.0/24", ExternalIP: "172.18.0.2"},
			Parents: []Ref{ref(o, nbdb.LogicalRouterTable, "GR_node1")}}
		set := func(column string) Row {
			return Row{ID: "allowed", Model: &nbdb.AddressSet{Name: "allowed", Addresses: []string{"192.0.2.1"}},
				Parents: []Ref{{Owner: o, Table: nbdb.NATTable, ID: "snat", Column: column}}}
		}
		_, err := f.r.planner.plan(o, []Row{router("GR_node1"), nat, set("")}, nil)
		if err == nil || !strings.Contains(err.Error(), "allowed_ext_ips, exempted_ext_ips") {
			t.Fatalf("ambiguous parent column: err = %v", err)
		}
		f.set(o, router("GR_node1"), nat, set("allowed_ext_ips"))
		f.sync(o)
		_, m := f.byName(nbdb.AddressSetTable, "allowed")
		asUUID, _ := f.byName(nbdb.AddressSetTable, "allowed")
		for _, nm := range f.rows(nbdb.NATTable) {
			n := nm.(*nbdb.NAT)
			if n.AllowedExtIPs == nil || *n.AllowedExtIPs != asUUID || n.ExemptedExtIPs != nil {
				t.Errorf("NAT allowed/exempted = %v/%v, want %s/nil", n.AllowedExtIPs, n.ExemptedExtIPs, asUUID)
			}
		}
		if m == nil {
			t.Fatal("address set missing")
		}
	})
}

func mutateRefs(table, uuid, column string, mutator ovsdb.Mutator, elems ...string) ovsdb.Operation {
	return ovsdb.Operation{Op: ovsdb.OperationMutate, Table: table, Where: uuidWhere(uuid),
		Mutations: []ovsdb.Mutation{{Column: column, Mutator: mutator, Value: uuidSet(elems)}}}
}

// aclsOf returns the ACL uuids a port group holds.
func (f *fixture) aclsOf(pg string) []string {
	_, m := f.byName(nbdb.PortGroupTable, pg)
	if m == nil {
		return nil
	}
	return m.(*nbdb.PortGroup).ACLs
}

// TestPortJoinsItsGroupsInItsInsert: the no-window rule. A new pod's port
// that names the port groups of the policies selecting it as parents is
// created and made a member of them in one transaction, so it never carries
// a packet outside its policies.
func TestPortJoinsItsGroupsInItsInsert(t *testing.T) {
	onBoth(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		node, pol := owner("C", "node1"), owner("P", "ns/deny-all")
		f.set(node, sw("node1", nil))
		f.set(pol, Row{ID: "pg", Model: &nbdb.PortGroup{Name: "ns_deny_all"}})
		f.sync(node, pol)
		pod := owner("A", "ns/web")
		f.set(pod, Row{ID: "ns_web", Model: &nbdb.LogicalSwitchPort{Name: "ns_web", Addresses: []string{"0a:58:0a:f4:01:05 10.244.1.5"}},
			Parents: []Ref{ref(node, nbdb.LogicalSwitchTable, "node1"), ref(pol, nbdb.PortGroupTable, "pg")}})
		before := snapshot()
		f.sync(pod)
		if d := snapshot().since(before); d.txns != 1 || d.insert != 1 || d.mutate != 2 {
			t.Errorf("port + memberships cost %+v, want one transaction: 1 insert, 2 mutations", d)
		}
		if got := f.members(nbdb.PortGroupTable, "ns_deny_all", "ports"); !reflect.DeepEqual(got, []string{"ns_web"}) {
			t.Errorf("port group ports = %v", got)
		}
	})
}
