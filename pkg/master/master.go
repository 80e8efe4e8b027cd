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
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	networkinginformers "k8s.io/client-go/informers/networking/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
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
// With leader election only the holder of the Lease runs the controllers;
// the others keep their informers synced and stand by.
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
	inf, err := newInformers(kc)
	if err != nil {
		return err
	}
	// List Nodes and Pods while the NB cache fills: the two syncs overlap.
	inf.factory.Start(ctx.Done())
	l := &leader{cfg: cfg, kc: kc, recorder: recorder, inf: inf, health: health, start: start}
	if !cfg.LeaderElection.Enabled {
		metrics.Leader.Set(1)
		health.SetRole("leader")
		return l.run(ctx)
	}
	if err := inf.waitForSync(ctx); err != nil {
		return err
	}
	return runElected(ctx, cfg.LeaderElection, kc, recorder, health, l.run)
}

// informerSet holds the shared informers of every controller. They run in
// every replica, leader or not, so a standby that takes over starts from
// synced caches.
type informerSet struct {
	factory        informers.SharedInformerFactory
	nodes          coreinformers.NodeInformer
	pods           coreinformers.PodInformer
	namespaces     coreinformers.NamespaceInformer
	services       coreinformers.ServiceInformer
	policies       networkinginformers.NetworkPolicyInformer
	endpointSlices discoveryinformers.EndpointSliceInformer
}

// newInformers creates the informers with their indexers. Informers start
// only if instantiated before factory.Start, so every one is, here;
// handlers added later get every existing object replayed.
func newInformers(kc kubernetes.Interface) (*informerSet, error) {
	factory := informers.NewSharedInformerFactory(kc, 0)
	s := &informerSet{
		factory:        factory,
		nodes:          factory.Core().V1().Nodes(),
		pods:           factory.Core().V1().Pods(),
		namespaces:     factory.Core().V1().Namespaces(),
		services:       factory.Core().V1().Services(),
		policies:       factory.Networking().V1().NetworkPolicies(),
		endpointSlices: factory.Discovery().V1().EndpointSlices(),
	}
	for _, ix := range []struct {
		informer cache.SharedIndexInformer
		indexers cache.Indexers
	}{
		{s.pods.Informer(), pod.NodeIndexers},
		{s.policies.Informer(), networkpolicy.PolicyIndexers},
		{s.endpointSlices.Informer(), service.SliceIndexers},
	} {
		if err := ix.informer.AddIndexers(ix.indexers); err != nil {
			return nil, err
		}
	}
	s.nodes.Informer()
	s.namespaces.Informer()
	s.services.Informer()
	return s, nil
}

// waitForSync waits until every informer has listed its objects.
func (s *informerSet) waitForSync(ctx context.Context) error {
	for typ, ok := range s.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("informer cache for %v did not sync", typ)
		}
	}
	return nil
}

// leader is what the writing master runs: the NB connection, the
// allocators and the reconciler, fed by the shared informers.
type leader struct {
	cfg      *config.Config
	kc       kubernetes.Interface
	recorder record.EventRecorder
	inf      *informerSet
	health   *metrics.Health
	start    time.Time
}

// run allocates, annotates and writes the NB until ctx ends.
func (l *leader) run(ctx context.Context) error {
	cfg, kc, recorder, health, start := l.cfg, l.kc, l.recorder, l.health, l.start
	nodes, pods, namespaces, policies := l.inf.nodes, l.inf.pods, l.inf.namespaces, l.inf.policies
	services, endpointSlices := l.inf.services, l.inf.endpointSlices

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

	if err := l.inf.waitForSync(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
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
