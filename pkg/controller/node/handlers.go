package node

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Handlers routes Node informer events to the two queues: the subnet
// allocator and the NB reconciler. Updates that touch neither (status
// heartbeats, every 10 s per node) are dropped here.
func Handlers(subnets *SubnetController, rec *reconcile.Reconciler) cache.ResourceEventHandler {
	owner := topology.NodeOwner
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			n := obj.(*corev1.Node)
			subnets.Enqueue(n.Name)
			rec.Enqueue(owner(n.Name))
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1.Node), newObj.(*corev1.Node)
			if allocationChanged(old, cur) {
				subnets.Enqueue(cur.Name)
			}
			if topologyChanged(old, cur) {
				rec.Enqueue(owner(cur.Name))
			}
		},
		DeleteFunc: func(obj any) {
			if n, ok := kube.Deleted[*corev1.Node](obj); ok {
				rec.Enqueue(owner(n.Name))
			}
		},
	}
}

func allocationChanged(old, cur *corev1.Node) bool {
	return old.Annotations[kube.NodeSubnetsAnnotation] != cur.Annotations[kube.NodeSubnetsAnnotation] ||
		old.Annotations[kube.NodeIDAnnotation] != cur.Annotations[kube.NodeIDAnnotation] ||
		old.Annotations[kube.NodeGatewayRouterLRPIfAddrsAnnotation] != cur.Annotations[kube.NodeGatewayRouterLRPIfAddrsAnnotation]
}
