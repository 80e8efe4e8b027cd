package node

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// annotateChassisID publishes the OVS system-id as the Node's
// k8s.ovn.org/node-chassis-id (the master binds the node's gateway
// chassis to it). The patch is sent only when the value differs, so a
// restart costs no API write.
func annotateChassisID(ctx context.Context, c kubernetes.Interface, node *corev1.Node, systemID string) error {
	if node.Annotations[kube.NodeChassisIDAnnotation] == systemID {
		return nil
	}
	patch := kube.AnnotationsPatch(map[string]string{kube.NodeChassisIDAnnotation: systemID})
	if _, err := c.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotate node %s with %s=%s: %w", node.Name, kube.NodeChassisIDAnnotation, systemID, err)
	}
	klog.InfoS("Annotated node", "node", node.Name, kube.NodeChassisIDAnnotation, systemID)
	return nil
}

// waitNodeSubnets watches the one Node until the master has written
// k8s.ovn.org/node-subnets, and returns them. A malformed annotation is
// an error: the master wrote something this agent cannot use.
func waitNodeSubnets(ctx context.Context, c kubernetes.Interface, name string) ([]netip.Prefix, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the informer
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
