package reconcile

import "sync"

// deps records which owners point at which rows of other owners (as a parent
// or through a declared reference), and the incarnation (uuid) each saw, so
// that the insert of a row re-plans exactly the owners that need it: those
// that waited for it or skipped it, and those linked into a previous
// incarnation (a load-balancer group deleted and re-created). Owners that
// already planned against this very row, such as a pod's port deferred in
// the batch that created its node's switch, are left alone.
type deps struct {
	mu         sync.Mutex
	dependents map[target]map[Owner]string // target -> owner -> uuid it saw ("" none)
	targets    map[Owner]map[target]struct{}
}

func newDeps() *deps {
	return &deps{dependents: map[target]map[Owner]string{}, targets: map[Owner]map[target]struct{}{}}
}

// add records that o points at t, before the plan looks t up; a uuid o saw
// earlier is kept until the plan ends.
func (d *deps) add(o Owner, t target) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.dependents[t][o]; !ok {
		d.link(o, t, "")
	}
}

func (d *deps) link(o Owner, t target, uuid string) {
	ds := d.dependents[t]
	if ds == nil {
		ds = map[Owner]string{}
		d.dependents[t] = ds
	}
	ds[o] = uuid
	ts := d.targets[o]
	if ts == nil {
		ts = map[target]struct{}{}
		d.targets[o] = ts
	}
	ts[t] = struct{}{}
}

// set replaces o's targets with ts, each with the uuid the plan resolved.
func (d *deps) set(o Owner, ts map[target]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for t := range d.targets[o] {
		if _, keep := ts[t]; keep {
			continue
		}
		if ds := d.dependents[t]; ds != nil {
			delete(ds, o)
			if len(ds) == 0 {
				delete(d.dependents, t)
			}
		}
		delete(d.targets[o], t)
	}
	if len(ts) == 0 {
		delete(d.targets, o)
		return
	}
	for t, uuid := range ts {
		d.link(o, t, uuid)
	}
}

// appearedRows collects rows of ours inserted since the reconcile loop last
// looked. The loop, not the cache event, decides who must re-plan: by then
// every owner planned in the batch that committed a row has recorded it, so
// owners deferred behind a parent in the same batch are not planned twice.
type appearedRows struct {
	mu   sync.Mutex
	rows map[target]string
}

func (a *appearedRows) add(t target, uuid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rows == nil {
		a.rows = map[target]string{}
	}
	a.rows[t] = uuid
}

func (a *appearedRows) take() map[target]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	rows := a.rows
	a.rows = nil
	return rows
}

// stale returns the owners pointing at t that did not see it as uuid.
func (d *deps) stale(t target, uuid string) []Owner {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Owner
	for o, seen := range d.dependents[t] {
		if seen != uuid {
			out = append(out, o)
		}
	}
	return out
}
