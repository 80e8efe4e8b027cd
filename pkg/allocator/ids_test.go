package allocator

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
)

func newIDs(t *testing.T, min, max int) *IDAllocator {
	t.Helper()
	a, err := NewIDAllocator(min, max)
	if err != nil {
		t.Fatalf("NewIDAllocator(%d, %d): %v", min, max, err)
	}
	return a
}

func TestNewIDAllocatorErrors(t *testing.T) {
	for _, tt := range []struct{ min, max int }{{-1, 5}, {5, 4}, {math.MinInt, math.MaxInt}} {
		if a, err := NewIDAllocator(tt.min, tt.max); a != nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("NewIDAllocator(%d, %d) = %v, %v; want nil, ErrInvalid", tt.min, tt.max, a, err)
		}
	}
}

func TestIDAllocatorSequence(t *testing.T) {
	type step struct {
		op    string // "alloc", "mark", "release"
		owner string
		id    int // mark: id to mark; alloc: expected id, -1 for ErrExhausted
	}
	tests := []struct {
		name     string
		min, max int
		steps    []step
	}{
		{
			name: "lowest first, idempotent, exhaustion",
			min:  1, max: 3,
			steps: []step{
				{"alloc", "a", 1}, {"alloc", "b", 2}, {"alloc", "a", 1},
				{"alloc", "c", 3}, {"alloc", "d", -1},
			},
		},
		{
			name: "released id is reused first",
			min:  0, max: 9,
			steps: []step{
				{"alloc", "a", 0}, {"alloc", "b", 1}, {"alloc", "c", 2}, {"alloc", "d", 3},
				{"release", "c", 0}, {"release", "b", 0},
				{"alloc", "e", 1}, {"alloc", "f", 2}, {"alloc", "g", 4},
			},
		},
		{
			name: "marked ids are skipped",
			min:  1, max: 5,
			steps: []step{
				{"mark", "x", 2}, {"mark", "y", 4},
				{"alloc", "a", 1}, {"alloc", "b", 3}, {"alloc", "c", 5}, {"alloc", "d", -1},
				{"release", "y", 0}, {"alloc", "d", 4},
			},
		},
		{
			name: "released then re-marked id is not handed out",
			min:  0, max: 3,
			steps: []step{
				{"alloc", "a", 0}, {"alloc", "b", 1}, {"alloc", "c", 2},
				{"release", "b", 0}, {"mark", "z", 1}, {"release", "a", 0},
				{"release", "z", 0}, {"mark", "z", 1},
				{"alloc", "d", 0}, {"alloc", "e", 3}, {"alloc", "f", -1},
			},
		},
		{
			name: "range ending at MaxInt",
			min:  math.MaxInt - 1, max: math.MaxInt,
			steps: []step{
				{"alloc", "a", math.MaxInt - 1}, {"alloc", "b", math.MaxInt}, {"alloc", "c", -1},
				{"release", "b", 0}, {"alloc", "c", math.MaxInt},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newIDs(t, tt.min, tt.max)
			for i, s := range tt.steps {
				switch s.op {
				case "release":
					a.Release(s.owner)
					if _, ok := a.Get(s.owner); ok {
						t.Fatalf("step %d: %s still holds an id", i, s.owner)
					}
				case "mark":
					if err := a.Mark(s.owner, s.id); err != nil {
						t.Fatalf("step %d: Mark(%s, %d): %v", i, s.owner, s.id, err)
					}
				case "alloc":
					got, err := a.Allocate(s.owner)
					if s.id == -1 {
						checkErr(t, err, ErrExhausted, s.owner)
						continue
					}
					if err != nil || got != s.id {
						t.Fatalf("step %d: Allocate(%s) = %d, %v; want %d", i, s.owner, got, err, s.id)
					}
					if owner, ok := a.Owner(got); !ok || owner != s.owner {
						t.Fatalf("step %d: Owner(%d) = %q, %v", i, got, owner, ok)
					}
				}
			}
		})
	}
}

func TestIDAllocatorMarkErrors(t *testing.T) {
	tests := []struct {
		name    string
		held    map[string]int
		owner   string
		id      int
		wantErr error
		msgs    []string
	}{
		{name: "same id again", held: map[string]int{"a": 3}, owner: "a", id: 3},
		{name: "conflict", held: map[string]int{"b": 3}, owner: "a", id: 3,
			wantErr: ErrConflict, msgs: []string{`"a"`, `"b"`, "3"}},
		{name: "owner has another id", held: map[string]int{"a": 3}, owner: "a", id: 4,
			wantErr: ErrOwnerHasID, msgs: []string{`"a"`, "3", "4"}},
		{name: "below range", owner: "a", id: 0, wantErr: ErrNotInRange, msgs: []string{"[1, 10]"}},
		{name: "above range", owner: "a", id: 11, wantErr: ErrNotInRange, msgs: []string{"11"}},
		{name: "empty owner", owner: "", id: 2, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newIDs(t, 1, 10)
			for o, id := range tt.held {
				if err := a.Mark(o, id); err != nil {
					t.Fatal(err)
				}
			}
			err := a.Mark(tt.owner, tt.id)
			checkErr(t, err, tt.wantErr, tt.msgs...)
			if tt.wantErr == nil {
				return
			}
			var ie *IDError
			if !errors.As(err, &ie) || ie.Owner != tt.owner || ie.ID != tt.id {
				t.Errorf("error %#v does not carry owner %q and id %d", err, tt.owner, tt.id)
			}
			if alloc, _ := a.Usage(); alloc != uint64(len(tt.held)) {
				t.Errorf("failed Mark changed usage to %d", alloc)
			}
		})
	}
}

func TestIDAllocatorConcurrent(t *testing.T) {
	a := newIDs(t, 1, 100)
	const workers = 50
	ids := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			ids[i], errs[i] = a.Allocate(fmt.Sprintf("node-%d", i))
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for i, id := range ids {
		if errs[i] != nil || seen[id] || id < 1 || id > workers {
			t.Fatalf("worker %d got id %d, %v (want distinct ids in [1, %d])", i, id, errs[i], workers)
		}
		seen[id] = true
	}
	if alloc, capacity := a.Usage(); alloc != workers || capacity != 100 {
		t.Fatalf("Usage = %d, %d", alloc, capacity)
	}
}
