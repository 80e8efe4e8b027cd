package multicast

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Annotation turns multicast on for a namespace's pods ("true").
const Annotation = "k8s.ovn.org/multicast-enabled"

// OwnerType is the owner type of an enabled namespace's rows; the owner
// name is the namespace.
const OwnerType = "Multicast"

// ReasonInvalidAnnotation is the Warning Event reason of a bad
// k8s.ovn.org/multicast-enabled value.
const ReasonInvalidAnnotation = "InvalidMulticastAnnotation"

// Owner owns an enabled namespace's port group and ACLs.
func Owner(namespace string) reconcile.Owner {
	return reconcile.Owner{Type: OwnerType, Name: namespace}
}

// ParseEnabled reads k8s.ovn.org/multicast-enabled: "true" on, absent or
// "false" off, anything else an error (and off).
func ParseEnabled(annotations map[string]string) (bool, error) {
	switch v, ok := annotations[Annotation]; {
	case !ok || v == "false":
		return false, nil
	case v == "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s %q: want \"true\" or \"false\"", Annotation, v)
	}
}

// Sources are the listers the multicast owner type reads.
type Sources struct {
	Namespaces corelisters.NamespaceLister
	Pods       corelisters.PodLister
	Recorder   record.EventRecorder
	IPv4, IPv6 bool
}

// enabled reports whether a namespace has multicast on now.
func (s Sources) enabled(namespace string) bool {
	ns, err := s.Namespaces.Get(namespace)
	if err != nil {
		return false
	}
	on, _ := ParseEnabled(ns.Annotations)
	return on
}

// enabledNamespaces lists the namespaces with multicast on.
func (s Sources) enabledNamespaces() ([]string, error) {
	all, err := s.Namespaces.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range all {
		if on, _ := ParseEnabled(ns.Annotations); on {
			out = append(out, ns.Name)
		}
	}
	return out, nil
}

// OwnerType registers the enabled namespaces' rows.
func (s Sources) OwnerType() reconcile.OwnerType {
	return reconcile.OwnerType{
		Name:   OwnerType,
		Tables: []string{nbdb.PortGroupTable, nbdb.ACLTable},
		// The ingress ACL names the namespace's address set.
		After: []string{networkpolicy.OwnerTypeAddressSet},
		List:  s.enabledNamespaces,
		Desired: func(namespace string) ([]reconcile.Row, error) {
			if !s.enabled(namespace) {
				return nil, nil
			}
			return NamespaceRows(Owner(namespace), namespace, s.IPv4, s.IPv6)
		},
	}
}

// PeerKeys and PeerUsers make the enabled namespaces users of their pods'
// shared address set (networkpolicy.PeerUsers).
func (s Sources) PeerKeys() ([]string, error) {
	nss, err := s.enabledNamespaces()
	keys := make([]string, 0, len(nss))
	for _, ns := range nss {
		keys = append(keys, NamespacePeer(ns).ID())
	}
	return keys, err
}

// PeerUsers counts 1 for the key of an enabled namespace's pods.
func (s Sources) PeerUsers(key string) (int, error) {
	k, err := networkpolicy.ParsePeerKeyID(key)
	if err != nil || k.Namespace == "" || NamespacePeer(k.Namespace).ID() != key || !s.enabled(k.Namespace) {
		return 0, nil
	}
	return 1, nil
}

// Groups are the multicast port groups a pod's port belongs to:
// clusterPortGroup always (multicast is denied unless allowed), its
// namespace's group while the namespace has multicast on.
func (s Sources) Groups(pod *corev1.Pod) []reconcile.Ref {
	refs := []reconcile.Ref{topology.ClusterPortGroupRef(topology.ClusterPortGroup)}
	if s.enabled(pod.Namespace) {
		refs = append(refs, reconcile.Ref{Owner: Owner(pod.Namespace), Table: nbdb.PortGroupTable, ID: PortGroupName(pod.Namespace), Column: "ports"})
	}
	return refs
}

// Handler follows the namespaces' annotation: a change re-plans the
// namespace's rows, its address set and its pods (which join or leave the
// namespace's group); a bad value is reported once per change.
func (s Sources) Handler(rec *reconcile.Reconciler) cache.ResourceEventHandler {
	changed := func(ns *corev1.Namespace) {
		if _, err := ParseEnabled(ns.Annotations); err != nil {
			metrics.InvalidObjects.WithLabelValues("Namespace", "bad-multicast-enabled").Inc()
			klog.ErrorS(err, "Ignoring the namespace's multicast annotation", "namespace", ns.Name)
			s.Recorder.Eventf(ns, corev1.EventTypeWarning, ReasonInvalidAnnotation, "%v; multicast stays off for the namespace", err)
		}
		rec.Enqueue(Owner(ns.Name))
		rec.Enqueue(reconcile.Owner{Type: networkpolicy.OwnerTypeAddressSet, Name: NamespacePeer(ns.Name).ID()})
		pods, err := s.Pods.Pods(ns.Name).List(labels.Everything())
		if err != nil {
			return
		}
		for _, p := range pods {
			rec.Enqueue(topology.PodOwner(p.Namespace + "/" + p.Name))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok && ns.Annotations[Annotation] != "" {
				changed(ns)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*corev1.Namespace)
			cur, ok2 := newObj.(*corev1.Namespace)
			if ok1 && ok2 && old.Annotations[Annotation] != cur.Annotations[Annotation] {
				changed(cur)
			}
		},
		DeleteFunc: func(obj any) {
			// The pods go with the namespace; its rows go once nothing
			// lists the namespace as enabled.
			if ns, ok := kube.Deleted[*corev1.Namespace](obj); ok {
				rec.Enqueue(Owner(ns.Name))
				rec.Enqueue(reconcile.Owner{Type: networkpolicy.OwnerTypeAddressSet, Name: NamespacePeer(ns.Name).ID()})
			}
		},
	}
}
