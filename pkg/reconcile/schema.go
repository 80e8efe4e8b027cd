package reconcile

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// columnKind says how a column is compared and written.
type columnKind int

const (
	kindScalar   columnKind = iota // plain value: update when different
	kindOptional                   // 0..1 set, a Go pointer: update when different
	kindSet                        // set: mutate the elements that changed
	kindMap                        // map: mutate the pairs that changed
)

type column struct {
	name   string
	field  int // index of the struct field
	kind   columnKind
	schema *ovsdb.ColumnSchema
}

// tableInfo is what the reconciler knows about one NB table: which columns
// carry desired content and which columns of it refer to child tables.
type tableInfo struct {
	name    string
	typ     reflect.Type // struct type (not pointer)
	root    bool
	uuidIdx int
	extIdx  int // field index of external_ids
	content []column
	// childColumn maps a child table to the column of this table that holds
	// references to it ("Logical_Router_Port" -> "ports").
	childColumn map[string]column
}

// foreignColumns are written by ovn-northd or other actors, never by us; the
// reconciler neither compares nor writes them.
var foreignColumns = map[string]map[string]bool{
	"Logical_Switch_Port": {"up": true, "dynamic_addresses": true, "tag": true},
	"Logical_Router_Port": {"status": true},
}

func isRefColumn(c *ovsdb.ColumnSchema) bool {
	if c.TypeObj == nil {
		return c.Type == ovsdb.TypeUUID
	}
	if c.TypeObj.Key != nil && c.TypeObj.Key.Type == ovsdb.TypeUUID {
		return true
	}
	return c.TypeObj.Value != nil && c.TypeObj.Value.Type == ovsdb.TypeUUID
}

func refTable(c *ovsdb.ColumnSchema) string {
	if c.TypeObj == nil || c.TypeObj.Key == nil || c.TypeObj.Key.Type != ovsdb.TypeUUID {
		return ""
	}
	rt, _ := c.TypeObj.Key.RefTable()
	return rt
}

// buildTables derives tableInfo for the given tables from the client's model.
func buildTables(dbModel model.DatabaseModel, names []string) (map[string]*tableInfo, error) {
	schema := dbModel.Schema
	out := map[string]*tableInfo{}
	for _, name := range names {
		ts := schema.Table(name)
		if ts == nil {
			return nil, fmt.Errorf("table %s is not in schema %s", name, schema.Name)
		}
		typ, ok := dbModel.Types()[name]
		if !ok {
			return nil, fmt.Errorf("table %s has no model", name)
		}
		t := &tableInfo{name: name, typ: typ.Elem(), root: ts.IsRoot, uuidIdx: -1, extIdx: -1, childColumn: map[string]column{}}
		for i := 0; i < t.typ.NumField(); i++ {
			f := t.typ.Field(i)
			colName := f.Tag.Get("ovsdb")
			if colName == "_uuid" {
				t.uuidIdx = i
				continue
			}
			cs := ts.Column(colName)
			if cs == nil {
				continue
			}
			col := column{name: colName, field: i, schema: cs}
			switch f.Type.Kind() {
			case reflect.Pointer:
				col.kind = kindOptional
			case reflect.Slice:
				col.kind = kindSet
			case reflect.Map:
				col.kind = kindMap
			default:
				col.kind = kindScalar
			}
			if colName == "external_ids" {
				t.extIdx = i
			}
			if isRefColumn(cs) {
				if rt := refTable(cs); rt != "" {
					if _, dup := t.childColumn[rt]; dup {
						// Two columns refer to the same table; a Row's parent
						// would be ambiguous. None of the tables we manage has this.
						delete(t.childColumn, rt)
					} else {
						t.childColumn[rt] = col
					}
				}
				continue
			}
			if foreignColumns[name][colName] {
				continue
			}
			t.content = append(t.content, col)
		}
		if t.uuidIdx < 0 || t.extIdx < 0 {
			return nil, fmt.Errorf("table %s needs _uuid and external_ids columns to be managed", name)
		}
		sort.Slice(t.content, func(a, b int) bool { return t.content[a].name < t.content[b].name })
		out[name] = t
	}
	return out, nil
}

func (t *tableInfo) value(m model.Model, idx int) reflect.Value {
	return reflect.ValueOf(m).Elem().Field(idx)
}

func (t *tableInfo) externalIDs(m model.Model) map[string]string {
	v := t.value(m, t.extIdx)
	if v.IsNil() {
		return nil
	}
	return v.Interface().(map[string]string)
}

func (t *tableInfo) setExternalIDs(m model.Model, ids map[string]string) {
	t.value(m, t.extIdx).Set(reflect.ValueOf(ids))
}

// newModel returns an empty model of this table.
func (t *tableInfo) newModel() model.Model {
	return reflect.New(t.typ).Interface().(model.Model)
}
