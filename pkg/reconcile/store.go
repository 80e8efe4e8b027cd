package reconcile

import (
	"fmt"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
)

// existingRow is a row of ours found in the NB cache.
type existingRow struct {
	table  *tableInfo
	uuid   string
	model  model.Model
	local  string // local id parsed from k8s.ovn.org/id; "" when unparsable
	parent string // k8s.ovn.org/parent, "" for rows without a parent
}

// store reads owned rows from the libovsdb cache through the client index on
// (owner-type, owner), so a lookup costs O(rows of that owner), never
// O(rows in the table).
type store struct {
	cache      *cache.TableCache
	controller string
	tables     map[string]*tableInfo
	order      []*tableInfo // deterministic iteration order
}

// owned returns owner's rows in the given tables (all managed tables if nil).
func (s *store) owned(owner Owner, tables []*tableInfo) ([]existingRow, error) {
	if tables == nil {
		tables = s.order
	}
	var out []existingRow
	for _, t := range tables {
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
			row := existingRow{table: t, uuid: uuid, model: m, parent: ext[ParentKey]}
			if ctrl, o, local, err := parseRowID(ext[IDKey]); err == nil && ctrl == s.controller && o == owner {
				row.local = local
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// find returns the uuid of the row with the given local id of owner in table.
func (s *store) find(owner Owner, table *tableInfo, local string) (string, bool, error) {
	rows, err := s.owned(owner, []*tableInfo{table})
	if err != nil {
		return "", false, err
	}
	for _, r := range rows {
		if r.local == local {
			return r.uuid, true, nil
		}
	}
	return "", false, nil
}

// owners lists every owner that has rows of ours in the NB. Used once at start
// so owners deleted while we were down are garbage-collected.
func (s *store) owners() map[Owner]bool {
	out := map[Owner]bool{}
	for _, t := range s.order {
		rc := s.cache.Table(t.name)
		if rc == nil {
			continue
		}
		for _, m := range rc.RowsShallow() {
			ext := t.externalIDs(m)
			if ext[OwnerControllerKey] != s.controller || ext[OwnerTypeKey] == "" || ext[OwnerKey] == "" {
				continue
			}
			out[Owner{Type: ext[OwnerTypeKey], Name: ext[OwnerKey]}] = true
		}
	}
	return out
}

// ClientIndexes returns the libovsdb client indexes the reconciler needs on
// each managed table: set them on the ClientDBModel before connecting.
func ClientIndexes(tables []string) map[string][]model.ClientIndex {
	out := map[string][]model.ClientIndex{}
	for _, t := range tables {
		out[t] = []model.ClientIndex{{Columns: []model.ColumnKey{
			{Column: "external_ids", Key: OwnerTypeKey},
			{Column: "external_ids", Key: OwnerKey},
		}}}
	}
	return out
}
