// Package master wires `ovnkube master`: informers, the NB connection, the
// reconciler and the controllers that feed it.
package master

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	ovsdbcache "github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/allocator"
	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/controller"
	"github.com/ovnkube/ovnkube/pkg/controller/cluster"
	"github.com/ovnkube/ovnkube/pkg/controller/multicast"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/controller/node"
	"github.com/ovnkube/ovnkube/pkg/controller/pod"
	"github.com/ovnkube/ovnkube/pkg/controller/service"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Run runs the master until ctx ends. It returns an error for anything that
// prevents a correct start (unreachable NB, a changed host prefix); once
// running, failures of single objects are retried and reported, never fatal.
func Run(ctx context.Context, cfg *config.Config) error {
	start := time.Now()
	health := &metrics.Health{}
	if cfg.MetricsEnabled() {
		if err := metrics.Serve(ctx, cfg.MetricsAddress, health); err != nil {
			return err
		}
	}
	kc, err := kube.NewClient(cfg.Kubeconfig, cfg.KubeAPIQPS, cfg.KubeAPIBurst)
	if err != nil {
		return err
	}
	recorder, stopEvents := kube.NewRecorder(kc, "ovnkube-master")
	defer stopEvents()

	factory := informers.NewSharedInformerFactory(kc, 0)
	nodes := factory.Core().V1().Nodes()
	pods := factory.Core().V1().Pods()
	if err := pods.Informer().AddIndexers(pod.NodeIndexers); err != nil {
		return err
	}
	namespaces := factory.Core().V1().Namespaces()
	policies := factory.Networking().V1().NetworkPolicies()
	if err := policies.Informer().AddIndexers(networkpolicy.PolicyIndexers); err != nil {
		return err
	}
	services := factory.Core().V1().Services()
	endpointSlices := factory.Discovery().V1().EndpointSlices()
	if err := endpointSlices.Informer().AddIndexers(service.SliceIndexers); err != nil {
		return err
	}
	// List Nodes and Pods while the NB cache fills: the two syncs overlap.
	// Informers start only if instantiated before Start; handlers added
	// later get every existing object replayed.
	nodes.Informer()
	services.Informer()
	namespaces.Informer()
	factory.Start(ctx.Done())

	// The reconciler needs the connected client and the client needs the
	// cache handler before its first monitor: forward through a pointer.
	var handler atomic.Pointer[ovsdbcache.EventHandler]
	forward := &ovsdbcache.EventHandlerFuncs{
		AddFunc: func(table string, m model.Model) {
			if h := handler.Load(); h != nil {
				(*h).OnAdd(table, m)
			}
		},
		UpdateFunc: func(table string, old, cur model.Model) {
			if h := handler.Load(); h != nil {
				(*h).OnUpdate(table, old, cur)
			}
		},
		DeleteFunc: func(table string, m model.Model) {
			if h := handler.Load(); h != nil {
				(*h).OnDelete(table, m)
			}
		},
	}
	ranges := make([]allocator.Range, len(cfg.ClusterSubnets))
	for i, s := range cfg.ClusterSubnets {
		ranges[i] = allocator.Range{CIDR: s.CIDR, HostPrefix: s.HostPrefix}
	}
	subnets, err := node.NewSubnetController(kc, nodes.Lister(), recorder, ranges, cfg.JoinSubnets)
	if err != nil {
		return err
	}
	podIPAM := pod.NewIPAMController(kc, pods.Informer(), nodes.Lister(), recorder)
	subnets.KeepForPods(podIPAM.PodsOn)
	selectors := controller.NewSelectorIndex(func(ns string) (labels.Set, bool) {
		n, err := namespaces.Lister().Get(ns)
		if err != nil {
			return nil, false
		}
		return n.Labels, true
	})
	np := networkpolicy.Sources{
		Policies: policies.Lister(), PolicyIdx: policies.Informer().GetIndexer(), Pods: pods.Lister(),
		Namespaces: namespaces.Lister(), Selectors: selectors, Recorder: recorder,
		IPv4: cfg.IPv4(), IPv6: cfg.IPv6(),
	}
	mc := multicast.Sources{Namespaces: namespaces.Lister(), Pods: pods.Lister(), Recorder: recorder, IPv4: cfg.IPv4(), IPv6: cfg.IPv6()}
	np.OtherPeers = mc
	// A pod's port joins the port groups of the policies selecting it and
	// the multicast groups, in the transaction that creates it.
	podGroups := func(p *corev1.Pod) []reconcile.Ref { return append(np.Groups(p), mc.Groups(p)...) }
	// The owner types decide which NB tables are monitored and managed.
	types := []reconcile.OwnerType{
		cluster.OwnerType(cfg),
		node.OwnerType(nodes.Lister(), recorder, clusterForGateways(cfg), subnets.Release),
		pod.OwnerType(pods.Lister(), recorder, podIPAM, podGroups,
			networkpolicy.OwnerTypePolicy, networkpolicy.OwnerTypeDefaultDeny, multicast.OwnerType),
		service.OwnerType(services.Lister(), endpointSlices.Informer().GetIndexer(), nodes.Lister(), recorder, cfg),
		np.AddressSetType().OwnerType(),
		np.DefaultDenyType().OwnerType(),
		np.PolicyType(),
		mc.OwnerType(),
	}
	tables := reconcile.Tables(types...)
	nbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		return err
	}
	nb, err := ovsdbclient.Connect(ctx, ovsdbclient.Options{
		Endpoints: cfg.NBEndpoints(), TLS: cfg.NBTLS, Model: nbModel,
		Indexes: reconcile.ClientIndexes(nbdb.Schema(), tables), Tables: tables, Handler: forward,
	})
	if err != nil {
		return err
	}
	defer nb.Close()
	r, err := reconcile.New(nb, reconcile.Options{}, types...)
	if err != nil {
		return err
	}
	h := r.CacheHandler()
	handler.Store(&h)
	podIPAM.OnConfirmed(func(key string) { r.Enqueue(topology.PodOwner(key)) })
	// An NB outage makes the master unready, never exit; once the cache is
	// back every owner is re-planned, so rows lost meanwhile return.
	var synced atomic.Bool // the first full reconcile has committed
	nbConnected := metrics.OVSDBConnected.WithLabelValues(nbModel.Name())
	nbConnected.Set(1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch() // before nb.Close
	go ovsdbclient.WatchConnection(watchCtx, nb, nbdb.LogicalSwitchTable, 200*time.Millisecond, func(up bool) {
		if !up {
			nbConnected.Set(0)
			klog.ErrorS(nil, "Lost the NB connection; reconnecting", "endpoints", cfg.NBEndpoints())
			health.SetNotReady("NB disconnected, reconnecting")
			return
		}
		nbConnected.Set(1)
		if err := r.Resync(); err != nil {
			klog.ErrorS(err, "Re-planning after the NB reconnect")
		}
		if synced.Load() {
			health.SetReady(true)
		}
	})
	serviceHandlers, sliceHandlers := service.Handlers(r)
	policyHandlers, podPolicyHandlers, namespaceHandlers := np.Handlers(r)
	for _, h := range []struct {
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}{{policies.Informer(), policyHandlers}, {pods.Informer(), podPolicyHandlers}, {namespaces.Informer(), namespaceHandlers}, {namespaces.Informer(), mc.Handler(r)}} {
		if _, err := h.informer.AddEventHandler(h.handler); err != nil {
			return err
		}
	}
	for informer, handler := range map[cache.SharedIndexInformer]cache.ResourceEventHandler{
		nodes.Informer():          node.Handlers(subnets, r),
		pods.Informer():           pod.Handlers(podIPAM, r),
		services.Informer():       serviceHandlers,
		endpointSlices.Informer(): sliceHandlers,
	} {
		if _, err := informer.AddEventHandler(handler); err != nil {
			return err
		}
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if p, ok := kube.Deleted[*corev1.Pod](obj); ok {
			subnets.PodGone(p.Spec.NodeName)
		}
	}}); err != nil {
		return err
	}
	if _, err := nodes.Informer().AddEventHandler(pod.NodeHandlers(podIPAM, r)); err != nil {
		return err
	}
	if _, err := nodes.Informer().AddEventHandler(service.NodeHandlers(services.Lister(), r, cfg.LBGroups)); err != nil {
		return err
	}

	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer cache for %v did not sync", typ)
		}
	}
	if err := subnets.Restore(); err != nil {
		return err
	}
	if err := podIPAM.Restore(); err != nil {
		return err
	}
	klog.InfoS("Caches synced", "elapsed", time.Since(start))

	go subnets.Run(ctx, 16)
	go podIPAM.Run(ctx, 16)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-r.Ready():
		synced.Store(true)
		if ovsdbclient.Connected(nb) {
			health.SetReady(true)
		}
		klog.InfoS("Master ready: first full reconcile committed", "elapsed", time.Since(start))
	case <-ctx.Done():
	case err := <-done:
		return err
	}
	<-ctx.Done()
	return <-done
}

// clusterForGateways is what every node's gateway router routes back to.
func clusterForGateways(cfg *config.Config) node.Cluster {
	var c node.Cluster
	for _, s := range cfg.ClusterSubnets {
		c.CIDRs = append(c.CIDRs, s.CIDR)
	}
	for _, j := range cfg.JoinSubnets {
		if ip, err := topology.NthAddr(j, 1); err == nil {
			c.RouterJoinIPs = append(c.RouterJoinIPs, ip)
		}
	}
	return c
}
