package kube

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// Found turns a lister Get's result into (object, present, error): NotFound
// is absence, not an error. Use as kube.Found(lister.Get(name)).
func Found[T any](obj T, err error) (T, bool, error) {
	if apierrors.IsNotFound(err) {
		var zero T
		return zero, false, nil
	}
	return obj, err == nil, err
}

// Deleted returns the object of an informer delete event, unwrapping the
// tombstone (cache.DeletedFinalStateUnknown) an informer hands over when it
// missed the delete itself.
func Deleted[T any](obj any) (T, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	v, ok := obj.(T)
	return v, ok
}

// OldestFirst sorts objects by creation time, then namespace/name: the order
// in which allocations are restored from annotations at start, so that on a
// conflict the older object keeps what it has.
func OldestFirst[T metav1.Object](objs []T) {
	sort.SliceStable(objs, func(a, b int) bool {
		ta, tb := objs[a].GetCreationTimestamp(), objs[b].GetCreationTimestamp()
		if !ta.Equal(&tb) {
			return ta.Before(&tb)
		}
		if objs[a].GetNamespace() != objs[b].GetNamespace() {
			return objs[a].GetNamespace() < objs[b].GetNamespace()
		}
		return objs[a].GetName() < objs[b].GetName()
	})
}

// ChangedAnnotations returns the entries of want whose value differs from
// current: what a patch must send. Unchanged annotations are never re-sent,
// so a restart over an unchanged cluster writes nothing to the API server.
func ChangedAnnotations(current, want map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range want {
		if cur, ok := current[k]; !ok || cur != v {
			out[k] = v
		}
	}
	return out
}

// PatchFunc is a typed client's Patch (Nodes().Patch, Pods(ns).Patch).
type PatchFunc[T any] func(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)

// Annotate sets the annotations of want that differ on obj with one merge
// patch, and sends nothing when none does. It reports whether it patched.
func Annotate[T any](ctx context.Context, patch PatchFunc[T], obj metav1.Object, want map[string]string) (bool, error) {
	changed := ChangedAnnotations(obj.GetAnnotations(), want)
	if len(changed) == 0 {
		return false, nil
	}
	if _, err := patch(ctx, obj.GetName(), types.MergePatchType, AnnotationsPatch(changed), metav1.PatchOptions{}); err != nil {
		return false, fmt.Errorf("annotate %s: %w", cache.NewObjectName(obj.GetNamespace(), obj.GetName()), err)
	}
	return true, nil
}

// Keys lists the "namespace/name" keys of objects, as a lister's List
// returned them (and its error): the List of an owner type whose owners
// are namespaced objects.
func Keys[T metav1.Object](objs []T, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.GetNamespace() + "/" + o.GetName()
	}
	return keys, nil
}
