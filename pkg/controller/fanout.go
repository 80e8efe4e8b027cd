package controller

import (
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// FanOut returns the informer event handler of objects that change other
// owners' rows (an EndpointSlice its Service, a pod the policies that select
// it): on every add, update and delete it enqueues, as one group, the owners
// the object maps to before and after the change, so an owner the object
// stops affecting is reconciled too. changed filters updates that can change
// neither the mapping nor the owners' rows (nil: every update counts).
func FanOut[T any](enqueue func([]reconcile.Owner), owners func(T) []reconcile.Owner, changed func(old, cur T) bool) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if o, ok := obj.(T); ok {
				enqueue(owners(o))
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(T)
			cur, ok2 := newObj.(T)
			if !ok1 || !ok2 || (changed != nil && !changed(old, cur)) {
				return
			}
			enqueue(union(owners(old), owners(cur)))
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
