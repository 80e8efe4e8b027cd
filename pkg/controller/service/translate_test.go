package service

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

var cidrs = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16"), netip.MustParsePrefix("fd00:10:96::/112")}

func svc(mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("web")}},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

type ep struct {
	addr                        string
	ready, serving, terminating *bool
}

func slice(name string, family discoveryv1.AddressType, port string, number int32, proto corev1.Protocol, eps ...ep) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: family,
		Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: &number, Protocol: &proto}},
	}
	for _, e := range eps {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating}})
	}
	return sl
}

var yes, no = new(bool), new(bool)

func init() { *yes = true }

func ready(a string) ep { return ep{addr: a} }

func TestRows(t *testing.T) {
	v4 := discoveryv1.AddressTypeIPv4
	v6 := discoveryv1.AddressTypeIPv6
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	tests := []struct {
		name     string
		svc      *corev1.Service
		slices   []*discoveryv1.EndpointSlice
		want     map[string]map[string]string // LB name -> vips
		options  map[string]string
		problems []string
	}{{
		name:   "ClusterIP, two ready endpoints, sorted",
		svc:    svc(),
		slices: []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp, ready("10.244.1.5"), ready("10.244.0.7"))},
		want:   map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": "10.244.0.7:8080,10.244.1.5:8080"}},
	}, {
		name: "a named target port resolving to different numbers on different pods",
		svc:  svc(),
		slices: []*discoveryv1.EndpointSlice{
			slice("web-1", v4, "http", 8080, tcp, ready("10.244.0.7")),
			slice("web-2", v4, "http", 9090, tcp, ready("10.244.1.5")),
		},
		want: map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": "10.244.0.7:8080,10.244.1.5:9090"}},
	}, {
		name: "no endpoints: the vip stays, empty, and OVN rejects",
		svc:  svc(),
		want: map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": ""}},
	}, {
		name: "none ready: the serving terminating ones, never the non-serving",
		svc:  svc(),
		slices: []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp,
			ep{addr: "10.244.0.7", ready: no, serving: yes, terminating: yes},
			ep{addr: "10.244.0.8", ready: no, serving: no, terminating: yes},
			ep{addr: "10.244.0.9", ready: no, serving: no})},
		want: map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": "10.244.0.7:8080"}},
	}, {
		name: "ready ones win over terminating ones",
		svc:  svc(),
		slices: []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp,
			ep{addr: "10.244.0.7", ready: no, serving: yes, terminating: yes}, ready("10.244.0.8"))},
		want: map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": "10.244.0.8:8080"}},
	}, {
		name: "TCP and UDP: one load balancer per protocol",
		svc: svc(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns-tcp", Protocol: tcp, Port: 53}, {Name: "dns", Protocol: udp, Port: 53}}
		}),
		slices: []*discoveryv1.EndpointSlice{
			slice("dns-1", v4, "dns-tcp", 5353, tcp, ready("10.244.0.7")),
			slice("dns-2", v4, "dns", 5353, udp, ready("10.244.0.7")),
		},
		want: map[string]map[string]string{
			"Service_ns/web_TCP_cluster": {"10.96.0.10:53": "10.244.0.7:5353"},
			"Service_ns/web_UDP_cluster": {"10.96.0.10:53": "10.244.0.7:5353"},
		},
	}, {
		name: "dual stack: each family's vip gets that family's endpoints",
		svc: svc(func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00:10:96::a"}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		}),
		slices: []*discoveryv1.EndpointSlice{
			slice("web-4", v4, "http", 8080, tcp, ready("10.244.0.7")),
			slice("web-6", v6, "http", 8080, tcp, ready("fd00:10:244::7")),
		},
		want: map[string]map[string]string{"Service_ns/web_TCP_cluster": {
			"10.96.0.10:80": "10.244.0.7:8080", "[fd00:10:96::a]:80": "[fd00:10:244::7]:8080"}},
	}, {
		name: "ClientIP affinity with a timeout",
		svc: svc(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			to := int32(10)
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &to}}
		}),
		slices:  []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp, ready("10.244.0.7"))},
		want:    map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": "10.244.0.7:8080"}},
		options: map[string]string{"reject": "true", "affinity_timeout": "10"},
	}, {
		name: "external IPs and load-balancer ingress IPs, a wrong-family ingress left out",
		svc: svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalIPs = []string{"192.0.2.10"}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.7"}, {IP: "2001:db8::7"}, {Hostname: "lb.example"}}
		}),
		slices: []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp, ready("10.244.0.7"))},
		want: map[string]map[string]string{"Service_ns/web_TCP_cluster": {
			"10.96.0.10:80": "10.244.0.7:8080", "192.0.2.10:80": "10.244.0.7:8080", "198.51.100.7:80": "10.244.0.7:8080"}},
		problems: []string{ReasonIngressWrongFamily},
	}, {
		name: "bad input is left out and reported, the rest programmed",
		svc: svc(func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00:99::1"}
			s.Spec.ExternalIPs = []string{"not-an-ip"}
		}),
		slices: []*discoveryv1.EndpointSlice{
			slice("web-1", v4, "http", 8080, tcp, ready("10.244.0.7"), ready("10.244.0.300")),
			slice("web-2", v4, "metrics", 9100, tcp, ready("10.244.0.7")),
		},
		want:     map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": "10.244.0.7:8080"}},
		problems: []string{ReasonClusterIPOutside, ReasonBadExternalIP, ReasonBadEndpointIP, ReasonUnknownSlicePort},
	}, {
		name: "headless: no load balancer",
		svc: svc(func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
		}),
	}, {
		name: "ExternalName: no load balancer",
		svc:  svc(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, problems := Rows(Input{Service: tt.svc, Slices: tt.slices, ServiceCIDRs: cidrs})
			got := map[string]map[string]string{}
			for _, r := range rows {
				lb := r.Model.(*nbdb.LoadBalancer)
				got[lb.Name] = lb.Vips
				if r.ID != lb.Name || lb.ExternalIDs["k8s.ovn.org/kind"] != "Service" {
					t.Errorf("row %s: id %q external_ids %v", lb.Name, r.ID, lb.ExternalIDs)
				}
				if len(r.Parents) != 1 || r.Parents[0].ID != topology.ClusterLBGroup || r.Parents[0].Column != "load_balancer" {
					t.Errorf("%s parents = %+v, want clusterLBGroup.load_balancer", lb.Name, r.Parents)
				}
				wantOptions := tt.options
				if wantOptions == nil {
					wantOptions = map[string]string{"reject": "true"}
				}
				if !reflect.DeepEqual(lb.Options, wantOptions) {
					t.Errorf("%s options = %v, want %v", lb.Name, lb.Options, wantOptions)
				}
			}
			if len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("vips = %v, want %v", got, tt.want)
			}
			var reasons []string
			for _, p := range problems {
				reasons = append(reasons, p.Reason)
			}
			if !reflect.DeepEqual(reasons, tt.problems) {
				t.Errorf("problems = %v (%v), want %v", reasons, problems, tt.problems)
			}
		})
	}
}
