package controller

import (
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// Selection is one label selection an owner makes over objects (pods): a
// NetworkPolicy's podSelector in its namespace, a peer's namespaceSelector
// and podSelector, an EgressIP's selectors.
type Selection struct {
	// Namespace restricts the selection to one namespace. Ignored when
	// Namespaces is set.
	Namespace string
	// Namespaces selects the namespaces by their labels (a
	// namespaceSelector); nil means Namespace only.
	Namespaces labels.Selector
	// Objects selects the objects by their labels; nil selects nothing,
	// labels.Everything() everything.
	Objects labels.Selector
}

// SelectorIndex is the one answer to "which owners select this object", so
// features register their selections instead of each writing its own
// fan-out: a pod's label change re-plans exactly the owners whose selections
// match its old or its new labels; a namespace's label change re-plans the
// owners whose namespace selectors match its old or new labels.
//
// Owners with a selection fixed to a namespace are indexed by namespace, so
// a pod event costs the selections of its namespace plus those with a
// namespace selector, not every selection in the cluster.
type SelectorIndex struct {
	mu       sync.RWMutex
	sels     map[reconcile.Owner][]Selection
	byNS     map[string]map[reconcile.Owner]struct{}
	anyNS    map[reconcile.Owner]struct{}
	nsLabels func(namespace string) (labels.Set, bool)
}

// NewSelectorIndex returns an empty index; nsLabels reads a namespace's
// labels (from the namespace lister).
func NewSelectorIndex(nsLabels func(namespace string) (labels.Set, bool)) *SelectorIndex {
	return &SelectorIndex{
		sels: map[reconcile.Owner][]Selection{}, byNS: map[string]map[reconcile.Owner]struct{}{},
		anyNS: map[reconcile.Owner]struct{}{}, nsLabels: nsLabels,
	}
}

// Set replaces owner's selections (none: the owner selects nothing). It
// returns the owner's previous selections, whose objects a caller may need
// to re-plan.
func (x *SelectorIndex) Set(owner reconcile.Owner, sels []Selection) []Selection {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.sels[owner]
	for _, s := range old {
		if s.Namespaces != nil {
			delete(x.anyNS, owner)
		} else if m := x.byNS[s.Namespace]; m != nil {
			delete(m, owner)
			if len(m) == 0 {
				delete(x.byNS, s.Namespace)
			}
		}
	}
	if len(sels) == 0 {
		delete(x.sels, owner)
		return old
	}
	x.sels[owner] = sels
	for _, s := range sels {
		if s.Namespaces != nil {
			x.anyNS[owner] = struct{}{}
			continue
		}
		m := x.byNS[s.Namespace]
		if m == nil {
			m = map[reconcile.Owner]struct{}{}
			x.byNS[s.Namespace] = m
		}
		m[owner] = struct{}{}
	}
	return old
}

// Selecting returns the owners with a selection that matches an object of
// namespace with objLabels, sorted.
func (x *SelectorIndex) Selecting(namespace string, objLabels labels.Set) []reconcile.Owner {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var nsSet labels.Set
	nsKnown := false
	candidates := make([]reconcile.Owner, 0, len(x.byNS[namespace])+len(x.anyNS))
	for o := range x.byNS[namespace] {
		candidates = append(candidates, o)
	}
	for o := range x.anyNS {
		if _, dup := x.byNS[namespace][o]; !dup {
			candidates = append(candidates, o)
		}
	}
	var out []reconcile.Owner
	for _, o := range candidates {
		for _, s := range x.sels[o] {
			if s.Objects == nil || !s.Objects.Matches(objLabels) {
				continue
			}
			if s.Namespaces == nil {
				if s.Namespace == namespace {
					out = append(out, o)
					break
				}
				continue
			}
			if !nsKnown {
				nsSet, _ = x.nsLabels(namespace)
				nsKnown = true
			}
			if s.Namespaces.Matches(nsSet) {
				out = append(out, o)
				break
			}
		}
	}
	sortOwners(out)
	return out
}

// SelectingNamespace returns the owners with a namespace selector whose match
// differs between a namespace's old and new labels: the objects of that
// namespace joined or left their selection. A created or deleted namespace
// passes nil for the side it lacks.
func (x *SelectorIndex) SelectingNamespace(old, cur labels.Set) []reconcile.Owner {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []reconcile.Owner
	for o := range x.anyNS {
		for _, s := range x.sels[o] {
			if s.Namespaces == nil {
				continue
			}
			was := old != nil && s.Namespaces.Matches(old)
			is := cur != nil && s.Namespaces.Matches(cur)
			if was != is {
				out = append(out, o)
				break
			}
		}
	}
	sortOwners(out)
	return out
}

// ObjectHandler is the informer handler of the selected objects (pods):
// enqueue the owners selecting an added or deleted object, and on a label
// change those that start or stop selecting it.
func (x *SelectorIndex) ObjectHandler(enqueue func([]reconcile.Owner)) cache.ResourceEventHandler {
	return FanOut(enqueue,
		func(o metav1.Object) []reconcile.Owner { return x.Selecting(o.GetNamespace(), o.GetLabels()) },
		func(old, cur metav1.Object) Change {
			if labels.Equals(old.GetLabels(), cur.GetLabels()) {
				return NoChange
			}
			return Membership
		})
}

// NamespaceHandler is the informer handler of Namespaces: enqueue the owners
// whose namespace selectors start or stop matching.
func (x *SelectorIndex) NamespaceHandler(enqueue func([]reconcile.Owner)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ns, ok := obj.(metav1.Object); ok {
				enqueue(x.SelectingNamespace(nil, ns.GetLabels()))
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(metav1.Object)
			cur, ok2 := newObj.(metav1.Object)
			if ok1 && ok2 && !labels.Equals(old.GetLabels(), cur.GetLabels()) {
				enqueue(x.SelectingNamespace(old.GetLabels(), cur.GetLabels()))
			}
		},
		DeleteFunc: func(obj any) {
			if ns, ok := kube.Deleted[metav1.Object](obj); ok {
				enqueue(x.SelectingNamespace(ns.GetLabels(), nil))
			}
		},
	}
}

func sortOwners(os []reconcile.Owner) {
	sort.Slice(os, func(a, b int) bool { return os[a].String() < os[b].String() })
}
