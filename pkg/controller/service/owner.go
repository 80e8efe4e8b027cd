// Package service programs Kubernetes Services on OVN load balancers: the
// pure translation (Service + EndpointSlices → Load_Balancer rows) and its
// wiring to the informers and the reconciler.
package service

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// ReasonInvalidInput is the Warning Event reason for a part of a Service's
// input that was left out of its load balancers.
const ReasonInvalidInput = "InvalidServiceInput"

// SliceIndex indexes EndpointSlices by the "namespace/name" of their
// Service (label kubernetes.io/service-name).
const SliceIndex = "service"

// SliceIndexers are the indexers the EndpointSlice informer needs.
var SliceIndexers = cache.Indexers{SliceIndex: func(obj any) ([]string, error) {
	if k, ok := serviceOf(obj); ok {
		return []string{k}, nil
	}
	return nil, nil
}}

// serviceOf returns the Service key an EndpointSlice belongs to.
func serviceOf(obj any) (string, bool) {
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return "", false
	}
	name := sl.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return "", false
	}
	return sl.Namespace + "/" + name, true
}

// OwnerType returns the Service owner type: a Service's load balancers
// follow from the Service and its EndpointSlices.
func OwnerType(services corelisters.ServiceLister, sliceIndex cache.Indexer, recorder record.EventRecorder, serviceCIDRs []netip.Prefix) reconcile.OwnerType {
	rep := &reporter{recorder: recorder, last: map[string][]Problem{}}
	return reconcile.OwnerType{
		Name:   topology.OwnerTypeService,
		Tables: []string{nbdb.LoadBalancerTable},
		After:  []string{topology.OwnerTypeCluster},
		List: func() ([]string, error) {
			all, err := services.List(labels.Everything())
			if err != nil {
				return nil, err
			}
			keys := make([]string, len(all))
			for i, s := range all {
				keys[i] = s.Namespace + "/" + s.Name
			}
			return keys, nil
		},
		Desired: func(key string) ([]reconcile.Row, error) {
			ns, name, err := cache.SplitMetaNamespaceKey(key)
			if err != nil {
				return nil, nil
			}
			svc, ok, err := kube.Found(services.Services(ns).Get(name))
			if err != nil || !ok {
				rep.forget(key)
				return nil, err
			}
			objs, err := sliceIndex.ByIndex(SliceIndex, key)
			if err != nil {
				return nil, err
			}
			in := Input{Service: svc, ServiceCIDRs: serviceCIDRs}
			for _, o := range objs {
				in.Slices = append(in.Slices, o.(*discoveryv1.EndpointSlice))
			}
			rows, problems := Rows(in)
			rep.report(key, svc, problems)
			return rows, nil
		},
		Latency: metrics.ServiceProgrammingLatency,
	}
}

// reporter reports a service's problems once per change of the set: a
// service is planned at every endpoint change, and the same bad endpoint
// must not count again each time.
type reporter struct {
	recorder record.EventRecorder
	mu       sync.Mutex
	last     map[string][]Problem
}

func (r *reporter) report(key string, svc *corev1.Service, problems []Problem) {
	r.mu.Lock()
	same := slices.Equal(r.last[key], problems)
	if len(problems) == 0 {
		delete(r.last, key)
	} else {
		r.last[key] = problems
	}
	r.mu.Unlock()
	if same {
		return
	}
	for _, p := range problems {
		metrics.InvalidObjects.WithLabelValues(topology.OwnerTypeService, p.Reason).Inc()
		klog.ErrorS(fmt.Errorf("%s", p.Message), "Service input left out of its load balancers", "service", key, "reason", p.Reason)
		r.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonInvalidInput, "%s; the rest of the service is programmed", p.Message)
	}
}

func (r *reporter) forget(key string) {
	r.mu.Lock()
	delete(r.last, key)
	r.mu.Unlock()
}

// Handlers routes Service and EndpointSlice events to the reconciler.
// Service updates that change neither spec nor load-balancer status (only
// metadata) are dropped.
func Handlers(rec *reconcile.Reconciler) (services, endpointSlices cache.ResourceEventHandler) {
	owner := topology.ServiceOwner
	services = cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if s, ok := obj.(*corev1.Service); ok {
				rec.Enqueue(owner(s.Namespace + "/" + s.Name))
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1.Service), newObj.(*corev1.Service)
			if old.ResourceVersion == cur.ResourceVersion || (specEqual(old, cur) && statusEqual(old, cur)) {
				return
			}
			rec.Enqueue(owner(cur.Namespace + "/" + cur.Name))
		},
		DeleteFunc: func(obj any) {
			if s, ok := kube.Deleted[*corev1.Service](obj); ok {
				rec.Enqueue(owner(s.Namespace + "/" + s.Name))
			}
		},
	}
	enqueueSlice := func(obj any) {
		if k, ok := serviceOf(obj); ok {
			rec.Enqueue(owner(k))
		}
	}
	endpointSlices = cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueSlice,
		UpdateFunc: func(oldObj, newObj any) {
			enqueueSlice(newObj)
			if o, _ := serviceOf(oldObj); o != "" {
				if n, _ := serviceOf(newObj); n != o {
					enqueueSlice(oldObj) // relabelled to another service
				}
			}
		},
		DeleteFunc: func(obj any) {
			if sl, ok := kube.Deleted[*discoveryv1.EndpointSlice](obj); ok {
				enqueueSlice(sl)
			}
		},
	}
	return services, endpointSlices
}

func specEqual(a, b *corev1.Service) bool {
	return equality.Semantic.DeepEqual(a.Spec, b.Spec)
}

func statusEqual(a, b *corev1.Service) bool {
	return equality.Semantic.DeepEqual(a.Status.LoadBalancer, b.Status.LoadBalancer)
}
