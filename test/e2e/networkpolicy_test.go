package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// reach reports whether pod can open a TCP connection to url (an HTTP
// answer within 2 s).
func (w *serviceWorld) reach(pod, url string) bool {
	_, err := w.get(pod, "", url)
	return err == nil
}

// expectReach waits until each pod's reachability of url is as wanted.
func (w *serviceWorld) expectReach(t *testing.T, url string, want map[string]bool, what string) {
	t.Helper()
	waitFor(t, 30*time.Second, func() bool {
		for pod, ok := range want {
			if w.reach(pod, url) != ok {
				return false
			}
		}
		return true
	}, func() string {
		got := map[string]bool{}
		for pod := range want {
			got[pod] = w.reach(pod, url)
		}
		return fmt.Sprintf("%s: reachability %v, want %v", what, got, want)
	})
}

// TestNetworkPolicy: on real connections across nodes, a policy allowing
// one label lets those pods in and keeps the others out; editing it in
// place swaps them; relabelling a pod moves it; deleting the policy opens
// the server again and leaves no port group, ACL or address set.
func TestNetworkPolicy(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "np-e2e")
	server := podSpec(w.ns, "server", "node-2", w.work, "python3", w.work+"/who.py")
	server.Labels = map[string]string{"app": "server"}
	good := podSpec(w.ns, "good", "node-1", w.work, "sleep", "3600")
	good.Labels = map[string]string{"app": "client"}
	bad := podSpec(w.ns, "bad", "node-1", w.work, "sleep", "3600")
	bad.Labels = map[string]string{"app": "other"}
	ips, _ := s.createPods(t, server, good, bad)
	url := "http://" + ips["server"] + ":8080/"
	w.expectReach(t, url, map[string]bool{"good": true, "bad": true}, "without a policy")

	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(8080)
	policy := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-client"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
			}},
		},
	}
	nps := s.cs.NetworkingV1().NetworkPolicies(w.ns)
	if _, err := nps.Create(context.Background(), policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": true, "bad": false}, "allow app=client")

	// Edited in place: now app=other is allowed, app=client is not.
	patch := `{"spec":{"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"other"}}}],"ports":[{"protocol":"TCP","port":8080}]}]}}`
	if _, err := nps.Patch(context.Background(), "allow-client", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": false, "bad": true}, "edited to allow app=other")

	// A pod relabelled into the allowed set gets in.
	if _, err := s.cs.CoreV1().Pods(w.ns).Patch(context.Background(), "good", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": true, "bad": true}, "good relabelled app=other")

	// The wrong port stays closed to everyone the policy isolates against.
	if out, err := w.run("bad", "", 10*time.Second, "sh", "-c", "echo x | socat -T1 - UDP:"+ips["server"]+":5353"); err == nil && strings.TrimSpace(out) != "" {
		t.Errorf("UDP 5353, which the policy does not allow, answered %q", out)
	}

	// Deleted: open again, and nothing left in the NB for the namespace.
	if err := nps.Delete(context.Background(), "allow-client", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cs.CoreV1().Pods(w.ns).Patch(context.Background(), "good", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"client"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.expectReach(t, url, map[string]bool{"good": true, "bad": true}, "policy deleted")
	waitFor(t, 20*time.Second, func() bool {
		out, _ := s.cmd(context.Background(), "ovn-nbctl", "--bare", "--columns=name", "list", "Port_Group").CombinedOutput()
		return !strings.Contains(string(out), "np_e2e")
	}, func() string { return "port groups of np-e2e left after the policy was deleted" })
}
