package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/ovnkube/ovnkube/pkg/metrics"
)

// tracker follows each owner from Enqueue to the end of the plan that saw
// that request, so callers can wait for the NB instead of sleeping
// (WaitProgrammed, Idle) and the pending gauge shows work not done yet.
//
// Generations: every Enqueue bumps an owner's queued generation; a plan
// takes the generation it started at; when it ends without a retry, the
// owner is settled up to that generation. An owner is pending while settled
// < queued (queued, in flight or backing off).
type tracker struct {
	mu      sync.Mutex
	owners  map[Owner]*ownerStatus
	pending int
	idle    chan struct{} // closed and replaced whenever pending drops to 0
}

type ownerStatus struct {
	queued, started, settled uint64
	since                    time.Time // the first request not yet settled
	programmed               bool      // the last settled plan brought the NB to the desired rows
	invalid                  error     // or it found the input invalid
	waiters                  []waiter
}

type waiter struct {
	gen uint64
	ch  chan error
}

func newTracker() *tracker {
	return &tracker{owners: map[Owner]*ownerStatus{}, idle: make(chan struct{})}
}

func (t *tracker) status(o Owner) *ownerStatus {
	st := t.owners[o]
	if st == nil {
		st = &ownerStatus{}
		t.owners[o] = st
	}
	return st
}

// enqueued records a request to reconcile o.
func (t *tracker) enqueued(o Owner) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.status(o)
	if st.settled == st.queued {
		st.since = time.Now()
		t.pending++
		metrics.PendingOwners.Set(float64(t.pending))
	}
	st.queued++
}

// started records that a plan of o begins; it covers every request so far.
func (t *tracker) started(o Owner) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.status(o)
	st.started = st.queued
}

// settled records that o's plan ended without a retry: programmed (the NB
// matches), invalid (err), or waiting for an event (neither). caughtUp
// reports that o is programmed with every request so far, and latency how
// long since the first of them.
func (t *tracker) settled(o Owner, programmed bool, invalid error, gone bool) (latency time.Duration, caughtUp bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.status(o)
	wasPending := st.settled < st.queued
	st.settled = st.started
	st.programmed, st.invalid = programmed, invalid
	if programmed || invalid != nil {
		kept := st.waiters[:0]
		for _, w := range st.waiters {
			if w.gen <= st.settled {
				w.ch <- invalid
				continue
			}
			kept = append(kept, w)
		}
		st.waiters = kept
	}
	if wasPending && st.settled == st.queued {
		latency, caughtUp = time.Since(st.since), programmed
		t.pending--
		metrics.PendingOwners.Set(float64(t.pending))
		if t.pending == 0 {
			close(t.idle)
			t.idle = make(chan struct{})
		}
	}
	if gone && programmed && st.settled == st.queued && len(st.waiters) == 0 {
		delete(t.owners, o) // a deleted owner's status would only leak
	}
	return latency, caughtUp
}

// WaitProgrammed blocks until the NB holds owner's desired rows as of this
// call or later: the owner has been reconciled, with nothing left to commit,
// after its latest Enqueue. It returns the *InvalidError when the owner's
// input is invalid (nothing will change until the input does), and ctx's
// error when ctx ends first. An owner waiting for its input or a parent row
// keeps the caller waiting.
func (r *Reconciler) WaitProgrammed(ctx context.Context, o Owner) error {
	t := r.tracker
	t.mu.Lock()
	st := t.status(o)
	if st.queued > 0 && st.settled == st.queued {
		if st.invalid != nil {
			t.mu.Unlock()
			return st.invalid
		}
		if st.programmed {
			t.mu.Unlock()
			return nil
		}
	}
	w := waiter{gen: max(st.queued, 1), ch: make(chan error, 1)}
	st.waiters = append(st.waiters, w)
	t.mu.Unlock()
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Idle returns a channel that is closed once no owner is pending: every
// request so far has been planned and committed, found invalid, or is
// waiting for an input or a parent row.
func (r *Reconciler) Idle() <-chan struct{} {
	t := r.tracker
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return t.idle
}
