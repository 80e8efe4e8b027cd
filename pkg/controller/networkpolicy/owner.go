package networkpolicy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Owner types: a policy owns its port group and ACLs; an address set of a
// peer selection is shared by every policy naming that selection.
const (
	OwnerTypePolicy      = "NetworkPolicy"
	OwnerTypeAddressSet  = "AddressSet"
	OwnerTypeDefaultDeny = "DefaultDeny"
)

// DefaultDenyOwner owns a namespace's default-deny port group of one
// direction; its name is "<namespace>/ingress" or "<namespace>/egress".
func DefaultDenyOwner(namespace string, egress bool) reconcile.Owner {
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	return reconcile.Owner{Type: OwnerTypeDefaultDeny, Name: namespace + "/" + dir}
}

// ReasonInvalidPolicy is the Warning Event reason of a rejected policy.
const ReasonInvalidPolicy = "InvalidNetworkPolicy"

// PeerIndex indexes NetworkPolicies by the peer keys they name.
const PeerIndex = "peer-keys"

// PolicyIndexers are the indexers the NetworkPolicy informer needs.
var PolicyIndexers = cache.Indexers{PeerIndex: func(obj any) ([]string, error) {
	p, ok := obj.(*networkingv1.NetworkPolicy)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, k := range PeerKeys(p) {
		keys = append(keys, k.ID())
	}
	return keys, nil
}}

// PeerKeys are the selections a policy's rules name (ipBlocks aside),
// without validating them: an invalid policy's keys simply have a user
// whose rows are never written.
func PeerKeys(p *networkingv1.NetworkPolicy) []PeerKey {
	var peers []networkingv1.NetworkPolicyPeer
	for _, r := range p.Spec.Ingress {
		peers = append(peers, r.From...)
	}
	for _, r := range p.Spec.Egress {
		peers = append(peers, r.To...)
	}
	seen := map[string]bool{}
	var out []PeerKey
	for _, peer := range peers {
		if peer.IPBlock != nil {
			continue
		}
		k := PeerKey{PodSelector: normalize(peer.PodSelector), NamespaceSelector: normalize(peer.NamespaceSelector)}
		if peer.NamespaceSelector == nil {
			k.Namespace = p.Namespace
		}
		if s := k.ID(); !seen[s] {
			seen[s] = true
			out = append(out, k)
		}
	}
	return out
}

// PolicyOwner is the owner of a policy's rows; key is "namespace/name".
func PolicyOwner(key string) reconcile.Owner {
	return reconcile.Owner{Type: OwnerTypePolicy, Name: key}
}

// Sources are the listers and indexes the owner types read.
type Sources struct {
	Policies   networkinglisters.NetworkPolicyLister
	PolicyIdx  cache.Indexer // with PolicyIndexers
	Pods       corelisters.PodLister
	Namespaces corelisters.NamespaceLister
	Selectors  *controller.SelectorIndex
	Recorder   record.EventRecorder
	IPv4, IPv6 bool
	// OtherPeers are the users of peer address sets besides policies
	// (multicast-enabled namespaces use their pods' set). Optional.
	OtherPeers PeerUsers
}

// PeerUsers names the peer address sets a feature uses (as PeerKey.ID)
// and how many of its objects use one.
type PeerUsers interface {
	PeerKeys() ([]string, error)
	PeerUsers(key string) (int, error)
}

// AddressSetType is the shared owner type of the peer selections' address sets.
func (s Sources) AddressSetType() reconcile.Shared {
	return reconcile.Shared{
		Name:   OwnerTypeAddressSet,
		Tables: []string{nbdb.AddressSetTable},
		Keys: func() ([]string, error) {
			keys := s.PolicyIdx.ListIndexFuncValues(PeerIndex)
			if s.OtherPeers == nil {
				return keys, nil
			}
			more, err := s.OtherPeers.PeerKeys()
			return append(keys, more...), err
		},
		Users: func(key string) (int, error) {
			users, err := s.PolicyIdx.ByIndex(PeerIndex, key)
			if err != nil {
				return 0, err
			}
			n := len(users)
			if s.OtherPeers != nil {
				more, err := s.OtherPeers.PeerUsers(key)
				if err != nil {
					return 0, err
				}
				n += more
			}
			if n == 0 {
				s.Selectors.Set(reconcile.Owner{Type: OwnerTypeAddressSet, Name: key}, nil)
			}
			return n, nil
		},
		Rows: func(key string) ([]reconcile.Row, error) {
			k, err := ParsePeerKeyID(key)
			if err != nil {
				return nil, nil // not a key of ours: nothing
			}
			sel, err := s.selection(k)
			if err != nil {
				return nil, nil // the policy naming it is reported invalid
			}
			s.Selectors.Set(reconcile.Owner{Type: OwnerTypeAddressSet, Name: key}, []controller.Selection{sel})
			pods, err := s.selected(sel)
			if err != nil {
				return nil, err
			}
			var addrs []netip.Addr
			for _, p := range pods {
				addrs = append(addrs, p.IPs...)
			}
			return AddressSetRows(k, s.IPv4, s.IPv6, addrs), nil
		},
	}
}

// DefaultDenyType is the shared owner type of the namespaces' default-deny
// port groups: alive while a policy of the namespace isolates that
// direction.
func (s Sources) DefaultDenyType() reconcile.Shared {
	parse := func(key string) (string, bool, bool) {
		ns, dir, ok := strings.Cut(key, "/")
		return ns, dir == "egress", ok && (dir == "ingress" || dir == "egress")
	}
	return reconcile.Shared{
		Name:   OwnerTypeDefaultDeny,
		Tables: []string{nbdb.PortGroupTable, nbdb.ACLTable},
		Keys: func() ([]string, error) {
			all, err := s.Policies.List(labels.Everything())
			if err != nil {
				return nil, err
			}
			var keys []string
			for _, p := range all {
				in, eg := Directions(p)
				if in {
					keys = append(keys, DefaultDenyOwner(p.Namespace, false).Name)
				}
				if eg {
					keys = append(keys, DefaultDenyOwner(p.Namespace, true).Name)
				}
			}
			return keys, nil
		},
		Users: func(key string) (int, error) {
			ns, egress, ok := parse(key)
			if !ok {
				return 0, nil
			}
			ps, err := s.Policies.NetworkPolicies(ns).List(labels.Everything())
			n := 0
			for _, p := range ps {
				if in, eg := Directions(p); (egress && eg) || (!egress && in) {
					n++
				}
			}
			return n, err
		},
		Rows: func(key string) ([]reconcile.Row, error) {
			ns, egress, _ := parse(key)
			return DefaultDenyRows(DefaultDenyOwner(ns, egress), ns, egress, s.logging(ns)), nil
		},
	}
}

// Groups returns the port groups a pod's port belongs to: those of the
// valid policies selecting it and its namespace's default-deny groups of
// the directions they isolate. An invalid policy is left out, so it never
// holds a pod's port back waiting for a group that will not exist.
func (s Sources) Groups(pod *corev1.Pod) []reconcile.Ref {
	var refs []reconcile.Ref
	var ingress, egress bool
	for _, o := range s.Selectors.Selecting(pod.Namespace, pod.Labels) {
		if o.Type != OwnerTypePolicy {
			continue
		}
		ns, name, err := cache.SplitMetaNamespaceKey(o.Name)
		if err != nil {
			continue
		}
		p, err := s.Policies.NetworkPolicies(ns).Get(name)
		if err != nil || !selects(p, pod) { // the index also holds named egress ports' peers
			continue
		}
		if _, err := Rows(Input{Owner: o, Policy: p, IPv4: s.IPv4, IPv6: s.IPv6}); err != nil {
			continue
		}
		refs = append(refs, reconcile.Ref{Owner: o, Table: nbdb.PortGroupTable, ID: PortGroupName(ns, name), Column: "ports"})
		in, eg := Directions(p)
		ingress, egress = ingress || in, egress || eg
	}
	for _, dd := range []struct{ on, egress bool }{{ingress, false}, {egress, true}} {
		if dd.on {
			refs = append(refs, reconcile.Ref{Owner: DefaultDenyOwner(pod.Namespace, dd.egress), Table: nbdb.PortGroupTable,
				ID: DefaultDenyPortGroupName(pod.Namespace, dd.egress), Column: "ports"})
		}
	}
	return refs
}

// PolicyType is the owner type of the NetworkPolicies themselves.
func (s Sources) PolicyType() reconcile.OwnerType {
	return reconcile.OwnerType{
		Name:   OwnerTypePolicy,
		Tables: []string{nbdb.PortGroupTable, nbdb.ACLTable},
		After:  []string{OwnerTypeAddressSet, OwnerTypeDefaultDeny},
		List:   func() ([]string, error) { return kube.Keys(s.Policies.List(labels.Everything())) },
		Desired: func(key string) ([]reconcile.Row, error) {
			ns, name, err := cache.SplitMetaNamespaceKey(key)
			if err != nil {
				return nil, nil
			}
			owner := PolicyOwner(key)
			p, ok, err := kube.Found(s.Policies.NetworkPolicies(ns).Get(name))
			if err != nil || !ok {
				return nil, err
			}
			podSel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
			if err != nil {
				return nil, reconcile.Invalid("bad-pod-selector", fmt.Errorf("podSelector: %w", err))
			}
			selected, err := s.selected(controller.Selection{Namespace: ns, Objects: podSel})
			if err != nil {
				return nil, err
			}
			out, err := Rows(Input{
				Owner: owner, Policy: p, IPv4: s.IPv4, IPv6: s.IPv6, Selected: selected,
				Peers: func(k PeerKey) []Pod {
					ps, err := s.selection(k)
					if err != nil {
						return nil
					}
					pods, _ := s.selected(ps)
					return pods
				},
				Logging: s.logging(ns),
			})
			return out.Rows, err
		},
		Invalid: func(key string, err *reconcile.InvalidError) {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			if p, gerr := s.Policies.NetworkPolicies(ns).Get(name); gerr == nil {
				s.Recorder.Eventf(p, corev1.EventTypeWarning, ReasonInvalidPolicy, "%v; the policy is not applied until it is fixed", err)
			}
		},
		Latency: metrics.NetworkPolicyProgrammingLatency,
	}
}

// Handlers routes policy, pod and namespace events to the owners they
// affect: a policy to itself and to the address sets of its old and new
// peers (their user counts change); a pod whose labels, addresses or
// phase change to the policies and address sets selecting it; a
// namespace whose labels change to the address sets selecting its
// namespace, and whose logging annotation changes to its policies.
func (s Sources) Handlers(rec *reconcile.Reconciler) (policies, pods, namespaces cache.ResourceEventHandler) {
	enqueue := func(owners []reconcile.Owner) {
		for _, o := range owners {
			rec.Enqueue(o)
		}
	}
	asOwners := func(p *networkingv1.NetworkPolicy) []reconcile.Owner {
		var out []reconcile.Owner
		for _, k := range PeerKeys(p) {
			out = append(out, reconcile.Owner{Type: OwnerTypeAddressSet, Name: k.ID()})
		}
		return out
	}
	// A policy's owners: itself, its address sets, its namespace's
	// default-deny groups, and the pods it selects (each links its own
	// port into the policy's group).
	policyOwners := func(obj metav1.Object) []reconcile.Owner {
		p, ok := obj.(*networkingv1.NetworkPolicy)
		if !ok {
			return nil
		}
		out := append([]reconcile.Owner{PolicyOwner(p.Namespace + "/" + p.Name),
			DefaultDenyOwner(p.Namespace, false), DefaultDenyOwner(p.Namespace, true)}, asOwners(p)...)
		if sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector); err == nil {
			if pods, err := s.Pods.Pods(p.Namespace).List(sel); err == nil {
				for _, pod := range pods {
					out = append(out, topology.PodOwner(pod.Namespace+"/"+pod.Name))
				}
			}
		}
		return out
	}
	register := func(obj any, deleted bool) {
		p, ok := obj.(*networkingv1.NetworkPolicy)
		if !ok {
			return
		}
		owner := PolicyOwner(p.Namespace + "/" + p.Name)
		sels, err := s.dependencies(p)
		if deleted || err != nil {
			s.Selectors.Set(owner, nil)
			return
		}
		s.Selectors.Set(owner, sels)
	}
	fan := controller.FanOut(enqueue, policyOwners, func(old, cur metav1.Object) controller.Change {
		if old.GetResourceVersion() == cur.GetResourceVersion() {
			return controller.NoChange
		}
		return controller.Content
	})
	policies = cache.ResourceEventHandlerFuncs{
		// The selection is registered before the owners are enqueued, so
		// the selected pods, planned next, find the policy.
		AddFunc: func(obj any) { register(obj, false); fan.OnAdd(obj, false) },
		UpdateFunc: func(oldObj, newObj any) {
			register(newObj, false)
			fan.OnUpdate(oldObj, newObj)
		},
		DeleteFunc: func(obj any) {
			if p, ok := kube.Deleted[*networkingv1.NetworkPolicy](obj); ok {
				register(p, true)
			}
			fan.OnDelete(obj)
		},
	}
	// A pod's label change re-plans only the selections it enters or
	// leaves; a new address or phase every selection holding it. (The pod
	// owner's own handler re-plans the pod itself.)
	pods = controller.FanOut(enqueue,
		func(o metav1.Object) []reconcile.Owner { return s.Selectors.Selecting(o.GetNamespace(), o.GetLabels()) },
		func(old, cur metav1.Object) controller.Change {
			op, ok1 := old.(*corev1.Pod)
			cp, ok2 := cur.(*corev1.Pod)
			switch {
			case !ok1 || !ok2 || op.Status.Phase != cp.Status.Phase ||
				op.Annotations[kube.PodNetworksAnnotation] != cp.Annotations[kube.PodNetworksAnnotation]:
				return controller.Content
			case !labels.Equals(op.Labels, cp.Labels):
				return controller.Membership
			}
			return controller.NoChange
		})
	selecting := s.Selectors.NamespaceHandler(enqueue)
	namespaces = cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			selecting.OnAdd(obj, false)
			if ns, ok := obj.(*corev1.Namespace); ok {
				s.checkLogging(ns)
			}
		},
		DeleteFunc: selecting.OnDelete,
		UpdateFunc: func(oldObj, newObj any) {
			selecting.OnUpdate(oldObj, newObj)
			old, ok1 := oldObj.(*corev1.Namespace)
			cur, ok2 := newObj.(*corev1.Namespace)
			if ok1 && ok2 && old.Annotations[LoggingAnnotation] != cur.Annotations[LoggingAnnotation] {
				s.checkLogging(cur)
				rec.Enqueue(DefaultDenyOwner(cur.Name, false))
				rec.Enqueue(DefaultDenyOwner(cur.Name, true))
				if ps, err := s.Policies.NetworkPolicies(cur.Name).List(labels.Everything()); err == nil {
					for _, p := range ps {
						rec.Enqueue(PolicyOwner(p.Namespace + "/" + p.Name))
					}
				}
			}
		},
	}
	return policies, pods, namespaces
}

// dependencies are the pods a policy's rows depend on: those it selects
// (its port group; its ingress named ports resolve over them) and the
// peers of egress rules that name ports, which resolve over the
// destination pods, so a peer pod's change re-plans the policy.
func (s Sources) dependencies(p *networkingv1.NetworkPolicy) ([]controller.Selection, error) {
	podSel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		return nil, err
	}
	out := []controller.Selection{{Namespace: p.Namespace, Objects: podSel}}
	for _, r := range p.Spec.Egress {
		named := false
		for _, port := range r.Ports {
			named = named || port.Port != nil && port.Port.Type == intstr.String
		}
		if !named {
			continue
		}
		egressOnly := &networkingv1.NetworkPolicy{ObjectMeta: p.ObjectMeta, Spec: networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{r}}}
		for _, k := range PeerKeys(egressOnly) {
			sel, err := s.selection(k)
			if err != nil {
				return nil, err
			}
			out = append(out, sel)
		}
	}
	return out, nil
}

// selects reports whether a policy's podSelector selects pod.
func selects(p *networkingv1.NetworkPolicy, pod *corev1.Pod) bool {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	return err == nil && p.Namespace == pod.Namespace && sel.Matches(labels.Set(pod.Labels))
}

// selection turns a peer key into a selector-index selection.
func (s Sources) selection(k PeerKey) (controller.Selection, error) {
	sel := controller.Selection{Namespace: k.Namespace, Objects: labels.Everything()}
	if k.PodSelector != nil {
		ps, err := metav1.LabelSelectorAsSelector(k.PodSelector)
		if err != nil {
			return sel, err
		}
		sel.Objects = ps
	}
	if k.NamespaceSelector != nil {
		ns, err := metav1.LabelSelectorAsSelector(k.NamespaceSelector)
		if err != nil {
			return sel, err
		}
		sel.Namespaces = ns
	}
	return sel, nil
}

// selected lists the pods of a selection with their addresses (from
// k8s.ovn.org/pod-networks) and named ports; pods without addresses yet
// or finished are left out.
func (s Sources) selected(sel controller.Selection) ([]Pod, error) {
	namespaces := []string{sel.Namespace}
	if sel.Namespaces != nil {
		nss, err := s.Namespaces.List(sel.Namespaces)
		if err != nil {
			return nil, err
		}
		namespaces = namespaces[:0]
		for _, ns := range nss {
			namespaces = append(namespaces, ns.Name)
		}
		slices.Sort(namespaces)
	}
	var out []Pod
	for _, ns := range namespaces {
		pods, err := s.Pods.Pods(ns).List(sel.Objects)
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
			if err != nil || !ok {
				continue
			}
			pod := Pod{}
			for _, ip := range addrs.IPs {
				pod.IPs = append(pod.IPs, ip.Addr())
			}
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name != "" {
						pod.Ports = append(pod.Ports, cp)
					}
				}
			}
			out = append(out, pod)
		}
	}
	return out, nil
}

// ReasonInvalidLogging is the Warning Event reason of a bad
// k8s.ovn.org/acl-logging value.
const ReasonInvalidLogging = "InvalidACLLogging"

// checkLogging reports a namespace's bad acl-logging value (its ACLs then
// log nothing): Warning Event, ovnkube_invalid_objects_total, log line.
func (s Sources) checkLogging(ns *corev1.Namespace) {
	if _, err := ParseLogging(ns.Annotations[LoggingAnnotation]); err != nil {
		metrics.InvalidObjects.WithLabelValues("Namespace", "bad-acl-logging").Inc()
		klog.ErrorS(err, "Ignoring the namespace's ACL logging annotation", "namespace", ns.Name)
		s.Recorder.Eventf(ns, corev1.EventTypeWarning, ReasonInvalidLogging, "%v; the namespace's ACLs do not log", err)
	}
}

// LoggingAnnotation is a namespace's ACL logging severities.
const LoggingAnnotation = "k8s.ovn.org/acl-logging"

// logging reads a namespace's k8s.ovn.org/acl-logging; a bad value logs
// nothing (checkLogging reports it).
func (s Sources) logging(namespace string) Logging {
	ns, err := s.Namespaces.Get(namespace)
	if err != nil {
		return Logging{}
	}
	l, _ := ParseLogging(ns.Annotations[LoggingAnnotation])
	return l
}

// ParseLogging parses `{"deny": "alert", "allow": "notice"}`; severities
// are OVN's (alert, warning, notice, info, debug).
func ParseLogging(v string) (Logging, error) {
	if v == "" {
		return Logging{}, nil
	}
	var raw struct {
		Deny  string `json:"deny"`
		Allow string `json:"allow"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return Logging{}, fmt.Errorf("%s %q: %w", LoggingAnnotation, v, err)
	}
	for _, sev := range []string{raw.Deny, raw.Allow} {
		switch sev {
		case "", "alert", "warning", "notice", "info", "debug":
		default:
			return Logging{}, fmt.Errorf("%s %q: severity %q is not alert, warning, notice, info or debug", LoggingAnnotation, v, sev)
		}
	}
	return Logging{Deny: raw.Deny, Allow: raw.Allow}, nil
}
