package reconcile

import (
	"sync"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// echoes counts the update notifications our own transactions will cause,
// per row, so the cache handler can tell the echo of our change (nothing to
// do) from someone else's change (re-plan the owner). OVSDB sends one update
// per changed row per transaction; every update and mutation the planner
// emits changes its row, so each expected echo arrives exactly once.
type echoes struct {
	mu      sync.Mutex
	pending map[string]int
}

// expect registers the rows ops update or mutate, before the transaction is
// sent (its notification may be handled before Transact returns). The
// returned function withdraws them when the transaction failed.
func (e *echoes) expect(ops []ovsdb.Operation) (withdraw func()) {
	rows := map[string]bool{}
	for _, op := range ops {
		if op.Op != ovsdb.OperationUpdate && op.Op != ovsdb.OperationMutate {
			continue
		}
		for _, c := range op.Where {
			if u, ok := c.Value.(ovsdb.UUID); ok && c.Column == "_uuid" {
				rows[u.GoUUID] = true
			}
		}
	}
	e.mu.Lock()
	if e.pending == nil {
		e.pending = map[string]int{}
	}
	for u := range rows {
		e.pending[u]++
	}
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for u := range rows {
			if e.pending[u]--; e.pending[u] <= 0 {
				delete(e.pending, u)
			}
		}
	}
}

// consume reports whether an update of row uuid is the echo of our own
// transaction, and counts it off.
func (e *echoes) consume(uuid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.pending[uuid]
	if n == 0 {
		return false
	}
	if n == 1 {
		delete(e.pending, uuid)
	} else {
		e.pending[uuid] = n - 1
	}
	return true
}

// forget drops the expectations of a deleted row (an update and a delete in
// one transaction notify only the delete).
func (e *echoes) forget(uuid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.pending, uuid)
}
