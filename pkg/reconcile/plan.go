package reconcile

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// errParentMissing means a row's parent belongs to another owner whose rows
// are not in the NB yet (a Node's router port before the Cluster's router).
// The owner is retried; it is not an error of the owner.
type errParentMissing struct{ ref Ref }

func (e *errParentMissing) Error() string {
	return fmt.Sprintf("parent %s %q of %s is not in the NB yet", e.ref.Table, e.ref.ID, e.ref.Owner)
}

// planner turns (desired rows, rows in the cache) into OVSDB operations for one
// owner. It reads the cache but never writes.
type planner struct {
	controller string
	store      *store
	byType     map[reflect.Type]*tableInfo
	names      func() string // fresh named-uuid per insert, unique per transaction
}

type rowKey struct {
	table string
	local string
}

// pending is a row to insert.
type pending struct {
	table    *tableInfo
	row      Row
	named    string
	children map[string][]any // ref column -> named uuids of children inserted with it
}

// refMutation collects the element changes of one reference column of one row.
type refMutation struct {
	table  string
	uuid   string
	column string
	insert []any
	delete []any
}

// plan returns the operations that make owner's NB rows equal desired; nil
// means the NB already matches. tables limits where the owner's
// existing rows are looked up (nil: every managed table).
func (p *planner) plan(owner Owner, desired []Row, tables []*tableInfo) (*planOps, error) {
	existing, err := p.store.owned(owner, tables)
	if err != nil {
		return nil, err
	}
	have := make(map[rowKey]existingRow, len(existing))
	var stale []existingRow
	for _, e := range existing {
		k := rowKey{e.table.name, e.local}
		if _, dup := have[k]; dup || e.local == "" {
			stale = append(stale, e) // a duplicate or an unparsable id: not ours to keep
			continue
		}
		have[k] = e
	}

	var (
		inserts   []*pending
		byKey     = map[rowKey]*pending{}
		updates   []ovsdb.Operation
		mutates   []ovsdb.Operation
		refs      = map[string]*refMutation{} // parent uuid + column
		wanted    = map[rowKey]bool{}
		wantTable = make([]*tableInfo, len(desired))
	)
	for i := range desired {
		row := &desired[i]
		t, ok := p.byType[reflect.TypeOf(row.Model)]
		if !ok {
			return nil, fmt.Errorf("%s: row %q: model %T is not a managed table", owner, row.ID, row.Model)
		}
		if tables != nil && !slices.Contains(tables, t) {
			return nil, fmt.Errorf("%s: row %q is a %s row, a table its owner type does not declare", owner, row.ID, t.name)
		}
		if row.ID == "" {
			return nil, fmt.Errorf("%s: %s row without an id", owner, t.name)
		}
		if !t.root && row.Parent == nil {
			// OVSDB garbage-collects unreferenced rows of non-root tables at commit.
			return nil, fmt.Errorf("%s: %s row %q of a non-root table needs a parent", owner, t.name, row.ID)
		}
		k := rowKey{t.name, row.ID}
		if wanted[k] {
			return nil, fmt.Errorf("%s: two %s rows with id %q", owner, t.name, row.ID)
		}
		wanted[k] = true
		wantTable[i] = t
		t.setExternalIDs(row.Model, p.externalIDs(owner, row))
	}

	for i := range desired {
		row, t := desired[i], wantTable[i]
		k := rowKey{t.name, row.ID}
		if e, ok := have[k]; ok {
			if e.parent == t.externalIDs(row.Model)[ParentKey] {
				up, mu, err := diffRow(t, e.uuid, row.Model, e.model)
				if err != nil {
					return nil, fmt.Errorf("%s: %s %q: %w", owner, t.name, row.ID, err)
				}
				if up != nil {
					updates = append(updates, *up)
				}
				if mu != nil {
					mutates = append(mutates, *mu)
				}
				continue
			}
			// The row moved to another parent: replace it.
			delete(have, k)
			stale = append(stale, e)
		}
		pd := &pending{table: t, row: row, named: p.names(), children: map[string][]any{}}
		inserts = append(inserts, pd)
		byKey[k] = pd
	}

	// Link new rows into their parents.
	for _, pd := range inserts {
		ref := pd.row.Parent
		if ref == nil {
			continue
		}
		pt, ok := p.store.tables[ref.Table]
		if !ok {
			return nil, fmt.Errorf("%s: parent table %s of %q is not managed", owner, ref.Table, pd.row.ID)
		}
		col, ok := pt.childColumn[pd.table.name]
		if !ok {
			return nil, fmt.Errorf("%s: %s has no column referring to %s", owner, ref.Table, pd.table.name)
		}
		pk := rowKey{ref.Table, ref.ID}
		if ref.Owner == owner {
			if parent, ok := byKey[pk]; ok {
				parent.children[col.name] = append(parent.children[col.name], ovsdb.UUID{GoUUID: pd.named})
				continue
			}
			if e, ok := have[pk]; ok {
				p.addRef(refs, pt.name, e.uuid, col.name, pd.named, true)
				continue
			}
			return nil, fmt.Errorf("%s: parent %s %q of %q is not among the owner's rows", owner, ref.Table, ref.ID, pd.row.ID)
		}
		uuid, found, err := p.store.find(ref.Owner, pt, ref.ID)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, &errParentMissing{ref: *ref}
		}
		p.addRef(refs, pt.name, uuid, col.name, pd.named, true)
	}

	// Stale rows: unlink from a parent that stays, then delete.
	staleByKey := map[rowKey]bool{}
	for k := range have {
		if !wanted[k] {
			staleByKey[k] = true
		}
	}
	for k, e := range have {
		if staleByKey[k] {
			stale = append(stale, e)
		}
	}
	sort.Slice(stale, func(a, b int) bool { return stale[a].uuid < stale[b].uuid })
	var deletes []ovsdb.Operation
	for _, e := range stale {
		if e.parent != "" {
			if err := p.unlink(owner, e, staleByKey, refs); err != nil {
				return nil, err
			}
		}
		deletes = append(deletes, ovsdb.Operation{Op: ovsdb.OperationDelete, Table: e.table.name, Where: uuidWhere(e.uuid)})
	}

	ins, err := insertOps(inserts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", owner, err)
	}
	out := &planOps{inserts: ins, changes: append(updates, mutates...), deletes: deletes}
	for _, m := range refs {
		out.refs = append(out.refs, m)
	}
	if out.size() == 0 {
		return nil, nil
	}
	return out, nil
}

// planOps is one owner's operations by kind. Reference mutations are kept
// apart so a transaction of many owners links all of them into a shared
// parent (ovn_cluster_router.ports, a node switch's ports) with one mutation.
type planOps struct {
	inserts []ovsdb.Operation // children before parents
	refs    []*refMutation    // elements added to / removed from existing parents
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
// (defining every named uuid), merged links into existing parents, changes,
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

// externalIDs returns the row's desired external_ids: the translator's keys
// plus the ownership keys.
func (p *planner) externalIDs(owner Owner, row *Row) map[string]string {
	t := p.byType[reflect.TypeOf(row.Model)]
	src := t.externalIDs(row.Model)
	ids := make(map[string]string, len(src)+5)
	for k, v := range src {
		ids[k] = v
	}
	ids[OwnerControllerKey] = p.controller
	ids[OwnerTypeKey] = owner.Type
	ids[OwnerKey] = owner.Name
	ids[IDKey] = rowID(p.controller, owner, row.ID)
	if row.Parent != nil {
		ids[ParentKey] = row.Parent.Table + ":" + rowID(p.controller, row.Parent.Owner, row.Parent.ID)
	}
	return ids
}

// unlink removes a stale row from its parent's reference column, unless the
// parent goes away in the same transaction (then OVSDB collects the child).
func (p *planner) unlink(owner Owner, e existingRow, staleByKey map[rowKey]bool, refs map[string]*refMutation) error {
	table, id, ok := strings.Cut(e.parent, ":")
	pt, managed := p.store.tables[table]
	if !ok || !managed {
		return nil // unknown parent: the explicit delete is all we can do
	}
	_, pOwner, local, err := parseRowID(id)
	if err != nil {
		return nil
	}
	if pOwner == owner && staleByKey[rowKey{table, local}] {
		return nil
	}
	col, ok := pt.childColumn[e.table.name]
	if !ok {
		return nil
	}
	uuid, found, err := p.store.find(pOwner, pt, local)
	if err != nil {
		return err
	}
	if found {
		p.addRef(refs, table, uuid, col.name, e.uuid, false)
	}
	return nil
}

func (p *planner) addRef(refs map[string]*refMutation, table, uuid, column, child string, insert bool) {
	k := uuid + "/" + column
	m, ok := refs[k]
	if !ok {
		m = &refMutation{table: table, uuid: uuid, column: column}
		refs[k] = m
	}
	if insert {
		m.insert = append(m.insert, ovsdb.UUID{GoUUID: child})
	} else {
		m.delete = append(m.delete, ovsdb.UUID{GoUUID: child})
	}
}

// refOps renders the collected reference mutations, inserts or deletes.
func refOps(refs map[string]*refMutation, insert bool) []ovsdb.Operation {
	keys := make([]string, 0, len(refs))
	for k := range refs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ops []ovsdb.Operation
	for _, k := range keys {
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
			Mutations: []ovsdb.Mutation{{Column: m.column, Mutator: mutator, Value: ovsdb.OvsSet{GoSet: elems}}},
		})
	}
	return ops
}

// insertOps renders inserts children first, so every named uuid a parent's
// row refers to was defined by an earlier operation of the transaction.
func insertOps(inserts []*pending) ([]ovsdb.Operation, error) {
	byNamed := map[string]*pending{}
	for _, pd := range inserts {
		byNamed[pd.named] = pd
	}
	depth := map[*pending]int{}
	var height func(pd *pending) int
	height = func(pd *pending) int {
		if d, ok := depth[pd]; ok {
			return d
		}
		h := 0
		for _, kids := range pd.children {
			for _, k := range kids {
				if c := byNamed[k.(ovsdb.UUID).GoUUID]; c != nil {
					if ch := height(c) + 1; ch > h {
						h = ch
					}
				}
			}
		}
		depth[pd] = h
		return h
	}
	ordered := append([]*pending(nil), inserts...)
	sort.SliceStable(ordered, func(a, b int) bool { return height(ordered[a]) < height(ordered[b]) })
	ops := make([]ovsdb.Operation, 0, len(ordered))
	for _, pd := range ordered {
		row, err := insertRow(pd.table, pd.row.Model)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", pd.table.name, pd.row.ID, err)
		}
		for col, kids := range pd.children {
			row[col] = ovsdb.OvsSet{GoSet: kids}
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

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return v.IsNil() || (v.Kind() != reflect.Pointer && v.Len() == 0)
	default:
		return v.IsZero()
	}
}

func uuidWhere(uuid string) []ovsdb.Condition {
	return []ovsdb.Condition{{Column: "_uuid", Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: uuid}}}
}

// IsParentMissing reports whether err says a row's parent is not in the NB yet.
func IsParentMissing(err error) bool {
	var pm *errParentMissing
	return errors.As(err, &pm)
}
