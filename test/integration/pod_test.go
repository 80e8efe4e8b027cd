package integration

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

func (e *env) createNamespace(name string) {
	e.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		e.client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// createPod creates a pod already bound to node (there is no scheduler in
// these tests).
func (e *env) createPod(ns, name, node string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "none"}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	out, err := e.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) pod(ns, name string) *corev1.Pod {
	e.t.Helper()
	p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) deletePod(ns, name string) {
	e.t.Helper()
	zero := int64(0)
	if err := e.client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		e.t.Fatal(err)
	}
}

// podPorts lists the names of pod logical switch ports.
func (e *env) podPorts() []string {
	out := e.nbctl("--bare", "--columns=name", "find", "Logical_Switch_Port", `external_ids:pod="true"`)
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	return names
}

// createPods creates n pods on node at once (16 API clients).
func (e *env) createPods(ns, prefix, node string, n int) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", prefix, i)},
				Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "none"}}},
			}
			if _, err := e.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
}

// TestPodsGetAddressesAndPorts: 50 pods created at once get distinct
// addresses from their node's subnet and a port each; deleting them removes
// every port and frees every address.
func TestPodsGetAddressesAndPorts(t *testing.T) {
	// A /26 node subnet holds 60 pod addresses: a second wave of 50 pods
	// fits only if the first wave's addresses were freed.
	e := newEnv(t, "10.244.0.0/16/26", "10.96.0.0/16")
	e.createNode("pn1", nil)
	waitSwitches(t, e, "join", "pn1")
	subnets, _, _ := kube.ParseNodeSubnets(e.node("pn1").Annotations)
	e.createNamespace("wave")

	for wave := 1; wave <= 2; wave++ {
		prefix := fmt.Sprintf("w%d", wave)
		e.createPods("wave", prefix, "pn1", 50)
		eventually(t, 30*time.Second, func() string {
			if n := len(e.podPorts()); n != 50 {
				return fmt.Sprintf("wave %d: %d pod ports", wave, n)
			}
			return ""
		})
		seen := map[netip.Addr]string{}
		for i := 0; i < 50; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			p := e.pod("wave", name)
			addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
			if !ok || err != nil || len(addrs.IPs) != 1 {
				t.Fatalf("%s annotation: %v %v %q", name, ok, err, p.Annotations[kube.PodNetworksAnnotation])
			}
			ip := addrs.IPs[0]
			if other, dup := seen[ip.Addr()]; dup {
				t.Errorf("%s and %s share %s", name, other, ip)
			}
			seen[ip.Addr()] = name
			if !subnets[0].Contains(ip.Addr()) || ip.Bits() != 26 {
				t.Errorf("%s address %s not in node subnet %s", name, ip, subnets[0])
			}
			if gw := netip.MustParsePrefix(subnets[0].String()).Addr().Next(); len(addrs.Gateways) != 1 || addrs.Gateways[0] != gw {
				t.Errorf("%s gateways %v, want %s", name, addrs.Gateways, gw)
			}
			port := "wave_" + name
			line := fmt.Sprintf(`["%s %s"]`, addrs.MAC, ip.Addr())
			if got := e.get("Logical_Switch_Port", port, "addresses"); got != line {
				t.Errorf("%s addresses = %s, want %s", port, got, line)
			}
			if got := e.get("Logical_Switch_Port", port, "port_security"); got != line {
				t.Errorf("%s port_security = %s", port, got)
			}
			if got := e.get("Logical_Switch_Port", port, "options"); got != fmt.Sprintf(`{iface-id-ver="%s", requested-chassis=pn1}`, p.UID) {
				t.Errorf("%s options = %s", port, got)
			}
		}
		if !strings.Contains(e.nbctl("lsp-list", "pn1"), "(wave_"+prefix+"-0)") {
			t.Error("pod port is not on the node's switch")
		}
		for i := 0; i < 50; i++ {
			e.deletePod("wave", fmt.Sprintf("%s-%d", prefix, i))
		}
		eventually(t, 30*time.Second, func() string {
			if ports := e.podPorts(); len(ports) != 0 {
				return fmt.Sprintf("wave %d: %d pod ports left after delete", wave, len(ports))
			}
			return ""
		})
	}
	if got := e.metric("ovnkube_pod_address_allocation_failures_total", nil); got != 0 {
		t.Errorf("%v allocation failures: addresses of deleted pods were not freed", got)
	}
}

// TestPodLifecycle: hostNetwork pods are ignored, finished pods lose their
// port, a pod on a node without a subnet yet waits for it, and a malformed
// annotation gets a Warning Event while other pods converge.
func TestPodLifecycle(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("lc1", nil)
	waitSwitches(t, e, "join", "lc1")
	e.createNamespace("lc")

	e.createPod("lc", "host", "lc1", func(p *corev1.Pod) { p.Spec.HostNetwork = true })
	e.createPod("lc", "done", "lc1")
	e.createPod("lc", "early", "lc2") // lc2 does not exist yet
	e.createPod("lc", "bad", "lc1", func(p *corev1.Pod) {
		p.Annotations = map[string]string{kube.PodNetworksAnnotation: `{"default":{"ip_addresses":["10.244.0.300/24"]}}`}
	})
	e.createPod("lc", "good", "lc1")
	eventually(t, 10*time.Second, func() string {
		if got := e.podPorts(); !reflect.DeepEqual(got, []string{"lc_done", "lc_good"}) && !reflect.DeepEqual(got, []string{"lc_good", "lc_done"}) {
			return fmt.Sprintf("pod ports %v", got)
		}
		return ""
	})
	if _, ok := e.pod("lc", "host").Annotations[kube.PodNetworksAnnotation]; ok {
		t.Error("hostNetwork pod got an address")
	}
	eventually(t, 10*time.Second, func() string {
		evs, _ := e.client.CoreV1().Events("lc").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=bad"})
		for _, ev := range evs.Items {
			if ev.Type == corev1.EventTypeWarning && ev.Reason == "InvalidPodAnnotation" {
				return ""
			}
		}
		return "no InvalidPodAnnotation event on lc/bad"
	})
	if got := e.metric("ovnkube_invalid_objects_total", map[string]string{"kind": "Pod", "reason": "bad-pod-networks"}); got < 1 {
		t.Errorf("invalid pod metric = %v", got)
	}

	// A finished pod's port goes.
	done := e.pod("lc", "done")
	done.Status.Phase = corev1.PodSucceeded
	if _, err := e.client.CoreV1().Pods("lc").UpdateStatus(context.Background(), done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		if got := e.podPorts(); !reflect.DeepEqual(got, []string{"lc_good"}) {
			return fmt.Sprintf("pod ports after lc/done finished: %v", got)
		}
		return ""
	})

	// The pod on the late node gets its address and port once the node has a subnet.
	e.createNode("lc2", nil)
	eventually(t, 10*time.Second, func() string {
		if e.get("Logical_Switch_Port", "lc_early", "name") == "" {
			return "lc/early has no port"
		}
		return ""
	})
	if !strings.Contains(e.nbctl("lsp-list", "lc2"), "(lc_early)") {
		t.Error("lc_early is not on lc2's switch")
	}
}

// TestRestartWithPodsWritesNothing: the master rebuilds pod allocations from
// annotations; restarting it writes nothing, and new pods never get an
// address that a live pod holds.
func TestRestartWithPodsWritesNothing(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24,fd00:10:244::/48/64", "10.96.0.0/16,fd00:10:96::/112")
	e.createNode("rp1", nil)
	waitSwitches(t, e, "join", "rp1")
	e.createNamespace("rp")
	e.createPods("rp", "a", "rp1", 20)
	eventually(t, 20*time.Second, func() string {
		if n := len(e.podPorts()); n != 20 {
			return fmt.Sprintf("%d pod ports", n)
		}
		return ""
	})
	versions := e.rowVersions(topologyTables...)
	podRV := map[string]string{}
	held := map[netip.Addr]bool{}
	for i := 0; i < 20; i++ {
		p := e.pod("rp", fmt.Sprintf("a-%d", i))
		podRV[p.Name] = p.ResourceVersion
		addrs, _, _ := kube.ParsePodNetworks(p.Annotations)
		if len(addrs.IPs) != 2 {
			t.Fatalf("%s has %v, want a dual-stack pair", p.Name, addrs.IPs)
		}
		for _, ip := range addrs.IPs {
			held[ip.Addr()] = true
		}
	}

	e.restartMaster()
	e.waitIdle()
	if got := e.metric("ovnkube_nb_transactions_total", map[string]string{"result": "committed"}); got != 0 {
		t.Errorf("restart committed %v transactions", got)
	}
	if got := e.rowVersions(topologyTables...); !reflect.DeepEqual(got, versions) {
		t.Error("restart changed NB rows")
	}
	for i := 0; i < 20; i++ {
		if p := e.pod("rp", fmt.Sprintf("a-%d", i)); p.ResourceVersion != podRV[p.Name] {
			t.Errorf("%s was written on restart", p.Name)
		}
	}
	e.createPods("rp", "b", "rp1", 20)
	eventually(t, 20*time.Second, func() string {
		if n := len(e.podPorts()); n != 40 {
			return fmt.Sprintf("%d pod ports", n)
		}
		return ""
	})
	for i := 0; i < 20; i++ {
		addrs, _, _ := kube.ParsePodNetworks(e.pod("rp", fmt.Sprintf("b-%d", i)).Annotations)
		for _, ip := range addrs.IPs {
			if held[ip.Addr()] {
				t.Errorf("new pod b-%d got %s, held by a live pod", i, ip)
			}
		}
	}
}

// TestPodPlansPerPod: creating pods costs about one plan of each pod's owner:
// the echoes of our own commits (the port joining its switch, the switch's
// ports changing) re-plan nobody. Counted by the master's
// ovnkube_reconcile_duration_seconds_count{owner_type="Pod"}.
func TestPodPlansPerPod(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/22", "10.96.0.0/16")
	nodes := []string{"pp1", "pp2"}
	for _, n := range nodes {
		e.createNode(n, nil)
	}
	waitSwitches(t, e, "join", "pp1", "pp2")
	e.createNamespace("plans")
	e.waitIdle()
	before := e.metric("ovnkube_reconcile_duration_seconds", map[string]string{"owner_type": "Pod"})
	const perNode = 500
	for _, n := range nodes {
		e.createPods("plans", n, n, perNode)
	}
	eventually(t, 60*time.Second, func() string {
		if got := len(e.podPorts()); got != perNode*len(nodes) {
			return fmt.Sprintf("%d pod ports", got)
		}
		return ""
	})
	e.waitIdle()
	plans := e.metric("ovnkube_reconcile_duration_seconds", map[string]string{"owner_type": "Pod"}) - before
	perPod := plans / float64(perNode*len(nodes))
	t.Logf("%d pods: %v Pod plans, %.2f per pod", perNode*len(nodes), plans, perPod)
	if perPod > 1.5 {
		t.Errorf("%.2f plans per pod, want <= 1.5", perPod)
	}
}
