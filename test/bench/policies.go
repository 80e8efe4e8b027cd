package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/controller/pod"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// policyResult is the policy scenario's outcome.
type policyResult struct {
	policies, pods, namespaces, nodes int
	createAPI                         time.Duration // API writes of the policies
	converge                          time.Duration // first policy created -> every policy's rows in the NB, nothing pending
	txns, ops                         float64
	addressSets, asElements, asMax    int
	rssMB                             float64
	churn, churnRate                  int
	churnP50, churnP99                time.Duration // label patch sent -> the pod's address in the peer's address set
	masterP50, masterP99              float64       // ovnkube_network_policy_programming_latency_seconds
	restartReady                      time.Duration
	restartTxns, restartPodWrites     float64
	cold                              time.Duration // master start on an empty NB -> ready, every row there
	coldTxns, coldOps                 float64
	floor                             time.Duration
	floorTxns, floorOps               int
}

func policyNS(j int) string { return fmt.Sprintf("np-%03d", j) }

// runPolicies builds nNamespaces namespaces of nPods pods in all over
// nNodes nodes, then nPolicies policies (ten kinds, see benchPolicy) into
// the running cluster; churns pod labels into a peer selection; restarts
// the master; converges a master on an empty NB; and commits the same rows
// straight with libovsdb.
func runPolicies(nPolicies, nPods, nNamespaces, nNodes, churn, rate int) (policyResult, error) {
	res := policyResult{policies: nPolicies, pods: nPods, namespaces: nNamespaces, nodes: nNodes, churn: churn, churnRate: rate}
	env, err := startEnv("10.128.0.0/14/23")
	if err != nil {
		return res, err
	}
	defer env.stop()
	m, err := sandbox.StartMaster(env.dir+"/master", env.opts)
	if err != nil {
		return res, err
	}
	defer func() { m.Stop() }()
	watch, err := newNBWatch(env.ovn.NBAddress)
	if err != nil {
		return res, err
	}
	defer watch.close()
	sets := newSetWatch(watch)

	if err := createNodes(env.client, nNodes); err != nil {
		return res, err
	}
	if err := parallel(nNamespaces, 16, func(j int) error {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: policyNS(j), Labels: map[string]string{"team": fmt.Sprintf("t%d", j%10)}}}
		_, err := env.client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
		return err
	}); err != nil {
		return res, err
	}
	if err := parallel(nPods, 32, func(i int) error {
		_, err := env.client.CoreV1().Pods(policyNS(i%nNamespaces)).Create(context.Background(), policyPod(i, nNamespaces, nNodes), metav1.CreateOptions{})
		return err
	}); err != nil {
		return res, err
	}
	if err := waitTable(watch, nbdb.LogicalSwitchPortTable, func(m model.Model) bool {
		_, ok := m.(*nbdb.LogicalSwitchPort).ExternalIDs["pod"]
		return ok
	}, nPods, 5*time.Minute); err != nil {
		return res, fmt.Errorf("pods: %w", err)
	}
	if _, err := settledMetrics(m.MetricsURL); err != nil {
		return res, err
	}
	before, err := sandbox.Scrape(m.MetricsURL)
	if err != nil {
		return res, err
	}

	// New policies into the running cluster.
	start := time.Now()
	if err := parallel(nPolicies, 32, func(i int) error {
		p := benchPolicy(i, nNamespaces)
		_, err := env.client.NetworkingV1().NetworkPolicies(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
		return err
	}); err != nil {
		return res, err
	}
	res.createAPI = time.Since(start)
	isPolicyPG := func(m model.Model) bool {
		return m.(*nbdb.PortGroup).ExternalIDs["k8s.ovn.org/owner-type"] == networkpolicy.OwnerTypePolicy
	}
	if err := waitTable(watch, nbdb.PortGroupTable, isPolicyPG, nPolicies, 5*time.Minute); err != nil {
		return res, fmt.Errorf("policies: %w", err)
	}
	if err := waitProgrammed(m.MetricsURL, networkpolicy.OwnerTypePolicy, nPolicies, 5*time.Minute); err != nil {
		return res, err
	}
	res.converge = time.Since(start)
	after, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return res, err
	}
	res.txns = after.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"}) - before.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"})
	res.ops = after.Value("ovnkube_nb_operations_total", nil) - before.Value("ovnkube_nb_operations_total", nil)
	for _, r := range watch.c.Cache().Table(nbdb.AddressSetTable).RowsShallow() {
		n := len(r.(*nbdb.AddressSet).Addresses)
		res.addressSets++
		res.asElements += n
		res.asMax = max(res.asMax, n)
	}
	if rss, err := m.RSSBytes(); err == nil {
		res.rssMB = float64(rss) / (1 << 20)
	}

	// Label churn: pods relabelled app=app-1, the peer of each namespace's
	// kind-1 policy; latency until the pod's address is in that set.
	var mu sync.Mutex
	var lat []time.Duration
	var moved []int
	for i := 0; len(moved) < churn && i < nPods; i++ {
		if policyPodApp(i, nNamespaces) != "app-1" {
			moved = append(moved, i)
		}
	}
	names := make([]string, len(moved))
	err = paced(names, rate, func(_ string, k int) error {
		i := moved[k]
		ns, name := policyNS(i%nNamespaces), policyPodName(i)
		ip, err := podIP(env.client, ns, name)
		if err != nil {
			return err
		}
		set := networkpolicy.AddressSetName(networkpolicy.PeerKey{Namespace: ns, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app-1"}}}.String(), false)
		done := sets.expect(set, ip)
		t0 := time.Now()
		if _, err := env.client.CoreV1().Pods(ns).Patch(context.Background(), name, types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"app":"app-1"}}}`), metav1.PatchOptions{}); err != nil {
			return err
		}
		select {
		case <-done:
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
			return nil
		case <-time.After(time.Minute):
			return fmt.Errorf("%s/%s: %s not in %s after a minute", ns, name, ip, set)
		}
	})
	if err != nil {
		return res, err
	}
	slices.Sort(lat)
	res.churnP50, res.churnP99 = lat[len(lat)/2], lat[len(lat)*99/100]
	met, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return res, err
	}
	res.masterP50, res.masterP99 = histQuantiles(met, "ovnkube_network_policy_programming_latency_seconds")

	// Restart over the same cluster: no transaction, no pod written.
	nodesBefore, err := listNodes(env.client)
	if err != nil {
		return res, err
	}
	want := map[string]int{}
	for _, t := range []string{nbdb.PortGroupTable, nbdb.ACLTable, nbdb.AddressSetTable, nbdb.LogicalSwitchPortTable} {
		want[t] = watch.c.Cache().Table(t).Len()
	}
	res.restartReady, res.restartTxns, res.restartPodWrites, err = measureRestart(m, env.dir, env.opts, podVersions(env.client))
	if err != nil {
		return res, err
	}

	// Cold NB: the cluster exists, the NB is new and empty.
	var stopCold func()
	res.cold, res.coldTxns, res.coldOps, stopCold, err = coldStart(env, want, 10*time.Minute, nil)
	defer stopCold()
	if err != nil {
		return res, err
	}

	// Floor: the same rows straight with libovsdb into a fresh NB.
	floorOVN, fw, stopFloor, err := watchedOVN(env.dir + "/floor")
	if err != nil {
		return res, err
	}
	defer stopFloor()
	extra, err := policyRows(env.client)
	if err != nil {
		return res, err
	}
	res.floor, res.floorTxns, res.floorOps, err = floor(floorOVN.NBAddress, nodesBefore, extra...)
	if err != nil {
		return res, err
	}
	// The floor must have written what the master writes.
	if err := fw.waitRows(want, time.Minute); err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	return res, nil
}

func policyPodName(i int) string { return fmt.Sprintf("pod-%05d", i) }

// policyPodApp spreads pods of a namespace over app-0 .. app-19.
func policyPodApp(i, nNamespaces int) string { return fmt.Sprintf("app-%d", i/nNamespaces%20) }

// policyPod is pod i: in namespace i mod nNamespaces, app-k, a role, and a
// named port "http" that is 8080 on half the pods and 9090 on the others.
func policyPod(i, nNamespaces, nNodes int) *corev1.Pod {
	role, http := "frontend", int32(8080)
	if i/nNamespaces%2 == 1 {
		role, http = "backend", 9090
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: policyPodName(i), Labels: map[string]string{"app": policyPodApp(i, nNamespaces), "role": role}},
		Spec: corev1.PodSpec{
			NodeName: nodeName(i % nNodes),
			Containers: []corev1.Container{{Name: "c", Image: "none",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: http, Protocol: corev1.ProtocolTCP}}}},
		},
	}
}

// benchPolicy is policy i: kind i mod 10 in namespace i/10 mod nNamespaces.
// The kinds mix what clusters write: deny-all, pod and namespace selectors
// (alone and ANDed), ipBlocks with except, numbered, named and ranged
// ports, egress.
func benchPolicy(i, nNamespaces int) *networkingv1.NetworkPolicy {
	j := i / 10 % nNamespaces
	ns := policyNS(j)
	sel := func(kv ...string) *metav1.LabelSelector {
		s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
		for k := 0; k < len(kv); k += 2 {
			s.MatchLabels[kv[k]] = kv[k+1]
		}
		return s
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(proto *corev1.Protocol, p intstr.IntOrString, end ...int32) networkingv1.NetworkPolicyPort {
		pp := networkingv1.NetworkPolicyPort{Protocol: proto, Port: &p}
		if len(end) > 0 {
			pp.EndPort = &end[0]
		}
		return pp
	}
	team := func(k int) *metav1.LabelSelector { return sel("team", fmt.Sprintf("t%d", k%10)) }
	in := func(peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyIngressRule {
		return []networkingv1.NetworkPolicyIngressRule{{From: peers, Ports: ports}}
	}
	egressOnly := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	var spec networkingv1.NetworkPolicySpec
	switch k := i % 10; k {
	case 0:
		spec = networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}
	case 1:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-2"),
			Ingress: in([]networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "app-1")}}, port(&tcp, intstr.FromInt32(8080)))}
	case 2:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-3"),
			Ingress: in([]networkingv1.NetworkPolicyPeer{{NamespaceSelector: team(j)}})}
	case 3:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-4"),
			Ingress: in([]networkingv1.NetworkPolicyPeer{{NamespaceSelector: team(j + 1), PodSelector: sel("role", "frontend")}})}
	case 4:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-5"),
			Ingress: in([]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}},
				port(&udp, intstr.FromInt32(53)))}
	case 5:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-6"),
			Ingress: in([]networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "frontend")}}, port(&tcp, intstr.FromString("http")))}
	case 6:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("role", "backend"), PolicyTypes: egressOnly,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: team(j)}},
				Ports: []networkingv1.NetworkPolicyPort{port(&tcp, intstr.FromInt32(443))}}}}
	case 7:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-7"), PolicyTypes: egressOnly,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}}}}}}
	case 8:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-8"),
			Ingress: in([]networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: sel("role", "frontend")}},
				port(&tcp, intstr.FromInt32(8000), 8100))}
	case 9:
		spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "app-9"), PolicyTypes: egressOnly,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "app-1")}},
				Ports: []networkingv1.NetworkPolicyPort{port(&tcp, intstr.FromString("http"))}}}}
	}
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("policy-%04d", i)}, Spec: spec}
}

func podIP(c kubernetes.Interface, ns, name string) (string, error) {
	p, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
	if err != nil || !ok || len(addrs.IPs) == 0 {
		return "", fmt.Errorf("%s/%s has no address (%v)", ns, name, err)
	}
	return addrs.IPs[0].Addr().String(), nil
}

// podVersions reads every pod's resourceVersion.
func podVersions(c kubernetes.Interface) versionsFunc {
	return func() (map[string]string, error) {
		list, err := c.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, p := range list.Items {
			out[p.Namespace+"/"+p.Name] = p.ResourceVersion
		}
		return out, nil
	}
}

// waitTable waits until n rows of table satisfy match.
func waitTable(w *nbWatch, table string, match func(model.Model) bool, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		have := 0
		for _, r := range w.c.Cache().Table(table).RowsShallow() {
			if match(r) {
				have++
			}
		}
		if have >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %d of %d %s rows", timeout, have, n, table)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// setWatch tells when an address set first contains an address.
type setWatch struct {
	mu      sync.Mutex
	waiters map[string][]waiter // set name
}

func newSetWatch(w *nbWatch) *setWatch {
	s := &setWatch{waiters: map[string][]waiter{}}
	check := func(m model.Model) {
		as, ok := m.(*nbdb.AddressSet)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		kept := s.waiters[as.Name][:0]
		for _, wt := range s.waiters[as.Name] {
			if slices.Contains(as.Addresses, wt.backend) {
				close(wt.done)
				continue
			}
			kept = append(kept, wt)
		}
		s.waiters[as.Name] = kept
	}
	w.c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(_ string, m model.Model) { check(m) },
		UpdateFunc: func(_ string, _, m model.Model) { check(m) },
	})
	return s
}

// expect returns a channel closed once set contains addr.
func (s *setWatch) expect(set, addr string) <-chan struct{} {
	done := make(chan struct{})
	s.mu.Lock()
	s.waiters[set] = append(s.waiters[set], waiter{addr, done})
	s.mu.Unlock()
	return done
}

// policyRows translates the cluster's policies and pods as the master
// does, with the same translation functions and no reconciler: address
// sets, default-deny groups, policies, then the pods' ports linked into
// their groups. Selections are evaluated here by plain label matching.
func policyRows(c kubernetes.Interface) ([]ownedRow, error) {
	ctx := context.Background()
	nsList, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	nsLabels := map[string]labels.Set{}
	for _, ns := range nsList.Items {
		nsLabels[ns.Name] = ns.Labels
	}
	podList, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	polList, err := c.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	type podInfo struct {
		p     *corev1.Pod
		addrs kube.PodAddresses
		np    networkpolicy.Pod
	}
	var pods []podInfo
	for i := range podList.Items {
		p := &podList.Items[i]
		addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
		if err != nil || !ok {
			continue
		}
		info := podInfo{p: p, addrs: addrs}
		for _, ip := range addrs.IPs {
			info.np.IPs = append(info.np.IPs, ip.Addr())
		}
		info.np.Ports = p.Spec.Containers[0].Ports
		pods = append(pods, info)
	}
	selected := func(k networkpolicy.PeerKey) []networkpolicy.Pod {
		podSel, nsSel := labels.Everything(), labels.Selector(nil)
		if k.PodSelector != nil {
			podSel, _ = metav1.LabelSelectorAsSelector(k.PodSelector)
		}
		if k.NamespaceSelector != nil {
			nsSel, _ = metav1.LabelSelectorAsSelector(k.NamespaceSelector)
		}
		var out []networkpolicy.Pod
		for _, p := range pods {
			if (nsSel == nil && p.p.Namespace != k.Namespace) || (nsSel != nil && !nsSel.Matches(nsLabels[p.p.Namespace])) {
				continue
			}
			if podSel.Matches(labels.Set(p.p.Labels)) {
				out = append(out, p.np)
			}
		}
		return out
	}
	var sets, denies, policies []ownedRow
	seenKey := map[string]bool{}
	deny := map[string]bool{}
	groups := map[string][]reconcile.Ref{} // pod key -> its groups
	for i := range polList.Items {
		p := &polList.Items[i]
		owner := networkpolicy.PolicyOwner(p.Namespace + "/" + p.Name)
		podSel, _ := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		var sel []networkpolicy.Pod
		for _, pi := range pods {
			if pi.p.Namespace == p.Namespace && podSel.Matches(labels.Set(pi.p.Labels)) {
				sel = append(sel, pi.np)
				key := pi.p.Namespace + "/" + pi.p.Name
				groups[key] = append(groups[key], reconcile.Ref{Owner: owner, Table: nbdb.PortGroupTable, ID: networkpolicy.PortGroupName(p.Namespace, p.Name), Column: "ports"})
			}
		}
		out, err := networkpolicy.Rows(networkpolicy.Input{Owner: owner, Policy: p, IPv4: true, Selected: sel, Peers: selected})
		if err != nil {
			return nil, err
		}
		for _, r := range out.Rows {
			policies = append(policies, ownedRow{owner, r})
		}
		for _, k := range out.PeerKeys {
			if seenKey[k.ID()] {
				continue
			}
			seenKey[k.ID()] = true
			var addrs []netip.Addr
			for _, sp := range selected(k) {
				addrs = append(addrs, sp.IPs...)
			}
			for _, r := range networkpolicy.AddressSetRows(k, true, false, addrs) {
				sets = append(sets, ownedRow{reconcile.Owner{Type: networkpolicy.OwnerTypeAddressSet, Name: k.ID()}, r})
			}
		}
		for _, d := range []struct{ on, egress bool }{{out.Ingress, false}, {out.Egress, true}} {
			if !d.on {
				continue
			}
			o := networkpolicy.DefaultDenyOwner(p.Namespace, d.egress)
			if !deny[o.Name] {
				deny[o.Name] = true
				for _, r := range networkpolicy.DefaultDenyRows(o, p.Namespace, d.egress, networkpolicy.Logging{}) {
					denies = append(denies, ownedRow{o, r})
				}
			}
			for _, pi := range pods {
				if pi.p.Namespace == p.Namespace && podSel.Matches(labels.Set(pi.p.Labels)) {
					key := pi.p.Namespace + "/" + pi.p.Name
					ref := reconcile.Ref{Owner: o, Table: nbdb.PortGroupTable, ID: networkpolicy.DefaultDenyPortGroupName(p.Namespace, d.egress), Column: "ports"}
					if !slices.Contains(groups[key], ref) {
						groups[key] = append(groups[key], ref)
					}
				}
			}
		}
	}
	var podRows []ownedRow
	for _, pi := range pods {
		key := pi.p.Namespace + "/" + pi.p.Name
		in := pod.Input{Namespace: pi.p.Namespace, Name: pi.p.Name, UID: string(pi.p.UID), Node: pi.p.Spec.NodeName,
			MAC: pi.addrs.MAC, IPs: pi.addrs.IPs,
			Groups: append(groups[key], topology.ClusterPortGroupRef(topology.ClusterPortGroup))}
		for _, r := range pod.Rows(in) {
			podRows = append(podRows, ownedRow{topology.PodOwner(key), r})
		}
	}
	out := append(sets, denies...)
	out = append(out, policies...)
	return append(out, podRows...), nil
}

func printPolicies(r policyResult) {
	fmt.Println()
	fmt.Printf("NetworkPolicy: %d policies over %d pods in %d namespaces on %d nodes\n", r.policies, r.pods, r.namespaces, r.nodes)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "create (API)\tnew policies converge\tNB txns\tNB ops\taddress sets\telements\tlargest\tmaster RSS\tchurn\tchurn p50\tchurn p99\tmaster p50\tmaster p99\trestart ready\trestart txns\trestart pod writes\tcold NB converge\tcold txns\tcold ops\tfloor (libovsdb)\tfloor txns\tfloor ops\t")
	fmt.Fprintf(w, "%s\t%s\t%.0f\t%.0f\t%d\t%d\t%d\t%.0f MiB\t%d at %d/s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%s\t%.0f\t%.0f\t%s\t%d\t%d\t\n",
		ms(r.createAPI), ms(r.converge), r.txns, r.ops, r.addressSets, r.asElements, r.asMax, r.rssMB, r.churn, r.churnRate,
		ms(r.churnP50), ms(r.churnP99), bucket(r.masterP50), bucket(r.masterP99), ms(r.restartReady), r.restartTxns, r.restartPodWrites,
		ms(r.cold), r.coldTxns, r.coldOps, ms(r.floor), r.floorTxns, r.floorOps)
	w.Flush()
}
