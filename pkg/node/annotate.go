package node

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/node/gateway"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// nodeAnnotations are the k8s.ovn.org/* keys the agent owns on its Node:
// the OVS system-id (the master binds the node's gateway chassis to it) and
// its gateway as br-ex now holds it (the master builds the node's gateway
// router from it).
func nodeAnnotations(node, systemID string, up gateway.Uplink) map[string]string {
	var hops []netip.Addr
	for _, f := range []gateway.Family{gateway.IPv4, gateway.IPv6} {
		hops = append(hops, up.NextHops[f]...)
	}
	return map[string]string{
		kube.NodeChassisIDAnnotation: systemID,
		kube.L3GatewayConfigAnnotation: kube.FormatL3GatewayConfig(kube.GatewayConfig{
			BridgeID: up.Bridge, InterfaceID: topology.ExternalBridgeInterfaceID(up.Bridge, node),
			MAC: up.MAC, IPs: up.Addrs, NextHops: hops, NodePort: true,
		}),
		kube.NodePrimaryIfAddrAnnotation: kube.FormatPrimaryIfAddr(up.Addrs),
	}
}

// annotateNode patches the annotations that differ, so a restart costs no
// API write.
func annotateNode(ctx context.Context, c kubernetes.Interface, node *corev1.Node, want map[string]string) error {
	patched, err := kube.Annotate(ctx, c.CoreV1().Nodes().Patch, node, want)
	if patched {
		klog.InfoS("Annotated node", "node", node.Name, "annotations", want)
	}
	return err
}

// waitNodeSubnets watches the one Node until the master has written
// k8s.ovn.org/node-subnets, and returns them. A malformed annotation is
// an error: the master wrote something this agent cannot use.
func waitNodeSubnets(ctx context.Context, c kubernetes.Interface, name string) ([]netip.Prefix, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the informer
	inf, changed := watchOwnNode(ctx, c, name)
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return nil, fmt.Errorf("node informer for %s did not sync: %w", name, context.Cause(ctx))
	}
	t0 := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		n, err := inf.Lister().Get(name)
		if err == nil {
			subnets, present, err := kube.ParseNodeSubnets(n.Annotations)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", name, err)
			}
			if present {
				klog.InfoS("Node subnets assigned", "node", name, "subnets", fmt.Sprint(subnets), "waited", time.Since(t0))
				return subnets, nil
			}
		}
		select {
		case <-changed:
		case <-tick.C:
			klog.InfoS("Waiting for the master to assign node subnets", "node", name, "annotation", kube.NodeSubnetsAnnotation, "waited", time.Since(t0).Round(time.Second))
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s on node %s: %w", kube.NodeSubnetsAnnotation, name, ctx.Err())
		}
	}
}

// followNode keeps, for as long as ctx lives, the agent's own annotations
// on its Node and its management port on the Node's subnets: a Node that is
// deleted and registers again (a new object without the annotations) is
// annotated anew, and new subnets re-plumb the management port, without
// restarting the agent.
func followNode(ctx context.Context, c kubernetes.Interface, name string, want map[string]string, subnets []netip.Prefix, resubnet func([]netip.Prefix) error) {
	inf, changed := watchOwnNode(ctx, c, name)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		n, err := inf.Lister().Get(name)
		if err != nil {
			continue // deleted: wait for it to register again
		}
		if err := annotateNode(ctx, c, n, want); err != nil {
			klog.ErrorS(err, "Re-annotating the node", "node", name)
			poke() // retry on the next change or right away
			time.Sleep(time.Second)
			continue
		}
		got, ok, err := kube.ParseNodeSubnets(n.Annotations)
		if !ok || err != nil || slices.Equal(got, subnets) {
			continue
		}
		klog.InfoS("The node's subnets changed; re-plumbing the management port", "node", name, "from", fmt.Sprint(subnets), "to", fmt.Sprint(got))
		if err := resubnet(got); err != nil {
			klog.ErrorS(err, "Re-plumbing the management port", "node", name)
			continue
		}
		subnets = got
	}
}

// watchOwnNode starts an informer on the one Node name until ctx ends; the
// channel has a token after any add or update.
func watchOwnNode(ctx context.Context, c kubernetes.Interface, name string) (coreinformers.NodeInformer, chan struct{}) {
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}))
	inf := f.Core().V1().Nodes()
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { poke() }, UpdateFunc: func(any, any) { poke() },
	})
	f.Start(ctx.Done())
	return inf, changed
}
