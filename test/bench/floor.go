package main

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	corev1 "k8s.io/api/core/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/cluster"
	"github.com/ovnkube/ovnkube/pkg/controller/node"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// The benchmark cluster: IPv4, the upstream default join subnet.
var (
	benchJoinSubnet = netip.MustParsePrefix("100.64.0.0/16")
	benchCluster    = node.Cluster{
		CIDRs:         []netip.Prefix{netip.MustParsePrefix("10.128.0.0/14")},
		RouterJoinIPs: []netip.Addr{netip.MustParseAddr("100.64.0.1")},
	}
)

// ownedRow is one desired row with its owner.
type ownedRow struct {
	owner reconcile.Owner
	row   reconcile.Row
}

// desiredTopology translates the cluster and the Nodes, as the master read
// them, into the rows the master writes: the same translation functions,
// no reconciler.
func desiredTopology(nodes []corev1.Node) (clusterRows []ownedRow, nodeRows [][]ownedRow, err error) {
	rows, err := cluster.Rows(cluster.Input{JoinSubnets: []netip.Prefix{benchJoinSubnet}, ACLLoggingRate: 20})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		clusterRows = append(clusterRows, ownedRow{topology.ClusterOwner, r})
	}
	for i := range nodes {
		rows, err := node.DesiredRows(&nodes[i], benchCluster)
		if err != nil {
			return nil, nil, fmt.Errorf("node %s: %w", nodes[i].Name, err)
		}
		var owned []ownedRow
		for _, r := range rows {
			owned = append(owned, ownedRow{topology.NodeOwner(nodes[i].Name), r})
		}
		nodeRows = append(nodeRows, owned)
	}
	return clusterRows, nodeRows, nil
}

// tableCounts counts rows per table.
func tableCounts(groups ...[]ownedRow) map[string]int {
	out := map[string]int{}
	for _, g := range groups {
		for _, r := range g {
			out[tableOf(r.row.Model)]++
		}
	}
	return out
}

// floor commits the rows ovnkube writes for the cluster and nodes straight
// with libovsdb: no Kubernetes, no diff, no cache reads, in the fewest
// transactions the same 5000-operation bound allows. Rows link into
// parents of their own transaction by the parent's insert, and into rows
// committed earlier (ovn_cluster_router, join) by one mutation per parent
// column and transaction. It is the cost of the NB writes alone.
func floor(addr string, nodes []corev1.Node, extra ...ownedRow) (time.Duration, int, int, error) {
	clusterRows, nodeRows, err := desiredTopology(nodes)
	if err != nil {
		return 0, 0, 0, err
	}
	c, err := ovsdbclient.Connect(context.Background(), ovsdbclient.Options{
		// The same cache the master keeps: every committed row comes back as
		// an update to decode, as it must for any controller.
		Endpoints: []string{addr}, Model: nbModel, Tables: topologyTables,
	})
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	schema := nbdb.Schema()

	start := time.Now()
	b := &floorBuilder{c: c, schema: &schema, committed: map[rowKey]string{}}
	if err := b.commitGroups([][]ownedRow{clusterRows}); err != nil {
		return 0, 0, 0, err
	}
	var batch [][]ownedRow
	size := 0
	// Other owners' rows (services) after the nodes they may link into,
	// one owner per group.
	groups := nodeRows
	for i := 0; i < len(extra); {
		j := i + 1
		for j < len(extra) && extra[j].owner == extra[i].owner {
			j++
		}
		groups = append(groups, extra[i:j])
		i = j
	}
	for _, g := range groups {
		if size+len(g) > 5000-50 && len(batch) > 0 {
			if err := b.commitGroups(batch); err != nil {
				return 0, 0, 0, err
			}
			batch, size = nil, 0
		}
		batch = append(batch, g)
		size += len(g)
	}
	if err := b.commitGroups(batch); err != nil {
		return 0, 0, 0, err
	}
	return time.Since(start), b.txns, b.ops, nil
}

type rowKey struct {
	owner reconcile.Owner
	table string
	id    string
}

type floorBuilder struct {
	c         client.Client
	schema    *ovsdb.DatabaseSchema
	committed map[rowKey]string // real uuids of rows of earlier transactions
	txns, ops int
}

// commitGroups inserts every row of groups in one transaction.
func (b *floorBuilder) commitGroups(groups [][]ownedRow) error {
	if len(groups) == 0 {
		return nil
	}
	named := map[rowKey]string{}
	models := map[rowKey]model.Model{}
	var order []rowKey
	for _, g := range groups {
		for _, r := range g {
			k := rowKey{r.owner, tableOf(r.row.Model), r.row.ID}
			named[k] = fmt.Sprintf("r%d", len(named))
			models[k] = r.row.Model
			order = append(order, k)
		}
	}
	type mutKey struct{ table, uuid, column string }
	mutations := map[mutKey][]string{}
	var mutOrder []mutKey
	for _, g := range groups {
		for _, r := range g {
			k := rowKey{r.owner, tableOf(r.row.Model), r.row.ID}
			setField(r.row.Model, "_uuid", named[k])
			if hasField(r.row.Model, "external_ids") { // keyed tables (groups, MAC bindings) have none
				setField(r.row.Model, "external_ids", reconcile.OwnedExternalIDs(reconcile.DefaultController, r.owner, &r.row, externalIDs(r.row.Model)))
			}
			for _, p := range r.row.Parents {
				pk := rowKey{p.Owner, p.Table, p.ID}
				col := p.Column
				if col == "" {
					col = refColumn(b.schema, p.Table, k.table)
				}
				if pm, ok := models[pk]; ok {
					appendField(pm, col, named[k])
				} else if uuid, ok := b.committed[pk]; ok {
					mk := mutKey{p.Table, uuid, col}
					if _, seen := mutations[mk]; !seen {
						mutOrder = append(mutOrder, mk)
					}
					mutations[mk] = append(mutations[mk], named[k])
				} else {
					return fmt.Errorf("row %v: parent %v not found", k, pk)
				}
			}
			for col, refs := range r.row.Refs {
				for _, ref := range refs {
					tk := rowKey{ref.Owner, ref.Table, ref.ID}
					uuid, ok := named[tk]
					if !ok {
						if uuid, ok = b.committed[tk]; !ok {
							return fmt.Errorf("row %v: reference %v not found", k, tk)
						}
					}
					appendField(r.row.Model, col, uuid)
				}
			}
		}
	}
	var ops []ovsdb.Operation
	for _, k := range order {
		op, err := b.c.Create(models[k])
		if err != nil {
			return fmt.Errorf("insert %v: %w", k, err)
		}
		ops = append(ops, op...)
	}
	for _, mk := range mutOrder {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: mk.table,
			Where:     []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: mk.uuid})},
			Mutations: []ovsdb.Mutation{*ovsdb.NewMutation(mk.column, ovsdb.MutateOperationInsert, namedSet(mutations[mk]))}})
	}
	res, err := b.c.Transact(context.Background(), ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	b.txns++
	b.ops += len(ops)
	if err != nil {
		return err
	}
	for i, k := range order { // inserts come first, one result each
		b.committed[k] = res[i].UUID.GoUUID
	}
	return nil
}

// namedSet is an OVSDB set of (named or real) uuids.
func namedSet(uuids []string) ovsdb.OvsSet {
	s := ovsdb.OvsSet{}
	for _, u := range uuids {
		s.GoSet = append(s.GoSet, ovsdb.UUID{GoUUID: u})
	}
	return s
}

// refColumn is the one column of table that references rows of child.
func refColumn(s *ovsdb.DatabaseSchema, table, child string) string {
	for name, col := range s.Tables[table].Columns {
		if col.TypeObj == nil || col.TypeObj.Key == nil {
			continue
		}
		if ref, err := col.TypeObj.Key.RefTable(); err == nil && ref == child {
			return name
		}
	}
	return ""
}

// nbModel maps generated model types to NB table names.
var nbModel = func() model.ClientDBModel {
	m, err := nbdb.FullDatabaseModel()
	if err != nil {
		panic(err)
	}
	return m
}()

// tableOf is the NB table of a generated model.
func tableOf(m model.Model) string {
	for name, t := range nbModel.Types() {
		if t == reflect.TypeOf(m) {
			return name
		}
	}
	panic(fmt.Sprintf("%T is no NB model", m))
}

// field finds the struct field of m tagged ovsdb:"column".
func field(m model.Model, column string) reflect.Value {
	v := reflect.ValueOf(m).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Tag.Get("ovsdb") == column {
			return v.Field(i)
		}
	}
	panic(fmt.Sprintf("%T has no column %s", m, column))
}

func hasField(m model.Model, column string) bool {
	t := reflect.TypeOf(m).Elem()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("ovsdb") == column {
			return true
		}
	}
	return false
}

func setField(m model.Model, column string, value any) {
	field(m, column).Set(reflect.ValueOf(value))
}

func appendField(m model.Model, column, uuid string) {
	f := field(m, column)
	switch f.Kind() {
	case reflect.Slice:
		f.Set(reflect.Append(f, reflect.ValueOf(uuid)))
	case reflect.Pointer:
		f.Set(reflect.ValueOf(&uuid))
	default:
		f.SetString(uuid)
	}
}

func externalIDs(m model.Model) map[string]string {
	v, _ := field(m, "external_ids").Interface().(map[string]string)
	return v
}

// topologyTables are the tables the master monitors for nodes and pods.
var topologyTables = []string{nbdb.LogicalRouterTable, nbdb.LogicalRouterPortTable,
	nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.GatewayChassisTable,
	nbdb.LogicalRouterStaticRouteTable, nbdb.LogicalRouterPolicyTable, nbdb.NATTable,
	nbdb.StaticMACBindingTable, nbdb.LoadBalancerTable, nbdb.LoadBalancerGroupTable, nbdb.ACLTable,
	nbdb.MeterTable, nbdb.MeterBandTable, nbdb.PortGroupTable, nbdb.AddressSetTable}
