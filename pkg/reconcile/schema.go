package reconcile

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

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
	// refTable and strong are set on reference columns (sets of uuids).
	refTable string
	strong   bool
}

// tableInfo is what the reconciler knows about one NB table: which columns
// carry desired content and which refer to other tables.
type tableInfo struct {
	name    string
	typ     reflect.Type // struct type (not pointer)
	root    bool
	uuidIdx int
	extIdx  int // field index of external_ids; -1 for keyed tables
	// keyed tables have no external_ids (Load_Balancer_Group,
	// Static_MAC_Binding): their rows cannot carry ownership tags and are
	// known by their unique key instead (see store.claims): the columns of
	// a schema index of string columns (keyIdx), "name" or e.g.
	// "logical_port", "ip", the row's key being their values joined by
	// keySep.
	keyed   bool
	keyIdx  []int
	content []column
	// refs holds every reference column by name ("ports", "load_balancer").
	refs map[string]column
	// referrers lists the strong reference columns of managed tables that
	// point at this root table: a row of it cannot be deleted while such a
	// reference remains (filled by linkTables).
	referrers []referrer
}

// referrer is a strong reference column of another table into this one.
type referrer struct {
	table *tableInfo
	col   column
}

// foreignColumns are written by ovn-northd or other actors, never by us; the
// reconciler neither compares nor writes them.
var foreignColumns = map[string]map[string]bool{
	"Logical_Switch_Port": {"up": true, "dynamic_addresses": true, "tag": true},
	"Logical_Router_Port": {"status": true},
}

// refTarget returns the table a reference column points at and whether the
// reference is strong; "" for columns that are not references to a table.
// Only key references are supported: the NB has no uuid-valued maps.
func refTarget(c *ovsdb.ColumnSchema) (string, bool) {
	if c.TypeObj == nil || c.TypeObj.Key == nil || c.TypeObj.Key.Type != ovsdb.TypeUUID {
		return "", false
	}
	rt, err := c.TypeObj.Key.RefTable()
	if err != nil || rt == "" {
		return "", false
	}
	kind, _ := c.TypeObj.Key.RefType()
	return rt, kind != ovsdb.Weak
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
		t := &tableInfo{name: name, typ: typ.Elem(), root: ts.IsRoot, uuidIdx: -1, extIdx: -1, refs: map[string]column{}}
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
			switch colName {
			case "external_ids":
				t.extIdx = i
			}
			if rt, strong := refTarget(cs); rt != "" {
				col.refTable, col.strong = rt, strong
				t.refs[colName] = col
				continue
			}
			if foreignColumns[name][colName] {
				continue
			}
			t.content = append(t.content, col)
		}
		if t.extIdx < 0 {
			// Without external_ids a row can only be ours by its unique key.
			t.keyIdx = stringIndex(t.typ, ts.Indexes)
			t.keyed = len(t.keyIdx) > 0
		}
		if t.uuidIdx < 0 || (t.extIdx < 0 && !t.keyed) {
			return nil, fmt.Errorf("table %s needs external_ids, or a unique name, to be managed", name)
		}
		sort.Slice(t.content, func(a, b int) bool { return t.content[a].name < t.content[b].name })
		out[name] = t
	}
	linkTables(out)
	return out, nil
}

// linkTables records on each table the strong references other managed
// tables hold into it.
func linkTables(tables map[string]*tableInfo) {
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := tables[n]
		cols := make([]string, 0, len(t.refs))
		for c := range t.refs {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		for _, c := range cols {
			col := t.refs[c]
			// Strong references to non-root rows are their Parents, found
			// through ParentKey; only root rows need the scan.
			if target, ok := tables[col.refTable]; ok && col.strong && target.root {
				target.referrers = append(target.referrers, referrer{table: t, col: col})
			}
		}
	}
}

// parentColumn resolves the column of t that holds references to child
// rows of table child: the named one, or the only candidate when none is
// named. Two candidates without a name is an error, never a guess.
func (t *tableInfo) parentColumn(child, named string) (column, error) {
	if named != "" {
		c, ok := t.refs[named]
		if !ok || c.refTable != child {
			return column{}, fmt.Errorf("%s has no column %q referring to %s", t.name, named, child)
		}
		return c, nil
	}
	var found []column
	for _, c := range t.refs {
		if c.refTable == child {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return column{}, fmt.Errorf("%s has no column referring to %s", t.name, child)
	default:
		names := make([]string, len(found))
		for i, c := range found {
			names[i] = c.name
		}
		sort.Strings(names)
		return column{}, fmt.Errorf("%s has several columns referring to %s (%s): the reference must name one", t.name, child, strings.Join(names, ", "))
	}
}

func (t *tableInfo) value(m model.Model, idx int) reflect.Value {
	return reflect.ValueOf(m).Elem().Field(idx)
}

func (t *tableInfo) externalIDs(m model.Model) map[string]string {
	if t.extIdx < 0 {
		return nil
	}
	v := t.value(m, t.extIdx)
	if v.IsNil() {
		return nil
	}
	return v.Interface().(map[string]string)
}

func (t *tableInfo) setExternalIDs(m model.Model, ids map[string]string) {
	if t.extIdx >= 0 {
		t.value(m, t.extIdx).Set(reflect.ValueOf(ids))
	}
}

// keySep joins the columns of a composite key ("rtoj-GR_n1|100.64.0.1").
const keySep = "|"

// stringIndex returns the field indexes of the first schema index whose
// columns are all string fields of typ.
func stringIndex(typ reflect.Type, indexes [][]string) []int {
	for _, ix := range indexes {
		var fields []int
		for _, col := range ix {
			for i := 0; i < typ.NumField(); i++ {
				if typ.Field(i).Tag.Get("ovsdb") == col && typ.Field(i).Type.Kind() == reflect.String {
					fields = append(fields, i)
				}
			}
		}
		if len(fields) == len(ix) {
			return fields
		}
	}
	return nil
}

// rowName returns the key of a keyed table's row.
func (t *tableInfo) rowName(m model.Model) string {
	parts := make([]string, len(t.keyIdx))
	for i, f := range t.keyIdx {
		parts[i] = t.value(m, f).String()
	}
	return strings.Join(parts, keySep)
}

// setRowName sets a keyed model's key columns from a key.
func (t *tableInfo) setRowName(m model.Model, key string) {
	parts := strings.SplitN(key, keySep, len(t.keyIdx))
	for i, f := range t.keyIdx {
		if i < len(parts) {
			t.value(m, f).SetString(parts[i])
		}
	}
}

// uuids returns the elements of a reference column of m.
func (t *tableInfo) uuids(m model.Model, c column) []string {
	v := t.value(m, c.field)
	switch v.Kind() {
	case reflect.Slice:
		return v.Interface().([]string)
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return []string{v.Elem().String()}
	case reflect.String:
		if s := v.String(); s != "" {
			return []string{s}
		}
	}
	return nil
}

// newModel returns an empty model of this table.
func (t *tableInfo) newModel() model.Model {
	return reflect.New(t.typ).Interface().(model.Model)
}
