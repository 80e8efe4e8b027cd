package reconcile

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// diffRow compares the content columns of a desired and an existing row, and
// the reference columns the desired row declares (refs: column -> uuids or
// named uuids), and returns at most one update (scalars and constrained sets,
// whole column) and one mutate (sets and maps, only the elements that
// changed). Mutating elements instead of rewriting columns keeps other
// writers' keys and makes a one-port change to a 500-port set cost one
// element on the wire. In external_ids only keys under OwnedKeyPrefix are
// ever removed, so an operator's own keys survive every reconcile.
func diffRow(t *tableInfo, uuid string, want, have model.Model, refs map[string][]string) (*ovsdb.Operation, *ovsdb.Operation, error) {
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
			owned := allKeys
			if c.field == t.extIdx {
				owned = ownedExternalID
			}
			put, delKeys := mapDiff(w, h, owned)
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
	for _, name := range sortedKeys(refs) {
		c := t.refs[name]
		add, del := stringSetDiff(refs[name], t.uuids(have, c))
		if len(add) == 0 && len(del) == 0 {
			continue
		}
		if unconstrained(c.schema) {
			if len(add) > 0 {
				mutations = append(mutations, ovsdb.Mutation{Column: c.name, Mutator: ovsdb.MutateOperationInsert, Value: uuidSet(add)})
			}
			if len(del) > 0 {
				mutations = append(mutations, ovsdb.Mutation{Column: c.name, Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(del)})
			}
			continue
		}
		update[c.name] = uuidSet(refs[name])
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
		put, del := mapDiff(w, h, allKeys)
		return len(put) == 0 && len(del) == 0
	default:
		return w.Interface() == h.Interface()
	}
}

// setDiff returns the elements of w missing from h and of h missing from w,
// sorted so operations are deterministic.
func setDiff(w, h reflect.Value) (add, del []any) {
	add, del = diffSets(elements(w), elements(h))
	sortAny(add)
	sortAny(del)
	return add, del
}

func elements(v reflect.Value) []any {
	out := make([]any, v.Len())
	for i := range out {
		out[i] = v.Index(i).Interface()
	}
	return out
}

// diffSets returns the elements of want missing from have and of have
// missing from want (duplicates count once), unsorted.
func diffSets[T comparable](want, have []T) (add, del []T) {
	inHave := make(map[T]bool, len(have))
	for _, h := range have {
		inHave[h] = true
	}
	inWant := make(map[T]bool, len(want))
	for _, w := range want {
		if inWant[w] {
			continue
		}
		inWant[w] = true
		if !inHave[w] {
			add = append(add, w)
		}
	}
	for h := range inHave {
		if !inWant[h] {
			del = append(del, h)
		}
	}
	return add, del
}

// mapDiff returns the pairs of w that h lacks or holds with another value, and
// the keys of h to delete (changing value, or gone from w and owned).
func mapDiff(w, h reflect.Value, owned func(key any) bool) (put map[any]any, delKeys []any) {
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
		if !w.MapIndex(iter.Key()).IsValid() && owned(iter.Key().Interface()) {
			delKeys = append(delKeys, iter.Key().Interface())
		}
	}
	sortAny(delKeys)
	return put, delKeys
}

func sortAny(s []any) {
	sort.Slice(s, func(a, b int) bool { return fmt.Sprint(s[a]) < fmt.Sprint(s[b]) })
}

func allKeys(any) bool { return true }

// ownedExternalID reports whether an external_ids key is the reconciler's to
// remove.
func ownedExternalID(k any) bool {
	s, ok := k.(string)
	return ok && strings.HasPrefix(s, OwnedKeyPrefix)
}

// stringSetDiff is diffSets for uuids, sorted.
func stringSetDiff(want, have []string) (add, del []string) {
	add, del = diffSets(want, have)
	sort.Strings(add)
	sort.Strings(del)
	return add, del
}

// uuidSet renders uuids (real or named) as an OVSDB set.
func uuidSet(uuids []string) ovsdb.OvsSet {
	s := make([]any, len(uuids))
	for i, u := range uuids {
		s[i] = ovsdb.UUID{GoUUID: u}
	}
	return ovsdb.OvsSet{GoSet: s}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
