package reconcile

import (
	"reflect"
	"slices"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
)

// declaredColumns remembers which reference columns rows declare through
// Refs (per table), so the cache handler can tell a change an owner must undo
// from one that only adds a member.
type declaredColumns struct {
	mu   sync.RWMutex
	cols map[string]map[string]bool
}

func (d *declaredColumns) add(table, col string) {
	d.mu.RLock()
	known := d.cols[table][col]
	d.mu.RUnlock()
	if known {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cols == nil {
		d.cols = map[string]map[string]bool{}
	}
	if d.cols[table] == nil {
		d.cols[table] = map[string]bool{}
	}
	d.cols[table][col] = true
}

func (d *declaredColumns) has(table, col string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cols[table][col]
}

// CacheHandler returns the libovsdb cache event handler that keeps the NB
// as desired when something else changes it, and re-plans only the owners a
// change concerns:
//
//   - a row of ours changed in a column its owner decides (content, owned
//     external_ids keys, declared references), or deleted: its owner;
//   - a member removed from a reference column filled by its members
//     (switch ports, a load-balancer group): the member's owner, which links
//     it back if it still wants to be there;
//   - a row of ours inserted: the owners that point at it (waiting for it as
//     a parent, skipping it as an unresolved reference, or linked into its
//     previous incarnation).
//
// Our own commits echo back here. The echo of a member joining a parent
// (every new pod's port added to its switch's ports) or of a column owned by
// others (a port's up flag) re-plans nobody.
func (r *Reconciler) CacheHandler() cache.EventHandler {
	return &cache.EventHandlerFuncs{
		AddFunc:    r.onAdd,
		UpdateFunc: r.onUpdate,
		DeleteFunc: r.onDelete,
	}
}

func (r *Reconciler) onAdd(table string, m model.Model) {
	t, ok := r.store.tables[table]
	if !ok {
		return
	}
	o, local, ours := r.store.ownerOf(t, m)
	if !ours || local == "" {
		return
	}
	r.appeared(target{table: table, owner: o, local: local}, reflect.ValueOf(m).Elem().Field(t.uuidIdx).String())
}

func (r *Reconciler) onDelete(table string, m model.Model) {
	t, ok := r.store.tables[table]
	if !ok {
		return
	}
	uuid := reflect.ValueOf(m).Elem().Field(t.uuidIdx).String()
	r.echoes.forget(uuid)
	r.store.memo.changed(uuid)
	if o, _, ours := r.store.ownerOf(t, m); ours {
		r.Enqueue(o)
	}
}

func (r *Reconciler) onUpdate(table string, old, cur model.Model) {
	t, ok := r.store.tables[table]
	if !ok {
		return
	}
	uuid := reflect.ValueOf(cur).Elem().Field(t.uuidIdx).String()
	// Only an update of what our transactions write (content, tags,
	// references) can be our echo: another writer's change of a column we
	// never write (northd's up) must not use up the expectation, or our
	// echo arriving after it would look foreign.
	owned := r.ownedChanged(t, old, cur)
	if (owned || refsChanged(t, old, cur)) && r.echoes.consume(uuid) {
		return // our own change coming back; the commit already updated the memo
	}
	r.store.memo.changed(uuid)
	o, _, ours := r.store.ownerOf(t, old)
	if ours && owned {
		r.Enqueue(o)
		if o2, _, ours2 := r.store.ownerOf(t, cur); ours2 && o2 != o {
			r.Enqueue(o2)
		}
	}
	for _, name := range sortedKeys(t.refs) {
		c := t.refs[name]
		if r.declared.has(table, name) {
			continue
		}
		_, removed := stringSetDiff(t.uuids(cur, c), t.uuids(old, c))
		if len(removed) == 0 {
			continue
		}
		ct, ok := r.store.tables[c.refTable]
		if !ok {
			continue
		}
		rc := r.store.cache.Table(c.refTable)
		for _, u := range removed {
			member := rc.Row(u)
			if member == nil {
				continue // deleted with its link, by its owner or by hand
			}
			if mo, _, ours := r.store.ownerOf(ct, member); ours {
				r.Enqueue(mo)
			}
		}
	}
}

// refsChanged reports whether an update changed any reference column.
func refsChanged(t *tableInfo, old, cur model.Model) bool {
	for _, c := range t.refs {
		if !slices.Equal(t.uuids(old, c), t.uuids(cur, c)) {
			return true
		}
	}
	return false
}

// ownedChanged reports whether an update touched what the row's owner
// decides: content columns, external_ids keys under OwnedKeyPrefix, declared
// reference columns.
func (r *Reconciler) ownedChanged(t *tableInfo, old, cur model.Model) bool {
	for _, c := range t.content {
		o, n := t.value(old, c.field), t.value(cur, c.field)
		if c.field == t.extIdx {
			if !ownedKeysEqual(t.externalIDs(old), t.externalIDs(cur)) {
				return true
			}
			continue
		}
		if !equalValue(c.kind, n, o) {
			return true
		}
	}
	for name, c := range t.refs {
		if !r.declared.has(t.name, name) {
			continue
		}
		add, del := stringSetDiff(t.uuids(cur, c), t.uuids(old, c))
		if len(add) > 0 || len(del) > 0 {
			return true
		}
	}
	return false
}

// ownedKeysEqual compares the external_ids keys under OwnedKeyPrefix.
func ownedKeysEqual(a, b map[string]string) bool {
	n := 0
	for k, v := range a {
		if !ownedExternalID(k) {
			continue
		}
		n++
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	for k := range b {
		if ownedExternalID(k) {
			n--
		}
	}
	return n == 0
}
