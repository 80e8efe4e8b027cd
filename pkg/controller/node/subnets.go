// Package node programs Nodes: it allocates each node its subnets and id
// (annotating k8s.ovn.org/node-subnets and k8s.ovn.org/node-id) and registers
// the Node owner type whose rows are the node's switch, ports and gateway
// chassis.
package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/allocator"
	"github.com/ovnkube/ovnkube/pkg/controller"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

var everything = labels.Everything()

// Node ids (k8s.ovn.org/node-id) start at 2, as in OVN-Kubernetes: 0 and 1
// stay reserved because interconnect mode derives each node's transit-switch
// address from its id, and .0/.1 of the transit subnet are not node addresses.
const (
	minNodeID = 2
	maxNodeID = 65535
)

// SubnetController allocates node subnets and ids and writes them as
// annotations. The annotations are the source of truth: on start every valid
// one is reserved before anything new is handed out, and an unchanged
// annotation is never re-sent.
type SubnetController struct {
	client   kubernetes.Interface
	lister   corelisters.NodeLister
	recorder record.EventRecorder
	subnets  *allocator.NodeSubnets
	ids      *allocator.IDAllocator
	queue    workqueue.TypedRateLimitingInterface[string]
	join     []netip.Prefix // join subnets, one per family

	mu      sync.Mutex
	waiting map[string]bool // nodes waiting for a subnet to free up
	// podsOn counts the pods bound to a node (set before Run); retained
	// are deleted nodes whose subnet and id are kept while such pods run.
	podsOn   func(node string) int
	retained map[string]bool
}

// KeepForPods makes a deleted node keep its subnet and id while pods bound
// to it still run (podsOn counts them): a node that is deleted and
// registers again (kubectl delete node, a kubelet re-registering) finds
// its subnet, so its running pods keep their addresses, and no other node
// is handed addresses that live pods hold.
func (c *SubnetController) KeepForPods(podsOn func(node string) int) { c.podsOn = podsOn }

// PodGone re-checks a deleted node whose subnet was kept for its pods once
// one of them is gone.
func (c *SubnetController) PodGone(node string) {
	c.mu.Lock()
	kept := c.retained[node]
	c.mu.Unlock()
	if !kept {
		return
	}
	if _, err := c.lister.Get(node); err == nil {
		return // registered again: the subnet is its own
	}
	c.Release(node)
}

// NewSubnetController allocates from ranges (the cluster subnets).
func NewSubnetController(c kubernetes.Interface, lister corelisters.NodeLister, recorder record.EventRecorder, ranges []allocator.Range, join []netip.Prefix) (*SubnetController, error) {
	subnets, err := allocator.NewNodeSubnets(ranges)
	if err != nil {
		return nil, fmt.Errorf("cluster subnets: %w", err)
	}
	ids, err := allocator.NewIDAllocator(minNodeID, maxNodeID)
	if err != nil {
		return nil, err
	}
	return &SubnetController{
		client: c, lister: lister, recorder: recorder, subnets: subnets, ids: ids, join: join,
		queue:   controller.NewQueue[string]("node-subnets", 50*time.Millisecond),
		waiting: map[string]bool{},
	}, nil
}

// Restore reserves the subnets and ids already annotated on nodes, oldest node
// first, so that on a conflict the older node keeps its subnet. It fails when a
// node's subnet has another prefix length than the configured host prefix:
// changing the host prefix would renumber live nodes, so it is refused.
func (c *SubnetController) Restore() error {
	nodes, err := c.lister.List(everything)
	if err != nil {
		return err
	}
	kube.OldestFirst(nodes)
	restored := 0
	var mismatched []string
	var mismatch error
	var notKept [][2]string // node, why
	for _, n := range nodes {
		if id, ok, err := kube.ParseNodeID(n.Annotations); ok && err == nil {
			if err := c.ids.Mark(n.Name, id); err != nil {
				klog.InfoS("Node id annotation not kept, a new id will be allocated", "node", n.Name, "reason", err.Error())
			}
		}
		subnets, ok, err := kube.ParseNodeSubnets(n.Annotations)
		if !ok || err != nil {
			continue // absent: allocated by sync; malformed: reported by the topology owner
		}
		if err := c.subnets.Mark(n.Name, subnets); err != nil {
			if errors.Is(err, allocator.ErrHostPrefixMismatch) {
				mismatched = append(mismatched, n.Name)
				if mismatch == nil {
					mismatch = err
				}
			}
			notKept = append(notKept, [2]string{n.Name, err.Error()})
			continue
		}
		restored++
	}
	// A host prefix no node matches is a changed --cluster-subnets, which
	// would re-address every node: refused. A few nodes that do not match
	// have a bad annotation: their sync gives them a new subnet and says so.
	if restored == 0 && len(mismatched) > 0 {
		return fmt.Errorf("node %s: %w; no node's subnet (%d checked) has the host prefix of --cluster-subnets: "+
			"set --cluster-subnets back to the host prefix the cluster was created with", mismatched[0], mismatch, len(mismatched))
	}
	for _, n := range notKept {
		klog.InfoS("Node subnet annotation not kept, the node will get a new subnet", "node", n[0], "reason", n[1])
	}
	c.updateUsage()
	klog.InfoS("Restored node subnets from annotations", "nodes", len(nodes), "restored", restored)
	return nil
}

// Enqueue asks for node name to be checked.
func (c *SubnetController) Enqueue(name string) { c.queue.Add(name) }

// Release frees a deleted node's subnet and id. Called only after the node's
// NB rows are gone, so a subnet is never live on two switches. Nodes waiting
// for a subnet are retried.
func (c *SubnetController) Release(name string) {
	if c.podsOn != nil {
		if n := c.podsOn(name); n > 0 {
			c.mu.Lock()
			first := !c.retained[name]
			if c.retained == nil {
				c.retained = map[string]bool{}
			}
			c.retained[name] = true
			c.mu.Unlock()
			if first {
				klog.InfoS("Keeping a deleted node's subnet and id while its pods run", "node", name, "pods", n)
			}
			return
		}
	}
	c.mu.Lock()
	delete(c.retained, name)
	c.mu.Unlock()
	if _, held := c.subnets.Get(name); !held {
		if _, held := c.ids.Get(name); !held {
			return // already released: Cleared runs on every reconcile of a gone node
		}
	}
	c.subnets.Release(name)
	c.ids.Release(name)
	c.updateUsage()
	klog.InfoS("Released node subnet and id", "node", name)
	c.mu.Lock()
	waiting := make([]string, 0, len(c.waiting))
	for n := range c.waiting {
		waiting = append(waiting, n)
	}
	c.mu.Unlock()
	for _, n := range waiting {
		c.queue.Add(n)
	}
}

// Run processes the queue with workers goroutines until ctx ends.
func (c *SubnetController) Run(ctx context.Context, workers int) {
	controller.Run(ctx, c.queue, workers, "node-subnets", c.sync)
}

// sync makes sure node name holds one subnet per family and an id, and that
// its annotations say so.
func (c *SubnetController) sync(ctx context.Context, name string) error {
	node, ok, err := kube.Found(c.lister.Get(name))
	if err != nil || !ok {
		return err
	}
	annotated, present, err := kube.ParseNodeSubnets(node.Annotations)
	if err != nil {
		// Only the master writes the annotation: a value that does not
		// parse is replaced with a new subnet, and said so on the Node.
		klog.ErrorS(err, "Replacing a node subnet annotation that does not parse", "node", name)
		c.recorder.Eventf(node, corev1.EventTypeWarning, ReasonSubnetConflict, "%v; allocating a new subnet", err)
		metrics.SubnetAllocationFailures.WithLabelValues("conflict").Inc()
		present = false
	}
	if present {
		if held, ok := c.subnets.Get(name); !ok || !sameSubnets(held, annotated) {
			c.subnets.Release(name)
			if err := c.subnets.Mark(name, annotated); err != nil {
				c.recorder.Eventf(node, corev1.EventTypeWarning, ReasonSubnetConflict,
					"Subnet annotation %v cannot be kept (%v); allocating a new subnet", annotated, err)
				metrics.SubnetAllocationFailures.WithLabelValues("conflict").Inc()
			}
		}
	}
	subnets, err := c.subnets.Allocate(name)
	if err != nil {
		reason := "error"
		if errors.Is(err, allocator.ErrExhausted) {
			reason = "exhausted"
			c.mu.Lock()
			c.waiting[name] = true
			c.mu.Unlock()
		}
		metrics.SubnetAllocationFailures.WithLabelValues(reason).Inc()
		c.recorder.Eventf(node, corev1.EventTypeWarning, ReasonSubnetAllocationFailed, "Cannot allocate a node subnet: %v", err)
		klog.ErrorS(err, "Cannot allocate a node subnet", "node", name)
		return nil // retried when a subnet is released
	}
	c.mu.Lock()
	delete(c.waiting, name)
	c.mu.Unlock()
	c.updateUsage()

	id, err := c.nodeID(node)
	if err != nil {
		return err
	}
	joinAddrs, err := JoinAddrs(c.join, id)
	if err != nil {
		return err
	}
	want := map[string]string{
		kube.NodeSubnetsAnnotation:                 kube.FormatNodeSubnets(subnets),
		kube.NodeIDAnnotation:                      strconv.Itoa(id),
		kube.NodeGatewayRouterLRPIfAddrsAnnotation: kube.FormatJoinAddrs(joinAddrs),
	}
	return c.annotate(ctx, node, want)
}

func (c *SubnetController) nodeID(node *corev1.Node) (int, error) {
	if id, ok, err := kube.ParseNodeID(node.Annotations); ok && err == nil {
		if held, has := c.ids.Get(node.Name); has && held == id {
			return id, nil
		}
		if err := c.ids.Mark(node.Name, id); err == nil {
			return id, nil
		}
	}
	id, err := c.ids.Allocate(node.Name)
	if err != nil {
		return 0, fmt.Errorf("allocate node id: %w", err)
	}
	return id, nil
}

// annotate patches only the annotations whose value differs.
func (c *SubnetController) annotate(ctx context.Context, node *corev1.Node, want map[string]string) error {
	patched, err := kube.Annotate(ctx, c.client.CoreV1().Nodes().Patch, node, want)
	if patched {
		klog.V(2).InfoS("Annotated node", "node", node.Name, "annotations", want)
	}
	return err
}

func (c *SubnetController) updateUsage() {
	for _, fam := range []struct {
		v6   bool
		name string
	}{{false, "ipv4"}, {true, "ipv6"}} {
		used, capacity := c.subnets.Usage(fam.v6)
		metrics.NodeSubnetsAllocated.WithLabelValues(fam.name).Set(float64(used))
		metrics.NodeSubnetsCapacity.WithLabelValues(fam.name).Set(float64(capacity))
	}
}

func sameSubnets(a, b []netip.Prefix) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(p netip.Prefix) bool { return !slices.Contains(b, p) })
}

// JoinAddrs returns node id's gateway router addresses on the join switch:
// the id-th address of each join subnet. Ids are unique and start at 2, so
// .1 stays ovn_cluster_router's and no two nodes collide; deriving them
// instead of allocating keeps them stable across restarts with no state.
func JoinAddrs(join []netip.Prefix, id int) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(join))
	for _, s := range join {
		a, err := topology.NthAddr(s, id)
		if err != nil {
			return nil, fmt.Errorf("join address of node id %d: %w", id, err)
		}
		out = append(out, netip.PrefixFrom(a, s.Bits()))
	}
	return out, nil
}
