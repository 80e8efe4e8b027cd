package controller

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

func sel(s string) labels.Selector {
	p, err := labels.Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

func pol(name string) reconcile.Owner { return reconcile.Owner{Type: "NetworkPolicy", Name: name} }

// testIndex: namespaces prod (team=a) and dev (team=b) and these owners:
//
//	web      pods app=web in prod
//	all-prod every pod in prod
//	team-a   pods role=db in namespaces team=a
//	peers    app=web in prod, or anything in namespaces team=b (two selections)
//	none     selects nothing (nil selector)
func testIndex() *SelectorIndex {
	nsLabels := map[string]labels.Set{"prod": {"team": "a"}, "dev": {"team": "b"}}
	x := NewSelectorIndex(func(ns string) (labels.Set, bool) { l, ok := nsLabels[ns]; return l, ok })
	x.Set(pol("prod/web"), []Selection{{Namespace: "prod", Objects: sel("app=web")}})
	x.Set(pol("prod/all-prod"), []Selection{{Namespace: "prod", Objects: labels.Everything()}})
	x.Set(pol("ops/team-a"), []Selection{{Namespaces: sel("team=a"), Objects: sel("role=db")}})
	x.Set(pol("ops/peers"), []Selection{{Namespace: "prod", Objects: sel("app=web")}, {Namespaces: sel("team=b"), Objects: labels.Everything()}})
	x.Set(pol("prod/none"), []Selection{{Namespace: "prod"}})
	return x
}

func TestSelecting(t *testing.T) {
	x := testIndex()
	for _, tc := range []struct {
		ns     string
		labels labels.Set
		want   []string
	}{
		{"prod", labels.Set{"app": "web"}, []string{"ops/peers", "prod/all-prod", "prod/web"}},
		{"prod", labels.Set{"role": "db"}, []string{"ops/team-a", "prod/all-prod"}},
		{"prod", nil, []string{"prod/all-prod"}},
		{"dev", labels.Set{"app": "web"}, []string{"ops/peers"}},
		{"dev", labels.Set{"role": "db"}, []string{"ops/peers"}},
		{"other", labels.Set{"role": "db", "app": "web"}, nil},
	} {
		var got []string
		for _, o := range x.Selecting(tc.ns, tc.labels) {
			got = append(got, o.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pod %v in %s: selected by %v, want %v", tc.labels, tc.ns, got, tc.want)
		}
	}
	// Replacing and removing selections.
	x.Set(pol("prod/web"), []Selection{{Namespace: "prod", Objects: sel("app=api")}})
	x.Set(pol("ops/peers"), nil)
	if got := x.Selecting("prod", labels.Set{"app": "web"}); !reflect.DeepEqual(got, []reconcile.Owner{pol("prod/all-prod")}) {
		t.Errorf("after the changes: %v", got)
	}
}

func TestSelectingNamespace(t *testing.T) {
	x := testIndex()
	for _, tc := range []struct {
		name     string
		old, cur labels.Set
		want     []reconcile.Owner
	}{
		{"team a -> b: both namespace selectors flip", labels.Set{"team": "a"}, labels.Set{"team": "b"}, []reconcile.Owner{pol("ops/peers"), pol("ops/team-a")}},
		{"unrelated label", labels.Set{"team": "a"}, labels.Set{"team": "a", "x": "y"}, nil},
		{"created with team=b", nil, labels.Set{"team": "b"}, []reconcile.Owner{pol("ops/peers")}},
		{"deleted with team=a", labels.Set{"team": "a"}, nil, []reconcile.Owner{pol("ops/team-a")}},
	} {
		if got := x.SelectingNamespace(tc.old, tc.cur); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestObjectHandler: a pod's label change enqueues, as one group, the owners
// that start or stop selecting it (prod/all-prod selects it before and
// after: not enqueued); a status-only update enqueues nobody; a delete
// every owner selecting it.
func TestObjectHandler(t *testing.T) {
	x := testIndex()
	var got [][]reconcile.Owner
	h := x.ObjectHandler(func(os []reconcile.Owner) { got = append(got, os) })
	pod := func(l map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "p", Labels: l}}
	}
	web, db := pod(map[string]string{"app": "web"}), pod(map[string]string{"role": "db"})
	h.OnUpdate(web, db)
	h.OnUpdate(db, db.DeepCopy())
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "prod/p", Obj: db})
	want := [][]reconcile.Owner{
		{pol("ops/peers"), pol("prod/web"), pol("ops/team-a")},
		{pol("ops/team-a"), pol("prod/all-prod")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("enqueued %v, want %v", got, want)
	}
}

// TestFanOutEndpointSlices: the mapping of the docs' example, an
// EndpointSlice to its Service, through the same helper.
func TestFanOutEndpointSlices(t *testing.T) {
	svc := func(s *discoveryv1.EndpointSlice) []reconcile.Owner {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			return []reconcile.Owner{{Type: "Service", Name: s.Namespace + "/" + name}}
		}
		return nil
	}
	var got []reconcile.Owner
	h := FanOut(func(os []reconcile.Owner) { got = append(got, os...) }, svc, nil)
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: "web"}}}
	moved := slice.DeepCopy()
	moved.Labels[discoveryv1.LabelServiceName] = "api"
	h.OnAdd(slice, false)
	h.OnUpdate(slice, moved)
	want := []reconcile.Owner{{Type: "Service", Name: "ns/web"}, {Type: "Service", Name: "ns/web"}, {Type: "Service", Name: "ns/api"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("enqueued %v, want %v", got, want)
	}
}
