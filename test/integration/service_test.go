package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// endpointSlice is a slice of service svc with one port and ready
// endpoints, managed by the test (the API server's own slice controller
// leaves it alone).
func endpointSlice(ns, name, svc, port string, number int32, proto corev1.Protocol, addrs ...string) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
			discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "ovnkube-integration-test"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: &number, Protocol: &proto}},
	}
	for _, a := range addrs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}})
	}
	return sl
}

// TestServiceLoadBalancers: a Service and its EndpointSlices become one
// load balancer per protocol in clusterLBGroup, which every node switch and
// gateway router references; endpoint changes update the vips; a slice
// naming a port the service lacks is reported (Warning Event, metric) while
// the rest stays programmed; a restart writes nothing; deleting the Service
// removes its load balancers and their group membership.
func TestServiceLoadBalancers(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("s1", map[string]string{kube.NodeChassisIDAnnotation: "chassis-s1", kube.L3GatewayConfigAnnotation: l3Config("s1", 1)})
	ctx := context.Background()
	ns := "svc-it"
	if _, err := e.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	svc, err := e.client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)},
			{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(5353)},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vip := svc.Spec.ClusterIP
	slices := e.client.DiscoveryV1().EndpointSlices(ns)
	for _, sl := range []*discoveryv1.EndpointSlice{
		endpointSlice(ns, "web-http", "web", "http", 8080, corev1.ProtocolTCP, "10.244.0.5", "10.244.0.6"),
		endpointSlice(ns, "web-dns", "web", "dns", 5353, corev1.ProtocolUDP, "10.244.0.5"),
	} {
		if _, err := slices.Create(ctx, sl, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tcpLB, udpLB := "Service_"+ns+"/web_TCP_cluster", "Service_"+ns+"/web_UDP_cluster"
	vips := func(lb string) string { return e.get("Load_Balancer", lb, "vips") }
	eventually(t, 20*time.Second, func() string {
		if got, want := vips(tcpLB), fmt.Sprintf(`{"%s:80"="10.244.0.5:8080,10.244.0.6:8080"}`, vip); got != want {
			return fmt.Sprintf("%s vips %s, want %s", tcpLB, got, want)
		}
		if got, want := vips(udpLB), fmt.Sprintf(`{"%s:53"="10.244.0.5:5353"}`, vip); got != want {
			return fmt.Sprintf("%s vips %s, want %s", udpLB, got, want)
		}
		return ""
	})
	e.waitIdle()
	if got := e.get("Load_Balancer", udpLB, "protocol"); got != "udp" {
		t.Errorf("%s protocol = %s", udpLB, got)
	}
	if got := e.get("Load_Balancer", tcpLB, "options"); !strings.Contains(got, `reject="true"`) {
		t.Errorf("%s options = %s, want reject=true", tcpLB, got)
	}
	group := e.nbctl("--columns=load_balancer", "list", "Load_Balancer_Group", "clusterLBGroup")
	for _, lb := range []string{tcpLB, udpLB} {
		if uuid := e.get("Load_Balancer", lb, "_uuid"); uuid == "" || !strings.Contains(group, uuid) {
			t.Errorf("clusterLBGroup %s lacks %s (%s)", group, lb, uuid)
		}
	}
	// Every node switch and gateway router applies the cluster's groups.
	for _, rec := range []struct{ table, name string }{{"Logical_Switch", "s1"}, {"Logical_Router", "GR_s1"}} {
		groups := e.get(rec.table, rec.name, "load_balancer_group")
		if uuid := e.get("Load_Balancer_Group", "clusterLBGroup", "_uuid"); !strings.Contains(groups, uuid) {
			t.Errorf("%s %s load_balancer_group = %s, lacks clusterLBGroup %s", rec.table, rec.name, groups, uuid)
		}
	}
	if n := e.metric("ovnkube_service_programming_latency_seconds", nil); n < 1 {
		t.Errorf("service programming latency observed %v times", n)
	}

	// An endpoint goes away: the vip follows; a slice naming a port the
	// service does not have is reported and changes nothing else.
	sl, err := slices.Get(ctx, "web-http", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sl.Endpoints = sl.Endpoints[:1]
	if _, err := slices.Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := slices.Create(ctx, endpointSlice(ns, "web-bogus", "web", "metrics", 9100, corev1.ProtocolTCP, "10.244.0.7"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		if got, want := vips(tcpLB), fmt.Sprintf(`{"%s:80"="10.244.0.5:8080"}`, vip); got != want {
			return fmt.Sprintf("%s vips %s, want %s", tcpLB, got, want)
		}
		if e.metric("ovnkube_invalid_objects_total", map[string]string{"kind": "Service", "reason": "endpointslice-unknown-port"}) < 1 {
			return "no invalid_objects_total{kind=Service,reason=endpointslice-unknown-port}"
		}
		for _, ev := range e.warningsOn("Service", ns, "web") {
			if strings.Contains(ev, "InvalidServiceInput") && strings.Contains(ev, `"metrics"`) {
				return ""
			}
		}
		return fmt.Sprintf("no InvalidServiceInput event: %v", e.warningsOn("Service", ns, "web"))
	})
	e.waitIdle()

	// A restart over the same cluster writes nothing.
	before := e.rowVersions("Load_Balancer", "Load_Balancer_Group", "Logical_Switch", "Logical_Router")
	e.master.Stop()
	e.startMaster()
	e.waitIdle()
	if after := e.rowVersions("Load_Balancer", "Load_Balancer_Group", "Logical_Switch", "Logical_Router"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("restart rewrote rows:\nbefore %v\nafter  %v", before, after)
	}

	// Deleting the Service removes its load balancers and their membership.
	if err := e.client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		for _, lb := range []string{tcpLB, udpLB} {
			if e.get("Load_Balancer", lb, "name") != "" {
				return lb + " still there"
			}
		}
		return ""
	})
	e.waitIdle()
	if got := e.get("Load_Balancer_Group", "clusterLBGroup", "load_balancer"); strings.Contains(got, "-") && !e.groupOnlyHoldsOthers(got) {
		t.Errorf("clusterLBGroup still lists deleted load balancers: %s", got)
	}
}

// groupOnlyHoldsOthers reports whether every member uuid of a group is a
// load balancer of another service (default/kubernetes, which the API
// server creates).
func (e *env) groupOnlyHoldsOthers(members string) bool {
	for _, f := range strings.FieldsFunc(members, func(r rune) bool { return r == '[' || r == ']' || r == ',' || r == ' ' }) {
		if name := strings.Trim(e.get("Load_Balancer", f, "name"), `"`); !strings.HasPrefix(name, "Service_default/") {
			return false
		}
	}
	return true
}
