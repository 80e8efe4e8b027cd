package controller

import (
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// Change is what an update of an object can affect.
type Change int

const (
	// NoChange: neither the owners the object maps to nor their rows.
	NoChange Change = iota
	// Membership: only which owners the object maps to (a pod's labels,
	// for the selections it enters or leaves). The owners it maps to both
	// before and after are untouched: only those it joins or leaves are
	// enqueued, so relabelling one pod never re-plans every selection that
	// holds it.
	Membership
	// Content: the owners' rows (a pod's address): every owner before and
	// after.
	Content
)

// FanOut returns the informer event handler of objects that change other
// owners' rows (an EndpointSlice its Service, a pod the policies that select
// it): on every add and delete it enqueues, as one group, the owners the
// object maps to; on an update, what change says: the owners it maps to
// before and after (Content), only those it joins or leaves (Membership),
// or none. A nil change counts every update as Content.
func FanOut[T any](enqueue func([]reconcile.Owner), owners func(T) []reconcile.Owner, change func(old, cur T) Change) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if o, ok := obj.(T); ok {
				enqueue(owners(o))
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(T)
			cur, ok2 := newObj.(T)
			if !ok1 || !ok2 {
				return
			}
			c := Content
			if change != nil {
				c = change(old, cur)
			}
			switch c {
			case Content:
				enqueue(union(owners(old), owners(cur)))
			case Membership:
				enqueue(symmetricDifference(owners(old), owners(cur)))
			}
		},
		DeleteFunc: func(obj any) {
			if o, ok := kube.Deleted[T](obj); ok {
				enqueue(owners(o))
			}
		},
	}
}

func union(a, b []reconcile.Owner) []reconcile.Owner {
	seen := make(map[reconcile.Owner]bool, len(a)+len(b))
	out := make([]reconcile.Owner, 0, len(a)+len(b))
	for _, s := range [][]reconcile.Owner{a, b} {
		for _, o := range s {
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	return out
}

// symmetricDifference is the owners in exactly one of a and b.
func symmetricDifference(a, b []reconcile.Owner) []reconcile.Owner {
	count := make(map[reconcile.Owner]int, len(a)+len(b))
	for _, s := range [][]reconcile.Owner{a, b} {
		for _, o := range union(s, nil) {
			count[o]++
		}
	}
	var out []reconcile.Owner
	for _, o := range union(a, b) {
		if count[o] == 1 {
			out = append(out, o)
		}
	}
	return out
}
