package reconcile

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/model"
)

// errParentMissing means a row's parent belongs to another owner whose rows
// are not in the NB yet (a Node's router port before the Cluster's router).
// The owner waits for the parent to appear; it is not an error of the owner.
type errParentMissing struct{ ref Ref }

func (e *errParentMissing) Error() string {
	return fmt.Sprintf("parent %s %q of %s is not in the NB yet", e.ref.Table, e.ref.ID, e.ref.Owner)
}

// IsParentMissing reports whether err says a row's parent is not in the NB yet.
func IsParentMissing(err error) bool {
	var pm *errParentMissing
	return errors.As(err, &pm)
}

// planner turns (desired rows, rows in the cache) into OVSDB operations for one
// owner. It reads the cache but never writes.
type planner struct {
	controller string
	store      *store
	byType     map[reflect.Type]*tableInfo
	names      func() string // fresh named-uuid per insert, unique per transaction
	// watch is told every row of another owner a plan points at, before the
	// plan looks it up in the cache: if the row appears after the lookup,
	// its cache event already finds the dependency recorded.
	watch func(owner Owner, t target)
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
	children map[string][]string // ref column -> uuids of children linked at insert
	refs     map[string][]string // declared ref columns -> resolved uuids
}

// planState is one owner's plan in the making.
type planState struct {
	p        *planner
	owner    Owner
	have     map[rowKey]existingRow
	wanted   map[rowKey]bool
	byKey    map[rowKey]*pending
	refs     map[string]*refMutation
	targets  map[target]string // rows of other owners pointed at -> uuid found
	stale    map[rowKey]bool
	declared map[rowKey]map[string]bool // ref columns each desired row declares
	missing  []target                   // referenced rows of others not in the NB
	released []keyedRow                 // keyed rows this plan deletes
}

// keyedRow names a row of a keyed table.
type keyedRow struct {
	table *tableInfo
	name  string
}

// planResult is one owner's plan: the operations (nil when the NB already
// matches), every row of other owners its rows point at, and which of the
// rows its references name were not in the NB (skipped).
type planResult struct {
	ops      *planOps
	targets  map[target]string
	missing  []target
	released []keyedRow // to unclaim once committed
}

// resolved is a row a relation points at: in the NB (uuid; model set for the
// owner's own rows) or inserted by this plan (pend set).
type resolved struct {
	table *tableInfo
	uuid  string
	model model.Model
	pend  *pending
}

// plan computes the operations that make owner's NB rows equal desired.
// tables limits where the owner's existing rows are looked up. The result's
// targets are filled even when it fails with a missing parent.
func (p *planner) plan(owner Owner, desired []Row, tables []*tableInfo) (planResult, error) {
	s := &planState{
		p: p, owner: owner,
		have: map[rowKey]existingRow{}, wanted: map[rowKey]bool{}, byKey: map[rowKey]*pending{},
		refs: map[string]*refMutation{}, targets: map[target]string{},
		stale: map[rowKey]bool{}, declared: map[rowKey]map[string]bool{},
	}
	existing, err := p.store.owned(owner, tables)
	if err != nil {
		return planResult{}, err
	}
	var stale []existingRow
	for _, e := range existing {
		k := rowKey{e.table.name, e.local}
		if _, dup := s.have[k]; dup || e.local == "" {
			stale = append(stale, e) // a duplicate or an unparsable id: not ours to keep
			continue
		}
		s.have[k] = e
	}
	wantTable, err := s.validate(desired, tables)
	if err != nil {
		return s.result(nil), err
	}
	if err := s.adoptKeyed(desired, wantTable); err != nil {
		return s.result(nil), err
	}
	for k, e := range s.have {
		if !s.wanted[k] {
			s.stale[k] = true
			stale = append(stale, e)
		}
	}
	// New rows get their named uuids first, so relations between an owner's
	// new rows resolve in any order.
	var inserts []*pending
	for i, row := range desired {
		t := wantTable[i]
		k := rowKey{t.name, row.ID}
		if _, ok := s.have[k]; ok {
			continue
		}
		pd := &pending{table: t, row: row, named: p.names(), children: map[string][]string{}}
		inserts = append(inserts, pd)
		s.byKey[k] = pd
	}

	out := &planOps{}
	for i, row := range desired {
		t := wantTable[i]
		k := rowKey{t.name, row.ID}
		refs, err := s.resolveRefs(t, row)
		if err != nil {
			return s.result(nil), err
		}
		t.setExternalIDs(row.Model, p.externalIDs(owner, t, &row))
		if pd, ok := s.byKey[k]; ok {
			pd.refs = refs
			if err := s.link(pd.named, t, row, nil); err != nil {
				return s.result(nil), err
			}
			continue
		}
		e := s.have[k]
		up, mu, err := diffRow(t, e.uuid, row.Model, e.model, refs)
		if err != nil {
			return s.result(nil), fmt.Errorf("%s: %s %q: %w", owner, t.name, row.ID, err)
		}
		if up != nil {
			out.changes = append(out.changes, *up)
		}
		if mu != nil {
			out.changes = append(out.changes, *mu)
		}
		if err := s.link(e.uuid, t, row, e.parents); err != nil {
			return s.result(nil), err
		}
	}

	sort.Slice(stale, func(a, b int) bool { return stale[a].uuid < stale[b].uuid })
	for _, e := range stale {
		if e.table.keyed {
			s.released = append(s.released, keyedRow{e.table, e.local})
		}
		s.unlinkStale(e)
		out.deletes = append(out.deletes, deleteOp(e.table.name, e.uuid))
	}

	ins, err := insertOps(inserts)
	if err != nil {
		return s.result(nil), fmt.Errorf("%s: %w", owner, err)
	}
	out.inserts = ins
	for _, m := range s.refs {
		out.refs = append(out.refs, m)
	}
	if out.size() == 0 {
		return s.result(nil), nil
	}
	return s.result(out), nil
}

func (s *planState) result(ops *planOps) planResult {
	return planResult{ops: ops, targets: s.targets, missing: s.missing, released: s.released}
}

// validate checks the desired rows and returns each row's table.
func (s *planState) validate(desired []Row, tables []*tableInfo) ([]*tableInfo, error) {
	owner := s.owner
	wantTable := make([]*tableInfo, len(desired))
	for i := range desired {
		row := &desired[i]
		t, ok := s.p.byType[reflect.TypeOf(row.Model)]
		if !ok {
			return nil, fmt.Errorf("%s: row %q: model %T is not a managed table", owner, row.ID, row.Model)
		}
		if tables != nil && !slices.Contains(tables, t) {
			return nil, fmt.Errorf("%s: row %q is a %s row, a table its owner type does not declare", owner, row.ID, t.name)
		}
		if row.ID == "" || strings.Contains(row.ID, ",") {
			return nil, fmt.Errorf("%s: %s row id %q: empty or with a comma", owner, t.name, row.ID)
		}
		k := rowKey{t.name, row.ID}
		if s.wanted[k] {
			return nil, fmt.Errorf("%s: two %s rows with id %q", owner, t.name, row.ID)
		}
		s.wanted[k] = true
		wantTable[i] = t
		kept := false
		for _, ref := range row.Parents {
			col, err := s.p.parentColumn(ref, t)
			if err != nil {
				return nil, fmt.Errorf("%s: parent of %s %q: %w", owner, t.name, row.ID, err)
			}
			kept = kept || col.strong
		}
		if !t.root && !kept {
			// OVSDB garbage-collects unreferenced rows of non-root tables at commit.
			return nil, fmt.Errorf("%s: %s row %q of a non-root table needs a parent with a strong reference column", owner, t.name, row.ID)
		}
		if len(row.Refs) > 0 {
			s.declared[k] = map[string]bool{}
		}
		for name, targets := range row.Refs {
			c, ok := t.refs[name]
			if !ok {
				return nil, fmt.Errorf("%s: %s %q declares %q, not a reference column", owner, t.name, row.ID, name)
			}
			for _, ref := range targets {
				if ref.Table != c.refTable {
					return nil, fmt.Errorf("%s: %s %q column %s refers to %s, not %s", owner, t.name, row.ID, name, c.refTable, ref.Table)
				}
			}
			s.declared[k][name] = true
		}
	}
	return wantTable, nil
}

// adoptKeyed claims the owner's desired rows of keyed tables and finds those
// already in the NB by name: created by an earlier run or by hand, they are
// this owner's row from now on.
func (s *planState) adoptKeyed(desired []Row, wantTable []*tableInfo) error {
	for i, row := range desired {
		t := wantTable[i]
		if !t.keyed {
			continue
		}
		if t.rowName(row.Model) != row.ID || len(row.Parents) > 0 {
			return fmt.Errorf("%s: %s row %q: rows of a table without external_ids need their name as id and no parents", s.owner, t.name, row.ID)
		}
		if !s.p.store.claim(t, row.ID, s.owner) {
			return fmt.Errorf("%s: %s %q is desired by another owner; shared rows need a Shared owner", s.owner, t.name, row.ID)
		}
		k := rowKey{t.name, row.ID}
		if _, ok := s.have[k]; ok {
			continue
		}
		e, err := s.p.store.byName(t, row.ID)
		if err != nil {
			return err
		}
		if e != nil {
			s.have[k] = *e
		}
	}
	return nil
}

// parentColumn resolves a parent reference's table and column.
func (p *planner) parentColumn(ref Ref, child *tableInfo) (column, error) {
	pt, ok := p.store.tables[ref.Table]
	if !ok {
		return column{}, fmt.Errorf("table %s is not managed", ref.Table)
	}
	if strings.Contains(ref.ID, ",") || strings.Contains(ref.Owner.Name, ",") {
		return column{}, fmt.Errorf("%s %q of %s: ids with a comma cannot be recorded", ref.Table, ref.ID, ref.Owner)
	}
	return pt.parentColumn(child.name, ref.Column)
}

// resolve finds the row ref points at. Rows of this owner must be among its
// desired rows; rows of other owners are looked up in the cache and recorded
// as dependencies. found is false when the row is not there.
func (s *planState) resolve(ref Ref) (resolved, bool, error) {
	t, ok := s.p.store.tables[ref.Table]
	if !ok {
		return resolved{}, false, fmt.Errorf("%s: table %s is not managed", s.owner, ref.Table)
	}
	if ref.Owner == s.owner {
		k := rowKey{ref.Table, ref.ID}
		if pd, ok := s.byKey[k]; ok {
			return resolved{table: t, uuid: pd.named, pend: pd}, true, nil
		}
		if e, ok := s.have[k]; ok && s.wanted[k] {
			return resolved{table: t, uuid: e.uuid, model: e.model}, true, nil
		}
		return resolved{}, false, fmt.Errorf("%s: %s %q is not among the owner's rows", s.owner, ref.Table, ref.ID)
	}
	tg := ref.target()
	if _, seen := s.targets[tg]; !seen {
		s.targets[tg] = ""
		if s.p.watch != nil {
			s.p.watch(s.owner, tg)
		}
	}
	uuid, found, err := s.p.store.locate(ref.Owner, t, ref.ID)
	if err != nil || !found {
		return resolved{}, false, err
	}
	s.targets[tg] = uuid
	return resolved{table: t, uuid: uuid}, true, nil
}

// holds reports whether the resolved row holds member in column c: from
// the owner's own cloned row, or from the memo for rows of others.
func (s *planState) holds(r resolved, c column, member string) bool {
	if r.model != nil {
		return slices.Contains(r.table.uuids(r.model, c), member)
	}
	return s.p.store.isMember(r.table, r.uuid, c, member)
}

// resolveRefs returns the uuids of a row's declared reference columns.
// Targets of other owners that are not in the NB are skipped.
func (s *planState) resolveRefs(t *tableInfo, row Row) (map[string][]string, error) {
	if len(row.Refs) == 0 {
		return nil, nil
	}
	out := make(map[string][]string, len(row.Refs))
	for name, targets := range row.Refs {
		uuids := make([]string, 0, len(targets))
		for _, ref := range targets {
			r, found, err := s.resolve(ref)
			if err != nil {
				return nil, err
			}
			if found {
				uuids = append(uuids, r.uuid)
			} else {
				s.missing = append(s.missing, ref.target())
			}
		}
		out[name] = uuids
	}
	return out, nil
}

// link makes row (uuid: real, or named when new) a member of exactly its
// desired parents: it joins the parents it is missing from (checked against
// the parent's column every time, so a parent re-created empty is refilled)
// and leaves those it was recorded in and no longer wants.
func (s *planState) link(uuid string, t *tableInfo, row Row, recorded []parentLink) error {
	want := map[parentLink]bool{}
	for _, ref := range row.Parents {
		col, err := s.p.parentColumn(ref, t)
		if err != nil {
			return err
		}
		want[parentLink{target: ref.target(), column: col.name}] = true
		parent, found, err := s.resolve(ref)
		if err != nil {
			return err
		}
		if !found {
			return &errParentMissing{ref: ref}
		}
		if s.declared[rowKey{ref.Table, ref.ID}][col.name] && ref.Owner == s.owner {
			return fmt.Errorf("%s: %s %q names %s %q as parent through %s, a column that row declares in its Refs", s.owner, t.name, row.ID, ref.Table, ref.ID, col.name)
		}
		switch {
		case parent.pend != nil:
			parent.pend.children[col.name] = append(parent.pend.children[col.name], uuid)
		case !s.holds(parent, col, uuid):
			s.addRef(parent.table.name, parent.uuid, col.name, uuid, true)
		}
	}
	for _, l := range recorded {
		pt, ok := s.p.store.tables[l.table]
		if !ok {
			continue
		}
		col, err := pt.parentColumn(t.name, l.column)
		if err != nil || want[parentLink{target: l.target, column: col.name}] {
			continue
		}
		s.leave(l, pt, col, uuid)
	}
	return nil
}

// leave removes uuid from a recorded parent's column, when the parent is
// still there and holds it.
func (s *planState) leave(l parentLink, pt *tableInfo, col column, uuid string) {
	if l.owner == s.owner {
		k := rowKey{l.table, l.local}
		if s.stale[k] {
			return // the parent goes in this transaction too
		}
		if e, ok := s.have[k]; ok && slices.Contains(pt.uuids(e.model, col), uuid) {
			s.addRef(pt.name, e.uuid, col.name, uuid, false)
		}
		return
	}
	puuid, found, err := s.p.store.locate(l.owner, pt, l.local)
	if err != nil || !found {
		return
	}
	if s.p.store.isMember(pt, puuid, col, uuid) {
		s.addRef(pt.name, puuid, col.name, uuid, false)
	}
}

// unlinkStale removes a row about to be deleted from every reference that
// would keep it or fail the delete: the parents it was recorded in and, for
// root rows, strong references other rows hold to it.
func (s *planState) unlinkStale(e existingRow) {
	for _, l := range e.parents {
		pt, ok := s.p.store.tables[l.table]
		if !ok {
			continue // unknown parent: the explicit delete is all we can do
		}
		col, err := pt.parentColumn(e.table.name, l.column)
		if err != nil {
			continue
		}
		s.leave(l, pt, col, e.uuid)
	}
	if !e.table.root {
		return
	}
	for _, h := range s.p.store.referencing(e.table, e.uuid) {
		if h.owner == s.owner && s.stale[rowKey{h.table.name, h.local}] {
			continue // the holder goes in this transaction too
		}
		s.addRef(h.table.name, h.uuid, h.col.name, e.uuid, false)
	}
}

func (s *planState) addRef(table, uuid, column, child string, insert bool) {
	k := uuid + "/" + column
	m, ok := s.refs[k]
	if !ok {
		m = &refMutation{table: table, uuid: uuid, column: column}
		s.refs[k] = m
	}
	if insert {
		m.insert = append(m.insert, child)
	} else {
		m.delete = append(m.delete, child)
	}
}

// externalIDs returns the row's desired external_ids: the translator's keys
// plus the ownership keys and the parents it is linked into.
func (p *planner) externalIDs(owner Owner, t *tableInfo, row *Row) map[string]string {
	return OwnedExternalIDs(p.controller, owner, row, t.externalIDs(row.Model))
}

// OwnedExternalIDs returns the external_ids the reconciler of controller
// writes on row of owner: the translator's own keys (src) plus the
// ownership keys and the parents the row is linked into. Exported for
// tools that must write rows exactly as the reconciler would (the
// benchmark's floor).
func OwnedExternalIDs(controller string, owner Owner, row *Row, src map[string]string) map[string]string {
	ids := make(map[string]string, len(src)+5)
	for k, v := range src {
		ids[k] = v
	}
	ids[OwnerControllerKey] = controller
	ids[OwnerTypeKey] = owner.Type
	ids[OwnerKey] = owner.Name
	ids[IDKey] = rowID(controller, owner, row.ID)
	if len(row.Parents) > 0 {
		links := make([]parentLink, len(row.Parents))
		for i, ref := range row.Parents {
			links[i] = parentLink{target: ref.target(), column: ref.Column}
		}
		ids[ParentKey] = encodeParents(controller, links)
	}
	return ids
}
