package pod

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// OwnerType returns the Pod owner type: a pod's port follows from its
// k8s.ovn.org/pod-networks annotation once ipam has confirmed it is the
// pod's allocation; ipam frees the pod's addresses once the port is gone
// (pod deleted or finished). groups returns the port
// groups a pod's port belongs to (nil: none); after names the owner types
// of those groups.
func OwnerType(pods corelisters.PodLister, recorder record.EventRecorder, ipam *IPAMController, groups func(*corev1.Pod) []reconcile.Ref, after ...string) reconcile.OwnerType {
	get := func(k string) (*corev1.Pod, bool, error) {
		ns, name, err := cache.SplitMetaNamespaceKey(k)
		if err != nil {
			return nil, false, nil
		}
		return kube.Found(pods.Pods(ns).Get(name))
	}
	return reconcile.OwnerType{
		Name:   topology.OwnerTypePod,
		Tables: []string{nbdb.LogicalSwitchPortTable},
		After:  append([]string{topology.OwnerTypeNode}, after...),
		List: func() ([]string, error) {
			all, err := pods.List(labels.Everything())
			if err != nil {
				return nil, err
			}
			keys := make([]string, 0, len(all))
			for _, p := range all {
				if needsNetwork(p) {
					keys = append(keys, key(p))
				}
			}
			return keys, nil
		},
		Desired: func(k string) ([]reconcile.Row, error) {
			p, ok, err := get(k)
			if err != nil || !ok || !needsNetwork(p) {
				return nil, err
			}
			addrs, present, err := kube.ParsePodNetworks(p.Annotations)
			if err != nil {
				return nil, reconcile.Invalid("bad-pod-networks", err)
			}
			if !present {
				return nil, reconcile.Wait("no address allocated yet")
			}
			if err := ipam.Confirm(k, addrs); err != nil {
				// The IPAM controller re-allocates or rewrites it and
				// tells us; the port stays as it was meanwhile.
				return nil, reconcile.Wait(err.Error())
			}
			in := Input{
				Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Node: p.Spec.NodeName,
				MAC: addrs.MAC, IPs: addrs.IPs,
			}
			if groups != nil {
				in.Groups = groups(p)
			}
			return Rows(in), nil
		},
		Invalid: func(k string, err *reconcile.InvalidError) {
			if p, ok, _ := get(k); ok {
				recorder.Eventf(p, corev1.EventTypeWarning, ReasonInvalidAnnotation, "%v; the pod's OVN port is left as it was", err)
			}
		},
		Cleared: func(k string) {
			if p, ok, err := get(k); err == nil && (!ok || !needsNetwork(p)) {
				ipam.Release(k)
			}
		},
	}
}
