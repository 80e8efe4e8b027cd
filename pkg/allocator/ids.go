package allocator

import (
	"container/heap"
	"sync"
)

// IDAllocator hands out small non-negative integers, such as the node ids of
// the k8s.ovn.org/node-id annotation. Unlike subnets, ids are handed out
// lowest-free-first: they end up in compact data-plane encodings (tunnel
// keys, join/transit addresses), so keeping them dense matters more than
// delaying reuse.
//
// Memory is proportional to the number of held ids plus released ids below
// the high-water mark, not to max-min; Allocate is amortized O(log n).
type IDAllocator struct {
	mu       sync.Mutex
	min, max int
	// Ids are stored as offsets from min so that [min, max] with max ==
	// math.MaxInt does not overflow.
	size    uint64
	byOwner map[string]int
	byID    map[int]string
	// Invariant: every offset below hint is either held or in free.
	hint uint64
	// free holds released offsets below hint; entries may be stale (held
	// again through Mark) and are skipped when popped.
	free   offsetHeap
	inFree map[uint64]struct{}
}

// NewIDAllocator returns an allocator of ids in [min, max]. It requires
// 0 <= min <= max.
func NewIDAllocator(min, max int) (*IDAllocator, error) {
	if min < 0 || min > max {
		return nil, configErr("id range [%d, %d] is invalid: need 0 <= min <= max", min, max)
	}
	return &IDAllocator{
		min:     min,
		max:     max,
		size:    uint64(max-min) + 1,
		byOwner: make(map[string]int),
		byID:    make(map[int]string),
		inFree:  make(map[uint64]struct{}),
	}, nil
}

// Allocate returns the lowest free id for owner and records owner as its
// holder. It is idempotent: an owner that holds an id gets it back. When
// every id is taken the error wraps ErrExhausted.
func (a *IDAllocator) Allocate(owner string) (int, error) {
	if owner == "" {
		return 0, idErr(ErrInvalid, owner, 0, "cannot allocate an id for an empty owner")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.byOwner[owner]; ok {
		return id, nil
	}
	for a.free.Len() > 0 {
		off := heap.Pop(&a.free).(uint64)
		delete(a.inFree, off)
		if id := a.id(off); !a.held(id) {
			a.hold(owner, id)
			return id, nil
		}
	}
	for a.hint < a.size {
		id := a.id(a.hint)
		a.hint++
		if !a.held(id) {
			a.hold(owner, id)
			return id, nil
		}
	}
	return 0, idErr(ErrExhausted, owner, 0,
		"no free id for %q: all %d ids in [%d, %d] are allocated", owner, len(a.byID), a.min, a.max)
}

// Mark reserves id for owner, typically to honour an id already recorded in
// an annotation. Marking the id an owner already holds is a no-op. Errors
// wrap ErrInvalid (empty owner), ErrNotInRange, ErrConflict or
// ErrOwnerHasID.
func (a *IDAllocator) Mark(owner string, id int) error {
	if owner == "" {
		return idErr(ErrInvalid, owner, id, "cannot reserve id %d for an empty owner", id)
	}
	if id < a.min || id > a.max {
		return idErr(ErrNotInRange, owner, id,
			"cannot reserve id %d for %q: it is outside the id range [%d, %d]", id, owner, a.min, a.max)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if holder, ok := a.byID[id]; ok {
		if holder == owner {
			return nil
		}
		e := idErr(ErrConflict, owner, id, "cannot reserve id %d for %q: it is already allocated to %q", id, owner, holder)
		e.OtherOwner = holder
		return e
	}
	if held, ok := a.byOwner[owner]; ok {
		e := idErr(ErrOwnerHasID, owner, id, "cannot reserve id %d for %q: it already holds id %d", id, owner, held)
		e.OtherID = held
		return e
	}
	a.hold(owner, id)
	return nil
}

// Release frees the id held by owner, if any; it is the first candidate for
// the next Allocate if it is now the lowest free id.
func (a *IDAllocator) Release(owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.byOwner[owner]
	if !ok {
		return
	}
	delete(a.byOwner, owner)
	delete(a.byID, id)
	off := uint64(id - a.min)
	if _, queued := a.inFree[off]; off < a.hint && !queued {
		heap.Push(&a.free, off)
		a.inFree[off] = struct{}{}
	}
}

// Get returns the id held by owner.
func (a *IDAllocator) Get(owner string) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.byOwner[owner]
	return id, ok
}

// Owner returns the holder of id.
func (a *IDAllocator) Owner(id int) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	owner, ok := a.byID[id]
	return owner, ok
}

// Usage returns the number of held ids and the size of the id range.
func (a *IDAllocator) Usage() (allocated, capacity uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return uint64(len(a.byID)), a.size
}

func (a *IDAllocator) id(off uint64) int { return a.min + int(off) }

func (a *IDAllocator) held(id int) bool {
	_, ok := a.byID[id]
	return ok
}

func (a *IDAllocator) hold(owner string, id int) {
	a.byOwner[owner] = id
	a.byID[id] = owner
}

// offsetHeap is a min-heap of id offsets for container/heap.
type offsetHeap []uint64

func (h offsetHeap) Len() int           { return len(h) }
func (h offsetHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h offsetHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *offsetHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *offsetHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
