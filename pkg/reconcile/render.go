package reconcile

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// refMutation collects the element changes of one reference column of one
// existing row: members joining or leaving a parent.
type refMutation struct {
	table  string
	uuid   string
	column string
	insert []string // real or named uuids
	delete []string
}

// planOps is one owner's operations by kind. Reference mutations are kept
// apart so a transaction of many owners links all of them into a shared
// parent (ovn_cluster_router.ports, a node switch's ports, a load-balancer
// group) with one mutation.
type planOps struct {
	inserts []ovsdb.Operation // rows before the rows that refer to them
	refs    []*refMutation    // elements added to / removed from existing rows
	changes []ovsdb.Operation // updates and content mutations
	deletes []ovsdb.Operation
}

// size is the number of operations the plan costs on its own.
func (p *planOps) size() int {
	if p == nil {
		return 0
	}
	n := len(p.inserts) + len(p.changes) + len(p.deletes)
	for _, m := range p.refs {
		if len(m.insert) > 0 {
			n++
		}
		if len(m.delete) > 0 {
			n++
		}
	}
	return n
}

// render orders the operations of several plans as one transaction: inserts
// (defining every named uuid), merged links into existing rows, changes,
// merged unlinks, deletes. OVSDB checks references at commit, so a row may
// be deleted before its parent's reference to it is removed.
func render(plans ...*planOps) []ovsdb.Operation {
	var inserts, changes, deletes []ovsdb.Operation
	refs := map[string]*refMutation{}
	for _, p := range plans {
		if p == nil {
			continue
		}
		inserts = append(inserts, p.inserts...)
		changes = append(changes, p.changes...)
		deletes = append(deletes, p.deletes...)
		for _, m := range p.refs {
			k := m.uuid + "/" + m.column
			merged, ok := refs[k]
			if !ok {
				merged = &refMutation{table: m.table, uuid: m.uuid, column: m.column}
				refs[k] = merged
			}
			merged.insert = append(merged.insert, m.insert...)
			merged.delete = append(merged.delete, m.delete...)
		}
	}
	ops := make([]ovsdb.Operation, 0, len(inserts)+len(changes)+len(deletes)+2*len(refs))
	ops = append(ops, inserts...)
	ops = append(ops, refOps(refs, true)...)
	ops = append(ops, changes...)
	ops = append(ops, refOps(refs, false)...)
	return append(ops, deletes...)
}

// refOps renders the collected reference mutations, inserts or deletes.
func refOps(refs map[string]*refMutation, insert bool) []ovsdb.Operation {
	var ops []ovsdb.Operation
	for _, k := range sortedKeys(refs) {
		m := refs[k]
		elems, mutator := m.delete, ovsdb.MutateOperationDelete
		if insert {
			elems, mutator = m.insert, ovsdb.MutateOperationInsert
		}
		if len(elems) == 0 {
			continue
		}
		ops = append(ops, ovsdb.Operation{
			Op: ovsdb.OperationMutate, Table: m.table, Where: uuidWhere(m.uuid),
			Mutations: []ovsdb.Mutation{{Column: m.column, Mutator: mutator, Value: uuidSet(elems)}},
		})
	}
	return ops
}

// insertOps renders inserts so that every named uuid a row refers to (its
// children, its declared references) was defined by an earlier operation of
// the transaction.
func insertOps(inserts []*pending) ([]ovsdb.Operation, error) {
	byNamed := make(map[string]*pending, len(inserts))
	for _, pd := range inserts {
		byNamed[pd.named] = pd
	}
	depth := map[*pending]int{}
	var height func(pd *pending, seen int) int
	height = func(pd *pending, seen int) int {
		if d, ok := depth[pd]; ok {
			return d
		}
		h := 0
		if seen <= len(inserts) { // a cycle cannot be ordered; stop climbing
			for _, uses := range []map[string][]string{pd.children, pd.refs} {
				for _, uuids := range uses {
					for _, u := range uuids {
						if c := byNamed[u]; c != nil && c != pd {
							h = max(h, height(c, seen+1)+1)
						}
					}
				}
			}
		}
		depth[pd] = h
		return h
	}
	ordered := append([]*pending(nil), inserts...)
	sort.SliceStable(ordered, func(a, b int) bool { return height(ordered[a], 0) < height(ordered[b], 0) })
	ops := make([]ovsdb.Operation, 0, len(ordered))
	for _, pd := range ordered {
		row, err := insertRow(pd.table, pd.row.Model)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", pd.table.name, pd.row.ID, err)
		}
		for col, uuids := range pd.refs {
			if len(uuids) > 0 {
				row[col] = uuidSet(uuids)
			}
		}
		for col, uuids := range pd.children {
			row[col] = uuidSet(uuids)
		}
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: pd.table.name, Row: row, UUIDName: pd.named})
	}
	return ops, nil
}

// insertRow renders the content columns of m that differ from their default.
func insertRow(t *tableInfo, m model.Model) (ovsdb.Row, error) {
	row := ovsdb.Row{}
	for _, c := range t.content {
		v := t.value(m, c.field)
		if isEmpty(v) {
			continue
		}
		ov, err := ovsdb.NativeToOvs(c.schema, v.Interface())
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		row[c.name] = ov
	}
	return row, nil
}

func deleteOp(table, uuid string) ovsdb.Operation {
	return ovsdb.Operation{Op: ovsdb.OperationDelete, Table: table, Where: uuidWhere(uuid)}
}

func uuidWhere(uuid string) []ovsdb.Condition {
	return []ovsdb.Condition{{Column: "_uuid", Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: uuid}}}
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return v.IsNil() || (v.Kind() != reflect.Pointer && v.Len() == 0)
	default:
		return v.IsZero()
	}
}
