package reconcile

import (
	"fmt"
	"slices"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// existingRow is a row of ours found in the NB cache.
type existingRow struct {
	table   *tableInfo
	uuid    string
	model   model.Model
	local   string       // local id parsed from k8s.ovn.org/id; "" when unparsable
	parents []parentLink // parsed k8s.ovn.org/parent
}

// store reads owned rows from the libovsdb cache through the client index on
// (owner-type, owner), so a lookup costs O(rows of that owner), never
// O(rows in the table).
type store struct {
	cache      *cache.TableCache
	controller string
	tables     map[string]*tableInfo
	order      []*tableInfo // deterministic iteration order

	// claims records which owner desires each row of a keyed table (no
	// external_ids): table -> name -> owner. It lives in memory, so a keyed
	// row that no owner desires any more after a restart is not collected;
	// keyed rows are the cluster's few load-balancer groups.
	claimsMu sync.Mutex
	claims   map[string]map[string]Owner

	memo memo
}

// locate returns the uuid of owner's row local in t, through the memo; the
// cache is searched (cloning the row) only when the memo does not know it or
// the row it knew is gone.
func (s *store) locate(owner Owner, t *tableInfo, local string) (string, bool, error) {
	tg := target{table: t.name, owner: owner, local: local}
	if u, ok := s.memo.uuid(tg); ok && s.cache.Table(t.name).HasRow(u) {
		return u, true, nil
	}
	e, err := s.find(owner, t, local)
	if err != nil || e == nil {
		s.memo.forgetRow(tg)
		return "", false, err
	}
	s.memo.setUUID(tg, e.uuid)
	s.memo.changed(e.uuid)
	for _, c := range t.refs {
		s.memo.setMembers(e.uuid, c.name, t.uuids(e.model, c))
	}
	return e.uuid, true, nil
}

// isMember reports whether the row uuid of t holds member in column c.
func (s *store) isMember(t *tableInfo, uuid string, c column, member string) bool {
	set, ok := s.memo.set(uuid, c.name)
	if !ok {
		m := s.cache.Table(t.name).Row(uuid)
		if m == nil {
			return false
		}
		set = s.memo.setMembers(uuid, c.name, t.uuids(m, c))
	}
	return set[member]
}

// claim records that owner desires the keyed row name of t; false when
// another owner already does (two owners cannot share one named row: that
// is what Shared owners are for).
func (s *store) claim(t *tableInfo, name string, owner Owner) bool {
	s.claimsMu.Lock()
	defer s.claimsMu.Unlock()
	if s.claims == nil {
		s.claims = map[string]map[string]Owner{}
	}
	byName := s.claims[t.name]
	if byName == nil {
		byName = map[string]Owner{}
		s.claims[t.name] = byName
	}
	if o, ok := byName[name]; ok && o != owner {
		return false
	}
	byName[name] = owner
	return true
}

func (s *store) unclaim(t *tableInfo, name string) {
	s.claimsMu.Lock()
	defer s.claimsMu.Unlock()
	delete(s.claims[t.name], name)
}

// claimed returns the names of t's keyed rows owner desires, or the owner of name.
func (s *store) claimed(t *tableInfo, owner Owner) []string {
	s.claimsMu.Lock()
	defer s.claimsMu.Unlock()
	var out []string
	for n, o := range s.claims[t.name] {
		if o == owner {
			out = append(out, n)
		}
	}
	return out
}

func (s *store) claimant(t *tableInfo, name string) (Owner, bool) {
	s.claimsMu.Lock()
	defer s.claimsMu.Unlock()
	o, ok := s.claims[t.name][name]
	return o, ok
}

// byName looks a keyed row up through its name index.
func (s *store) byName(t *tableInfo, name string) (*existingRow, error) {
	rc := s.cache.Table(t.name)
	if rc == nil {
		return nil, fmt.Errorf("table %s is not monitored", t.name)
	}
	proto := t.newModel()
	t.setRowName(proto, name)
	uuid, m, err := rc.RowByModel(proto)
	if err != nil || m == nil {
		return nil, err
	}
	return &existingRow{table: t, uuid: uuid, model: m, local: name}, nil
}

// owned returns owner's rows in the given tables (all managed tables if nil).
func (s *store) owned(owner Owner, tables []*tableInfo) ([]existingRow, error) {
	if tables == nil {
		tables = s.order
	}
	var out []existingRow
	for _, t := range tables {
		if t.keyed {
			for _, name := range s.claimed(t, owner) {
				e, err := s.byName(t, name)
				if err != nil {
					return nil, err
				}
				if e == nil {
					s.unclaim(t, name) // gone; the plan claims it again if desired
					continue
				}
				out = append(out, *e)
			}
			continue
		}
		rc := s.cache.Table(t.name)
		if rc == nil {
			return nil, fmt.Errorf("table %s is not monitored", t.name)
		}
		proto := t.newModel()
		t.setExternalIDs(proto, map[string]string{OwnerTypeKey: owner.Type, OwnerKey: owner.Name})
		rows, err := rc.RowsByModels([]model.Model{proto})
		if err != nil {
			return nil, fmt.Errorf("look up %s rows of %s: %w", t.name, owner, err)
		}
		for uuid, m := range rows {
			ext := t.externalIDs(m)
			// The index lookup can also return rows matched by a schema index
			// on an empty name; keep only rows that are really this owner's.
			if ext[OwnerControllerKey] != s.controller || ext[OwnerTypeKey] != owner.Type || ext[OwnerKey] != owner.Name {
				continue
			}
			row := existingRow{table: t, uuid: uuid, model: m, parents: decodeParents(ext[ParentKey])}
			if ctrl, o, local, err := parseRowID(ext[IDKey]); err == nil && ctrl == s.controller && o == owner {
				row.local = local
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// find returns the row with the given local id of owner in table, nil when
// the NB has none.
func (s *store) find(owner Owner, table *tableInfo, local string) (*existingRow, error) {
	if table.keyed {
		return s.byName(table, local)
	}
	rows, err := s.owned(owner, []*tableInfo{table})
	if err != nil {
		return nil, err
	}
	for i := range rows {
		if rows[i].local == local {
			return &rows[i], nil
		}
	}
	return nil, nil
}

// referencing returns, for each strong reference column of a managed table
// into t, the rows (ours or not) whose column holds uuid. Deleting a row
// that is still strongly referenced fails the whole transaction, so the
// reference goes in the same one. It scans the referring tables; only rows
// of tables such references point at (load-balancer groups, address sets)
// pay for it, and only when they are deleted.
func (s *store) referencing(t *tableInfo, uuid string) []refHolder {
	var out []refHolder
	for _, ref := range t.referrers {
		rc := s.cache.Table(ref.table.name)
		if rc == nil {
			continue
		}
		for holder, m := range rc.RowsShallow() {
			if slices.Contains(ref.table.uuids(m, ref.col), uuid) {
				h := refHolder{table: ref.table, uuid: holder, col: ref.col}
				h.owner, h.local, _ = s.ownerOf(ref.table, m)
				out = append(out, h)
			}
		}
	}
	return out
}

// refHolder is a row whose reference column holds a row about to go.
type refHolder struct {
	table *tableInfo
	uuid  string
	col   column
	owner Owner  // zero for rows of others
	local string // the holder's local id when it is ours
}

// ownerOf returns the owner and local id of one of our rows, false for rows
// of others.
func (s *store) ownerOf(t *tableInfo, m model.Model) (Owner, string, bool) {
	if t.keyed {
		name := t.rowName(m)
		o, ok := s.claimant(t, name)
		return o, name, ok
	}
	ext := t.externalIDs(m)
	if ext[OwnerControllerKey] != s.controller || ext[OwnerTypeKey] == "" || ext[OwnerKey] == "" {
		return Owner{}, "", false
	}
	o := Owner{Type: ext[OwnerTypeKey], Name: ext[OwnerKey]}
	_, idOwner, local, err := parseRowID(ext[IDKey])
	if err != nil || idOwner != o {
		return o, "", true
	}
	return o, local, true
}

// owners lists every owner that has rows of ours in the NB. Used once at start
// so owners deleted while we were down are garbage-collected.
func (s *store) owners() map[Owner]bool {
	out := map[Owner]bool{}
	for _, t := range s.order {
		rc := s.cache.Table(t.name)
		if rc == nil || t.keyed {
			continue
		}
		for _, m := range rc.RowsShallow() {
			if o, _, ours := s.ownerOf(t, m); ours {
				out[o] = true
			}
		}
	}
	return out
}

// ClientIndexes returns the libovsdb client indexes the reconciler needs on
// each managed table of schema: set them on the ClientDBModel before
// connecting. Keyed tables (no external_ids) use their schema's name index.
func ClientIndexes(schema ovsdb.DatabaseSchema, tables []string) map[string][]model.ClientIndex {
	out := map[string][]model.ClientIndex{}
	for _, t := range tables {
		if ts := schema.Table(t); ts == nil || ts.Column("external_ids") == nil {
			continue
		}
		out[t] = []model.ClientIndex{{Columns: []model.ColumnKey{
			{Column: "external_ids", Key: OwnerTypeKey},
			{Column: "external_ids", Key: OwnerKey},
		}}}
	}
	return out
}
