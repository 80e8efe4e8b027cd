package reconcile

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// diffRow compares the content columns of a desired and an existing row and
// returns at most one update (scalars and constrained sets, whole column) and
// one mutate (sets and maps, only the elements that changed). Mutating
// elements instead of rewriting columns keeps other writers' keys and makes a
// one-port change to a 500-port set cost one element on the wire.
func diffRow(t *tableInfo, uuid string, want, have model.Model) (*ovsdb.Operation, *ovsdb.Operation, error) {
	update := ovsdb.Row{}
	var mutations []ovsdb.Mutation
	for _, c := range t.content {
		w, h := t.value(want, c.field), t.value(have, c.field)
		switch {
		case c.kind == kindSet && unconstrained(c.schema):
			add, del := setDiff(w, h)
			if len(add) > 0 {
				mutations = append(mutations, ovsdb.Mutation{Column: c.name, Mutator: ovsdb.MutateOperationInsert, Value: ovsdb.OvsSet{GoSet: add}})
			}
			if len(del) > 0 {
				mutations = append(mutations, ovsdb.Mutation{Column: c.name, Mutator: ovsdb.MutateOperationDelete, Value: ovsdb.OvsSet{GoSet: del}})
			}
		case c.kind == kindMap && unconstrained(c.schema):
			put, delKeys := mapDiff(w, h)
			// Delete before insert: inserting a key that exists is a no-op in
			// OVSDB, so a changed value is a delete of the key plus an insert.
			if len(delKeys) > 0 {
				mutations = append(mutations, ovsdb.Mutation{Column: c.name, Mutator: ovsdb.MutateOperationDelete, Value: ovsdb.OvsSet{GoSet: delKeys}})
			}
			if len(put) > 0 {
				mutations = append(mutations, ovsdb.Mutation{Column: c.name, Mutator: ovsdb.MutateOperationInsert, Value: ovsdb.OvsMap{GoMap: put}})
			}
		default:
			if equalValue(c.kind, w, h) {
				continue
			}
			ov, err := ovsdb.NativeToOvs(c.schema, w.Interface())
			if err != nil {
				return nil, nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			update[c.name] = ov
		}
	}
	var up, mu *ovsdb.Operation
	if len(update) > 0 {
		up = &ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: t.name, Where: uuidWhere(uuid), Row: update}
	}
	if len(mutations) > 0 {
		mu = &ovsdb.Operation{Op: ovsdb.OperationMutate, Table: t.name, Where: uuidWhere(uuid), Mutations: mutations}
	}
	return up, mu, nil
}

// unconstrained reports whether a set or map column has no size bounds that an
// intermediate mutation could break (OVSDB checks min/max after each mutation),
// so element-wise mutation is safe.
func unconstrained(c *ovsdb.ColumnSchema) bool {
	if c.TypeObj == nil {
		return false
	}
	return c.TypeObj.Min() == 0 && c.TypeObj.Max() == ovsdb.Unlimited
}

func equalValue(kind columnKind, w, h reflect.Value) bool {
	switch kind {
	case kindOptional:
		if w.IsNil() || h.IsNil() {
			return w.IsNil() == h.IsNil()
		}
		return w.Elem().Interface() == h.Elem().Interface()
	case kindSet:
		add, del := setDiff(w, h)
		return len(add) == 0 && len(del) == 0
	case kindMap:
		put, del := mapDiff(w, h)
		return len(put) == 0 && len(del) == 0
	default:
		return w.Interface() == h.Interface()
	}
}

// setDiff returns the elements of w missing from h and of h missing from w,
// sorted so operations are deterministic.
func setDiff(w, h reflect.Value) (add, del []any) {
	inH := make(map[any]bool, h.Len())
	for i := 0; i < h.Len(); i++ {
		inH[h.Index(i).Interface()] = true
	}
	inW := make(map[any]bool, w.Len())
	for i := 0; i < w.Len(); i++ {
		e := w.Index(i).Interface()
		if inW[e] {
			continue
		}
		inW[e] = true
		if !inH[e] {
			add = append(add, e)
		}
	}
	for e := range inH {
		if !inW[e] {
			del = append(del, e)
		}
	}
	sortAny(add)
	sortAny(del)
	return add, del
}

// mapDiff returns the pairs of w that h lacks or holds with another value, and
// the keys of h to delete (gone from w, or changing value).
func mapDiff(w, h reflect.Value) (put map[any]any, delKeys []any) {
	put = map[any]any{}
	iter := w.MapRange()
	for iter.Next() {
		k, v := iter.Key(), iter.Value()
		hv := h.MapIndex(k)
		if hv.IsValid() && hv.Interface() == v.Interface() {
			continue
		}
		put[k.Interface()] = v.Interface()
		if hv.IsValid() {
			delKeys = append(delKeys, k.Interface())
		}
	}
	iter = h.MapRange()
	for iter.Next() {
		if !w.MapIndex(iter.Key()).IsValid() {
			delKeys = append(delKeys, iter.Key().Interface())
		}
	}
	sortAny(delKeys)
	return put, delKeys
}

func sortAny(s []any) {
	sort.Slice(s, func(a, b int) bool { return fmt.Sprint(s[a]) < fmt.Sprint(s[b]) })
}
