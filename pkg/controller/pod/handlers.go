package pod

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Handlers routes Pod informer events to the IPAM queue and the NB
// reconciler. Status-only updates (readiness flips, container restarts) that
// change neither the node, the phase's network relevance nor the annotation
// are dropped here.
func Handlers(ipam *IPAMController, rec *reconcile.Reconciler) cache.ResourceEventHandler {
	owner := topology.PodOwner
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			p := obj.(*corev1.Pod)
			if p.Spec.HostNetwork {
				return
			}
			ipam.Enqueue(key(p))
			rec.Enqueue(owner(key(p)))
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
			if cur.Spec.HostNetwork || !relevantChange(old, cur) {
				return
			}
			ipam.Enqueue(key(cur))
			rec.Enqueue(owner(key(cur)))
		},
		DeleteFunc: func(obj any) {
			if p, ok := kube.Deleted[*corev1.Pod](obj); ok && !p.Spec.HostNetwork {
				rec.Enqueue(owner(key(p)))
			}
		},
	}
}

func relevantChange(old, cur *corev1.Pod) bool {
	return old.Spec.NodeName != cur.Spec.NodeName ||
		!labels.Equals(old.Labels, cur.Labels) || // port-group membership (network policies)
		needsNetwork(old) != needsNetwork(cur) ||
		old.UID != cur.UID ||
		old.Annotations[kube.PodNetworksAnnotation] != cur.Annotations[kube.PodNetworksAnnotation]
}

// NodeHandlers requeues a node's pods when its subnets appear or change
// (pods scheduled before the node had a subnet wait for this) and drops a
// deleted node's address book.
func NodeHandlers(ipam *IPAMController, rec *reconcile.Reconciler) cache.ResourceEventHandler {
	requeue := func(node string) {
		ipam.EnqueueNode(node)
		for _, k := range podsOn(ipam.byNode, node) {
			rec.Enqueue(topology.PodOwner(k))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { requeue(obj.(*corev1.Node).Name) },
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1.Node), newObj.(*corev1.Node)
			if old.Annotations[kube.NodeSubnetsAnnotation] != cur.Annotations[kube.NodeSubnetsAnnotation] {
				requeue(cur.Name)
			}
		},
		DeleteFunc: func(obj any) {
			if n, ok := kube.Deleted[*corev1.Node](obj); ok {
				ipam.ForgetNode(n.Name)
			}
		},
	}
}
