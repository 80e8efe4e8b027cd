package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// clientAs is a clientset of the sandbox's admin impersonating user.
func (s *runningSandbox) clientAs(t *testing.T, user string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "kube", "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// masterClient is a clientset with ovnkube master's own identity.
func (s *runningSandbox) masterClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "kube", "master.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// portAddresses lists every logical switch port's address entries.
func (s *runningSandbox) portAddresses(t *testing.T) map[string]string {
	t.Helper()
	out, err := s.cmd(context.Background(), "ovn-nbctl", "--bare", "--columns=name,addresses", "--format=csv", "--no-headings", "list", "Logical_Switch_Port").CombinedOutput()
	if err != nil {
		t.Fatalf("ovn-nbctl: %v: %s", err, out)
	}
	ports := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if name, addrs, ok := strings.Cut(l, ","); ok {
			ports[name] = strings.Trim(addrs, `"`)
		}
	}
	return ports
}

// duplicateAddresses reports an IP or MAC carried by two ports.
func duplicateAddresses(ports map[string]string) string {
	seen := map[string]string{}
	for name, line := range ports {
		if line == "router" || line == "" {
			continue
		}
		for _, a := range strings.Fields(line) {
			if _, err := net.ParseMAC(a); err != nil {
				if _, err := netip.ParseAddr(a); err != nil {
					continue // "unknown", "dynamic"
				}
			}
			if prev, ok := seen[a]; ok && prev != name {
				return fmt.Sprintf("%s is on both %s and %s", a, prev, name)
			}
			seen[a] = name
		}
	}
	return ""
}

// TestPodNetworksOnlyFromMaster: an ordinary user cannot create a pod that
// names its own k8s.ovn.org/pod-networks (another pod's address, another
// pod's MAC with a free address, the router's .1, the management port's
// .2): 403 from the API server. An annotation altered with the master's own
// credentials, claiming a running pod's address, is re-allocated with a
// Warning Event, and at no moment do two ports carry the same IP or MAC.
func TestPodNetworksOnlyFromMaster(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "trust")
	ips, _ := s.createPods(t, podSpec(w.ns, "victim", "node-1", w.work, "sleep", "3600"), podSpec(w.ns, "other", "node-1", w.work, "sleep", "3600"))
	victim, err := s.cs.CoreV1().Pods(w.ns).Get(context.Background(), "victim", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	victimAddrs, _, err := kube.ParsePodNetworks(victim.Annotations)
	if err != nil {
		t.Fatal(err)
	}
	// alice may manage pods in the namespace, nothing more.
	if _, err := s.cs.RbacV1().Roles(w.ns).Create(context.Background(), &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "create", "update", "patch", "delete"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cs.RbacV1().RoleBindings(w.ns).Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pods"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "alice", APIGroup: "rbac.authorization.k8s.io"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	alice := s.clientAs(t, "alice")
	// RBAC takes effect once the API server's authorizer has seen the
	// binding.
	waitFor(t, 30*time.Second, func() bool {
		r, err := alice.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: w.ns, Verb: "create", Resource: "pods"}},
		}, metav1.CreateOptions{})
		return err == nil && r.Status.Allowed
	}, func() string { return "alice's role binding never took effect" })
	subnet := victimAddrs.IPs[0].Masked()
	nth := func(n int) string {
		a, err := topology.NthAddr(subnet, n)
		if err != nil {
			t.Fatal(err)
		}
		return a.String()
	}
	claim := func(ip, mac string) string {
		return fmt.Sprintf(`{"default":{"ip_addresses":["%s/%d"],"mac_address":"%s","gateway_ips":["%s"]}}`, ip, subnet.Bits(), mac, nth(1))
	}
	mac := func(ip string) string { return topology.MACFromIP(mustAddr(t, ip)).String() }
	for _, c := range []struct{ name, annotation string }{
		{"another pod's address", claim(ips["victim"], victimAddrs.MAC.String())},
		{"another pod's MAC with a free address", claim(nth(200), victimAddrs.MAC.String())},
		{"the router's .1", claim(nth(1), mac(nth(1)))},
		{"the management port's .2", claim(nth(2), mac(nth(2)))},
	} {
		p := podSpec(w.ns, "claim", "node-1", w.work, "sleep", "3600")
		p.Annotations = map[string]string{kube.PodNetworksAnnotation: c.annotation}
		_, err := alice.CoreV1().Pods(w.ns).Create(context.Background(), p, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "k8s.ovn.org/pod-networks") {
			t.Errorf("%s: create as alice = %v, want 403 naming k8s.ovn.org/pod-networks", c.name, err)
			_ = s.cs.CoreV1().Pods(w.ns).Delete(context.Background(), "claim", metav1.DeleteOptions{})
		}
	}
	// Nor may alice change the annotation of a pod she may edit.
	if _, err := alice.CoreV1().Pods(w.ns).Patch(context.Background(), "other", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"k8s.ovn.org/pod-networks":null}}}`), metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice removing a pod's annotation = %v, want 403", err)
	}

	// The master's own identity can write it: a claim of victim's address
	// on other is re-allocated, and no two ports ever share an address.
	if d := duplicateAddresses(s.portAddresses(t)); d != "" {
		t.Fatalf("before the claim: %s", d)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kube.PodNetworksAnnotation, claim(ips["victim"], mac(ips["victim"])))
	if _, err := s.masterClient(t).CoreV1().Pods(w.ns).Patch(context.Background(), "other", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch as the master: %v", err)
	}
	waitFor(t, 30*time.Second, func() bool {
		if d := duplicateAddresses(s.portAddresses(t)); d != "" {
			t.Fatalf("after the claim: %s", d)
		}
		p, err := s.cs.CoreV1().Pods(w.ns).Get(context.Background(), "other", metav1.GetOptions{})
		if err != nil {
			return false
		}
		addrs, _, err := kube.ParsePodNetworks(p.Annotations)
		if err != nil || len(addrs.IPs) == 0 || addrs.IPs[0].Addr().String() == ips["victim"] {
			return false
		}
		evs, _ := s.cs.CoreV1().Events(w.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=other"})
		for _, ev := range evs.Items {
			if ev.Type == corev1.EventTypeWarning && ev.Reason == "PodAddressReallocated" {
				return true
			}
		}
		return false
	}, func() string { return "other was not re-allocated with a PodAddressReallocated event" })
	if d := duplicateAddresses(s.portAddresses(t)); d != "" {
		t.Errorf("after the re-allocation: %s", d)
	}
	// The victim still has its own port and address.
	if got := s.portAddresses(t)[w.ns+"_victim"]; !strings.Contains(got, ips["victim"]) {
		t.Errorf("victim's port addresses %q lack %s", got, ips["victim"])
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestNodeEditsOnlyItself: with node-1's agent credentials, changing
// node-2's chassis id or deleting node-2 is forbidden, changing node-1's
// own chassis id is allowed, and the master's keys on node-1 are forbidden
// (server-side dry runs: admission decides, nothing is kept).
func TestNodeEditsOnlyItself(t *testing.T) {
	s := dataplane(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "kube", "node-node-1.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	node1, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dry := metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}}
	annotate := func(node, key, value string) error {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
		_, err := node1.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, []byte(patch), dry)
		return err
	}
	for _, c := range []struct {
		what, node, key string
		allowed         bool
	}{
		{"node-2's chassis id", "node-2", kube.NodeChassisIDAnnotation, false},
		{"node-1's own chassis id", "node-1", kube.NodeChassisIDAnnotation, true},
		{"node-1's own gateway config key", "node-1", kube.NodePrimaryIfAddrAnnotation, true},
		{"the master's node-subnets on node-1", "node-1", kube.NodeSubnetsAnnotation, false},
		{"the master's node-id on node-1", "node-1", kube.NodeIDAnnotation, false},
	} {
		err := annotate(c.node, c.key, "stolen-"+c.node)
		switch {
		case c.allowed && err != nil:
			t.Errorf("%s: %v, want allowed", c.what, err)
		case !c.allowed && !apierrors.IsForbidden(err):
			t.Errorf("%s: %v, want 403 Forbidden", c.what, err)
		}
	}
	if err := node1.CoreV1().Nodes().Delete(context.Background(), "node-2", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Errorf("node-1 deleting node-2: %v, want 403 Forbidden", err)
	}
}
