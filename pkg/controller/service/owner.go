// Package service programs Kubernetes Services on OVN load balancers: the
// pure translation (Service + EndpointSlices → Load_Balancer rows) and its
// wiring to the informers and the reconciler.
package service

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
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
	"github.com/ovnkube/ovnkube/pkg/config"
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
func OwnerType(services corelisters.ServiceLister, sliceIndex cache.Indexer, nodes corelisters.NodeLister, recorder record.EventRecorder, cfg *config.Config) reconcile.OwnerType {
	rep := &reporter{recorder: recorder, last: map[string][]Problem{}}
	return reconcile.OwnerType{
		Name:   topology.OwnerTypeService,
		Tables: []string{nbdb.LoadBalancerTable},
		After:  []string{topology.OwnerTypeCluster, topology.OwnerTypeNode},
		List:   func() ([]string, error) { return kube.Keys(services.List(labels.Everything())) },
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
			in := Input{Service: svc, ServiceCIDRs: cfg.ServiceCIDRs, NodePortRange: cfg.NodePortRange, NoLBGroups: !cfg.LBGroups}
			for _, o := range objs {
				in.Slices = append(in.Slices, o.(*discoveryv1.EndpointSlice))
			}
			if needsNodes(svc) || in.NoLBGroups {
				if in.Nodes, err = gatewayNodes(nodes); err != nil {
					return nil, err
				}
			}
			rows, problems := Rows(in)
			rep.report(key, svc, problems)
			return rows, nil
		},
		Latency: metrics.ServiceProgrammingLatency,
	}
}

// needsNodes reports whether a service has per-node load balancers: node
// ports, outside IPs under externalTrafficPolicy=Local, or cluster IPs
// under internalTrafficPolicy=Local. Only those
// services read the nodes, so a ClusterIP service's plan stays O(service).
func needsNodes(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer || InternalLocal(svc)
}

// gatewayNodes lists the nodes whose gateway router can exist (chassis,
// subnets, join addresses and published gateway), sorted by name, with
// their gateway addresses.
func gatewayNodes(nodes corelisters.NodeLister) ([]Node, error) {
	all, err := nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, n := range all {
		if ips, ok := gatewayIPs(n); ok {
			out = append(out, Node{Name: n.Name, IPs: ips})
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// gatewayIPs returns a node's gateway addresses when its gateway router's
// inputs are all there; a node without them has no per-node load
// balancers (linking one to a router that cannot exist would hold the
// whole service back).
func gatewayIPs(n *corev1.Node) ([]netip.Addr, bool) {
	for _, k := range []string{kube.NodeChassisIDAnnotation, kube.NodeSubnetsAnnotation, kube.NodeGatewayRouterLRPIfAddrsAnnotation} {
		if n.Annotations[k] == "" {
			return nil, false
		}
	}
	g, ok, err := kube.ParseL3GatewayConfig(n.Annotations)
	if err != nil || !ok || len(g.IPs) == 0 {
		return nil, false
	}
	ips := make([]netip.Addr, len(g.IPs))
	for i, p := range g.IPs {
		ips[i] = p.Addr()
	}
	return ips, true
}

// NodeHandlers requeues the services with per-node load balancers when a
// node's gateway appears, changes or goes.
func NodeHandlers(services corelisters.ServiceLister, rec *reconcile.Reconciler, lbGroups bool) cache.ResourceEventHandler {
	requeue := func() {
		all, err := services.List(labels.Everything())
		if err != nil {
			return
		}
		for _, s := range all {
			if needsNodes(s) || !lbGroups {
				rec.Enqueue(topology.ServiceOwner(s.Namespace + "/" + s.Name))
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if n, ok := obj.(*corev1.Node); ok {
				if _, ok := gatewayIPs(n); ok {
					requeue()
				}
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1.Node), newObj.(*corev1.Node)
			oldIPs, oldOK := gatewayIPs(old)
			curIPs, curOK := gatewayIPs(cur)
			if oldOK != curOK || !slices.Equal(oldIPs, curIPs) {
				requeue()
			}
		},
		DeleteFunc: func(obj any) {
			if _, ok := kube.Deleted[*corev1.Node](obj); ok {
				requeue()
			}
		},
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
