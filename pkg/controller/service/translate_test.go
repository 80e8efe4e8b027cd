package service

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/config"
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
	node                        string
}

func slice(name string, family discoveryv1.AddressType, port string, number int32, proto corev1.Protocol, eps ...ep) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: family,
		Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: &number, Protocol: &proto}},
	}
	for _, e := range eps {
		de := discoveryv1.Endpoint{Addresses: []string{e.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating}}
		if e.node != "" {
			de.NodeName = &e.node
		}
		sl.Endpoints = append(sl.Endpoints, de)
	}
	return sl
}

var yes, no = new(bool), new(bool)

var twoNodes = []Node{{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("172.31.0.1")}}, {Name: "n2", IPs: []netip.Addr{netip.MustParseAddr("172.31.0.2")}}}

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
		nodes    []Node
		want     map[string]map[string]string // LB name -> vips
		options  map[string]string
		skipSNAT []string            // LBs with options:skip_snat=true
		parents  map[string][]string // LB name -> parent "Table:ID.column" (default clusterLBGroup)
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
		name: "NodePort: each node's addresses on its switch and gateway router",
		svc: svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
		}),
		slices: []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp, ep{addr: "10.244.1.5", node: "n2"})},
		nodes:  twoNodes,
		want: map[string]map[string]string{
			"Service_ns/web_TCP_cluster":               {"10.96.0.10:80": "10.244.1.5:8080"},
			"Service_ns/web_TCP_node_router+switch_n1": {"172.31.0.1:30080": "10.244.1.5:8080"},
			"Service_ns/web_TCP_node_router+switch_n2": {"172.31.0.2:30080": "10.244.1.5:8080"},
		},
		parents: map[string][]string{
			"Service_ns/web_TCP_node_router+switch_n1": {"Logical_Router:GR_n1.load_balancer", "Logical_Switch:n1.load_balancer"},
			"Service_ns/web_TCP_node_router+switch_n2": {"Logical_Router:GR_n2.load_balancer", "Logical_Switch:n2.load_balancer"},
		},
	}, {
		name: "internalTrafficPolicy=Local: each node's cluster IP reaches its own endpoints only",
		svc: svc(func(s *corev1.Service) {
			local := corev1.ServiceInternalTrafficPolicyLocal
			s.Spec.InternalTrafficPolicy = &local
		}),
		slices: []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp, ep{addr: "10.244.1.5", node: "n2"})},
		nodes:  twoNodes,
		want: map[string]map[string]string{
			"Service_ns/web_TCP_node_router+switch_n1": {"10.96.0.10:80": ""},
			"Service_ns/web_TCP_node_router+switch_n2": {"10.96.0.10:80": "10.244.1.5:8080"},
		},
		parents: map[string][]string{
			"Service_ns/web_TCP_node_router+switch_n1": {"Logical_Router:GR_n1.load_balancer", "Logical_Switch:n1.load_balancer"},
			"Service_ns/web_TCP_node_router+switch_n2": {"Logical_Router:GR_n2.load_balancer", "Logical_Switch:n2.load_balancer"},
		},
	}, {
		name: "a node port outside --nodeport-range is reported and not programmed",
		svc: svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 40080
		}),
		slices:   []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp, ep{addr: "10.244.1.5", node: "n2"})},
		nodes:    twoNodes,
		want:     map[string]map[string]string{"Service_ns/web_TCP_cluster": {"10.96.0.10:80": "10.244.1.5:8080"}},
		problems: []string{ReasonNodePortOutside},
	}, {
		name: "externalTrafficPolicy=Local: only the node with an endpoint answers, without SNAT",
		svc: svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.Ports[0].NodePort = 30080
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.7"}}
		}),
		slices: []*discoveryv1.EndpointSlice{slice("web-1", v4, "http", 8080, tcp, ep{addr: "10.244.1.5", node: "n2"}, ep{addr: "10.244.0.5", node: "n1"}, ep{addr: "10.244.1.6", node: "n2"})},
		nodes:  []Node{{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("172.31.0.1")}}, {Name: "n2", IPs: []netip.Addr{netip.MustParseAddr("172.31.0.2")}}, {Name: "n3", IPs: []netip.Addr{netip.MustParseAddr("172.31.0.3")}}},
		want: map[string]map[string]string{
			"Service_ns/web_TCP_cluster":        {"10.96.0.10:80": "10.244.0.5:8080,10.244.1.5:8080,10.244.1.6:8080"},
			"Service_ns/web_TCP_node_router_n1": {"172.31.0.1:30080": "10.244.0.5:8080", "198.51.100.7:80": "10.244.0.5:8080"},
			"Service_ns/web_TCP_node_router_n2": {"172.31.0.2:30080": "10.244.1.5:8080,10.244.1.6:8080", "198.51.100.7:80": "10.244.1.5:8080,10.244.1.6:8080"},
			"Service_ns/web_TCP_node_switch_n1": {"172.31.0.1:30080": "10.244.0.5:8080,10.244.1.5:8080,10.244.1.6:8080", "198.51.100.7:80": "10.244.0.5:8080,10.244.1.5:8080,10.244.1.6:8080"},
			"Service_ns/web_TCP_node_switch_n2": {"172.31.0.2:30080": "10.244.0.5:8080,10.244.1.5:8080,10.244.1.6:8080", "198.51.100.7:80": "10.244.0.5:8080,10.244.1.5:8080,10.244.1.6:8080"},
			"Service_ns/web_TCP_node_switch_n3": {"172.31.0.3:30080": "10.244.0.5:8080,10.244.1.5:8080,10.244.1.6:8080", "198.51.100.7:80": "10.244.0.5:8080,10.244.1.5:8080,10.244.1.6:8080"},
		},
		skipSNAT: []string{"Service_ns/web_TCP_node_router_n1", "Service_ns/web_TCP_node_router_n2"},
		parents: map[string][]string{
			"Service_ns/web_TCP_node_router_n1": {"Logical_Router:GR_n1.load_balancer"},
			"Service_ns/web_TCP_node_router_n2": {"Logical_Router:GR_n2.load_balancer"},
			"Service_ns/web_TCP_node_switch_n1": {"Logical_Switch:n1.load_balancer"},
			"Service_ns/web_TCP_node_switch_n2": {"Logical_Switch:n2.load_balancer"},
			"Service_ns/web_TCP_node_switch_n3": {"Logical_Switch:n3.load_balancer"},
		},
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
			rows, problems := Rows(Input{Service: tt.svc, Slices: tt.slices, ServiceCIDRs: cidrs, Nodes: tt.nodes, NodePortRange: config.DefaultNodePortRange})
			got := map[string]map[string]string{}
			for _, r := range rows {
				lb := r.Model.(*nbdb.LoadBalancer)
				got[lb.Name] = lb.Vips
				if r.ID != lb.Name || lb.ExternalIDs["k8s.ovn.org/kind"] != "Service" {
					t.Errorf("row %s: id %q external_ids %v", lb.Name, r.ID, lb.ExternalIDs)
				}
				wantParents := tt.parents[lb.Name]
				if wantParents == nil {
					wantParents = []string{"Load_Balancer_Group:" + topology.ClusterLBGroup + ".load_balancer"}
				}
				var parents []string
				for _, p := range r.Parents {
					parents = append(parents, p.Table+":"+p.ID+"."+p.Column)
				}
				if !reflect.DeepEqual(parents, wantParents) {
					t.Errorf("%s parents = %v, want %v", lb.Name, parents, wantParents)
				}
				wantOptions := maps.Clone(tt.options)
				if wantOptions == nil {
					wantOptions = map[string]string{"reject": "true"}
				}
				if slices.Contains(tt.skipSNAT, lb.Name) {
					wantOptions["skip_snat"] = "true"
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
