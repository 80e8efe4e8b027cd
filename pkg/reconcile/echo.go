package reconcile

import (
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// echoes counts the update notifications our own transactions will cause,
// per row, so the cache handler can tell the echo of our change (nothing to
// do) from someone else's change (re-plan the owner). OVSDB sends one update
// per changed row per transaction; every update and mutation the planner
// emits changes its row, so each expected echo arrives exactly once.
//
// An expectation lasts echoTTL at most: should a change we sent not change
// its row after all (so no notification comes), the stale expectation must
// not swallow someone else's change for ever. An echo later than that costs
// one needless plan.
type echoes struct {
	mu      sync.Mutex
	pending map[string]expected
}

type expected struct {
	n     int
	since time.Time // of the latest expectation
}

const echoTTL = 30 * time.Second

// changedRows returns the rows ops update or mutate, and those they delete.
func changedRows(ops []ovsdb.Operation) (changed, deleted []string) {
	seen := map[string]bool{}
	for _, op := range ops {
		if op.Op != ovsdb.OperationUpdate && op.Op != ovsdb.OperationMutate && op.Op != ovsdb.OperationDelete {
			continue
		}
		for _, c := range op.Where {
			u, ok := c.Value.(ovsdb.UUID)
			if !ok || c.Column != "_uuid" || seen[u.GoUUID] {
				continue
			}
			seen[u.GoUUID] = true
			if op.Op == ovsdb.OperationDelete {
				deleted = append(deleted, u.GoUUID)
			} else {
				changed = append(changed, u.GoUUID)
			}
		}
	}
	return changed, deleted
}

// expect registers the rows a transaction changes, before it is sent (its
// notification may be handled before Transact returns). The returned
// function withdraws them when the transaction failed.
func (e *echoes) expect(rows []string) (withdraw func()) {
	now := time.Now()
	e.mu.Lock()
	if e.pending == nil {
		e.pending = map[string]expected{}
	}
	for _, u := range rows {
		x := e.pending[u]
		e.pending[u] = expected{n: x.n + 1, since: now}
	}
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, u := range rows {
			if x := e.pending[u]; x.n <= 1 {
				delete(e.pending, u)
			} else {
				e.pending[u] = expected{n: x.n - 1, since: x.since}
			}
		}
	}
}

// consume reports whether an update of row uuid is the echo of our own
// transaction, and counts it off.
func (e *echoes) consume(uuid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.pending[uuid]
	if !ok {
		return false
	}
	if x.n == 1 || time.Since(x.since) > echoTTL {
		delete(e.pending, uuid)
	} else {
		e.pending[uuid] = expected{n: x.n - 1, since: x.since}
	}
	return time.Since(x.since) <= echoTTL
}

// forget drops the expectations of a deleted row (an update and a delete in
// one transaction notify only the delete).
func (e *echoes) forget(uuid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.pending, uuid)
}

// reset drops every expectation: after a reconnect the echoes of
// transactions committed before it never come (the refilled cache already
// holds their result).
func (e *echoes) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pending = nil
}
