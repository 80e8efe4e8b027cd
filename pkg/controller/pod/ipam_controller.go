package pod

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/allocator"
	"github.com/ovnkube/ovnkube/pkg/controller"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Event reasons on Pods.
const (
	ReasonInvalidAnnotation = "InvalidPodAnnotation"
	ReasonAllocationFailed  = "PodAddressAllocationFailed"
	ReasonReallocated       = "PodAddressReallocated"
	ReasonAddressConflict   = "PodAddressConflict"
)

// NodeIndex indexes pods by spec.nodeName, so a node's pods are found without
// listing the cluster.
const NodeIndex = "spec.nodeName"

// NodeIndexers is the indexer to add to the pod informer.
var NodeIndexers = cache.Indexers{NodeIndex: func(obj any) ([]string, error) {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		return []string{p.Spec.NodeName}, nil
	}
	return nil, nil
}}

// needsNetwork reports whether a pod gets an address and a port: scheduled,
// not on the host network, not finished. A terminating pod keeps both until
// the object is gone, as its containers may still run.
func needsNetwork(p *corev1.Pod) bool {
	return p.Spec.NodeName != "" && !p.Spec.HostNetwork &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// IPAMController writes k8s.ovn.org/pod-networks for every pod that needs
// one. The annotation is the source of truth: on start every valid one is
// reserved before anything new is allocated, so two live pods never share an
// address, across restarts too.
type IPAMController struct {
	client   kubernetes.Interface
	pods     corelisters.PodLister
	byNode   cache.Indexer
	nodes    corelisters.NodeLister
	recorder record.EventRecorder
	ipam     *ipam
	queue    workqueue.TypedRateLimitingInterface[string]
	// confirmed is told a pod's annotated addresses are its allocation
	// (set before Run), for the pods whose Confirm failed (unconfirmed).
	confirmed   func(key string)
	mu          sync.Mutex
	unconfirmed map[string]bool
}

// OnConfirmed registers who is told that a pod's annotation was checked
// against the allocation (the Pod owner, which waits for that).
func (c *IPAMController) OnConfirmed(f func(key string)) { c.confirmed = f }

// Confirm checks a pod's annotated addresses against what the allocator
// gave it: the same addresses, held by no other pod, inside its node's
// subnets (the allocator only holds such), and the MAC derived from them.
// Only then may a port carry them: an annotation written by anyone else
// (or altered behind the master's back) never reaches the NB.
func (c *IPAMController) Confirm(key string, addrs kube.PodAddresses) error {
	err := c.check(key, addrs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if c.unconfirmed == nil {
			c.unconfirmed = map[string]bool{}
		}
		c.unconfirmed[key] = true
	}
	return err
}

func (c *IPAMController) check(key string, addrs kube.PodAddresses) error {
	if !c.ipam.holds(key, addrs.IPs) {
		return fmt.Errorf("addresses %v are not the pod's allocation", addrs.IPs)
	}
	if want := podAddresses(addrs.IPs).MAC; addrs.MAC.String() != want.String() {
		return fmt.Errorf("MAC %s is not %s, the one derived from %v", addrs.MAC, want, addrs.IPs)
	}
	return nil
}

// NewIPAMController builds the controller over the pod and node informers.
func NewIPAMController(c kubernetes.Interface, pods cache.SharedIndexInformer, nodes corelisters.NodeLister, recorder record.EventRecorder) *IPAMController {
	return &IPAMController{
		client: c, pods: corelisters.NewPodLister(pods.GetIndexer()), byNode: pods.GetIndexer(),
		nodes: nodes, recorder: recorder, ipam: newIPAM(),
		queue: controller.NewQueue[string]("pod-ipam", 20*time.Millisecond),
	}
}

// Restore reserves the addresses already annotated on live pods, oldest pod
// first (on a conflict the older pod keeps its address).
func (c *IPAMController) Restore() error {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	kube.OldestFirst(pods)
	restored := 0
	for _, p := range pods {
		if !needsNetwork(p) {
			continue
		}
		addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
		if !ok || err != nil {
			continue
		}
		subnets, ok := c.nodeSubnets(p.Spec.NodeName)
		if !ok {
			continue
		}
		if err := c.ipam.mark(key(p), p.Spec.NodeName, subnets, addrs.IPs); err != nil {
			klog.InfoS("Pod address annotation not kept, a new address will be allocated", "pod", key(p), "reason", err.Error())
			continue
		}
		restored++
	}
	klog.InfoS("Restored pod addresses from annotations", "pods", len(pods), "restored", restored)
	return nil
}

// Enqueue asks for pod key ("namespace/name") to be checked.
func (c *IPAMController) Enqueue(key string) { c.queue.Add(key) }

// EnqueueNode queues every pod on node (its subnets changed or appeared).
func (c *IPAMController) EnqueueNode(node string) {
	for _, k := range podsOn(c.byNode, node) {
		c.queue.Add(k)
	}
}

// Release frees a pod's addresses once its port is gone from the NB.
func (c *IPAMController) Release(key string) {
	c.ipam.release(key)
	klog.V(4).InfoS("Released pod addresses", "pod", key)
}

// ForgetNode drops a deleted node's address book, unless pods bound to it
// still run: they keep their addresses for when the node registers again.
func (c *IPAMController) ForgetNode(node string) {
	if c.PodsOn(node) > 0 {
		return
	}
	c.ipam.forgetNode(node)
}

// PodsOn counts the pods bound to node that need a pod network address.
func (c *IPAMController) PodsOn(node string) int {
	n := 0
	for _, k := range podsOn(c.byNode, node) {
		ns, name, _ := cache.SplitMetaNamespaceKey(k)
		if p, err := c.pods.Pods(ns).Get(name); err == nil && needsNetwork(p) {
			n++
		}
	}
	return n
}

// Run processes the queue until ctx ends.
func (c *IPAMController) Run(ctx context.Context, workers int) {
	controller.Run(ctx, c.queue, workers, "pod-ipam", c.sync)
}

func (c *IPAMController) sync(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	p, ok, err := kube.Found(c.pods.Pods(ns).Get(name))
	if err != nil || !ok || !needsNetwork(p) {
		return err
	}
	subnets, ok := c.nodeSubnets(p.Spec.NodeName)
	if !ok {
		return nil // retried when the node gets its subnets
	}
	addrs, present, err := kube.ParsePodNetworks(p.Annotations)
	if err != nil {
		return nil // left for the user to fix; the Pod owner reports it
	}
	if present {
		if held, ok := c.ipam.get(k); ok && !slices.Equal(held, addrs.IPs) {
			// Changed behind the master's back: the pod keeps the
			// addresses it was given (and plumbed).
			c.recorder.Eventf(p, corev1.EventTypeWarning, ReasonReallocated, "Annotated addresses %v are not the pod's allocation %v; restoring it", addrs.IPs, held)
			return c.annotate(ctx, p, kube.FormatPodNetworks(podAddresses(held)))
		}
		err := c.ipam.mark(k, p.Spec.NodeName, subnets, addrs.IPs)
		if err == nil {
			if want := podAddresses(addrs.IPs); want.MAC.String() != addrs.MAC.String() {
				// The addresses are the pod's; the rest of the annotation
				// is rewritten from them.
				c.recorder.Eventf(p, corev1.EventTypeWarning, ReasonReallocated, "MAC %s is not the one derived from %v; rewriting it to %s", addrs.MAC, addrs.IPs, want.MAC)
				return c.annotate(ctx, p, kube.FormatPodNetworks(want))
			}
			c.notifyConfirmed(k)
			return nil
		}
		if p.Status.Phase == corev1.PodRunning {
			// A running pod is never re-addressed under its feet: it is
			// reported, and its port waits until this is resolved (the
			// pod deleted, or the conflicting one gone).
			metrics.InvalidObjects.WithLabelValues("Pod", "address-not-keepable").Inc()
			klog.ErrorS(err, "A running pod's addresses cannot be kept; not re-addressing it", "pod", k, "addresses", fmt.Sprint(addrs.IPs))
			c.recorder.Eventf(p, corev1.EventTypeWarning, ReasonAddressConflict, "Addresses %v cannot be kept (%v); the running pod is not re-addressed and gets no port until this is resolved", addrs.IPs, err)
			return nil
		}
		c.recorder.Eventf(p, corev1.EventTypeWarning, ReasonReallocated, "Addresses %v cannot be kept (%v); allocating new ones", addrs.IPs, err)
	}
	ips, err := c.ipam.allocate(k, p.Spec.NodeName, subnets)
	if err != nil {
		reason := "error"
		if errors.Is(err, allocator.ErrExhausted) {
			reason = "exhausted"
		}
		metrics.PodAddressAllocationFailures.WithLabelValues(reason).Inc()
		c.recorder.Eventf(p, corev1.EventTypeWarning, ReasonAllocationFailed, "Cannot allocate an address on node %s: %v", p.Spec.NodeName, err)
		return fmt.Errorf("allocate address for pod %s: %w", k, err)
	}
	return c.annotate(ctx, p, kube.FormatPodNetworks(podAddresses(ips)))
}

// notifyConfirmed tells the Pod owner about a pod it was waiting for.
func (c *IPAMController) notifyConfirmed(k string) {
	c.mu.Lock()
	waiting := c.unconfirmed[k]
	delete(c.unconfirmed, k)
	c.mu.Unlock()
	if waiting && c.confirmed != nil {
		c.confirmed(k)
	}
}

// podAddresses is the annotation content for ips: the MAC derives from the
// IPv4 address (IPv6 for single-stack IPv6), gateways are the subnets' .1.
func podAddresses(ips []netip.Prefix) kube.PodAddresses {
	out := kube.PodAddresses{IPs: ips}
	addrs := make([]netip.Addr, len(ips))
	for i, ip := range ips {
		addrs[i] = ip.Addr()
		if gw, err := topology.GatewayIP(ip.Masked()); err == nil {
			out.Gateways = append(out.Gateways, gw)
		}
	}
	out.MAC = topology.MACFromIP(topology.PreferIPv4(addrs))
	return out
}

func (c *IPAMController) annotate(ctx context.Context, p *corev1.Pod, value string) error {
	_, err := kube.Annotate(ctx, c.client.CoreV1().Pods(p.Namespace).Patch, p, map[string]string{kube.PodNetworksAnnotation: value})
	if apierrors.IsNotFound(err) {
		c.ipam.release(key(p))
		return nil
	}
	return err
}

// nodeSubnets reads a node's subnets from its annotation.
func (c *IPAMController) nodeSubnets(node string) ([]netip.Prefix, bool) {
	n, err := c.nodes.Get(node)
	if err != nil {
		return nil, false
	}
	subnets, ok, err := kube.ParseNodeSubnets(n.Annotations)
	return subnets, ok && err == nil
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// podsOn returns the keys of the pods bound to node.
func podsOn(byNode cache.Indexer, node string) []string {
	objs, err := byNode.ByIndex(NodeIndex, node)
	if err != nil {
		return nil
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			keys = append(keys, key(p))
		}
	}
	return keys
}
