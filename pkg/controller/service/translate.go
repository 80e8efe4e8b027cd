package service

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Input is what a Service's load balancers depend on.
type Input struct {
	Service      *corev1.Service
	Slices       []*discoveryv1.EndpointSlice
	ServiceCIDRs []netip.Prefix
}

// Problem is one part of a Service's input left out of its load balancers:
// the rest is programmed, the problem is reported (Warning Event,
// ovnkube_invalid_objects_total{reason}, a log line).
type Problem struct {
	Reason  string // metric label, e.g. "bad-endpoint-ip"
	Message string
}

// Reasons of the problems Rows reports.
const (
	ReasonBadClusterIP       = "bad-cluster-ip"
	ReasonClusterIPOutside   = "cluster-ip-outside-service-cidrs"
	ReasonBadExternalIP      = "bad-external-ip"
	ReasonBadIngressIP       = "bad-load-balancer-ingress-ip"
	ReasonIngressWrongFamily = "load-balancer-ingress-wrong-family"
	ReasonBadEndpointIP      = "bad-endpoint-ip"
	ReasonUnknownSlicePort   = "endpointslice-unknown-port"
)

// defaultAffinityTimeout is Kubernetes' default ClientIP affinity, 3 hours.
const defaultAffinityTimeout = 10800

// LoadBalancerName is the upstream name of a service's load balancer:
// Service_<ns>/<name>_<PROTO>_<scope>.
func LoadBalancerName(key string, proto corev1.Protocol, scope string) string {
	return "Service_" + key + "_" + string(proto) + "_" + scope
}

// Rows returns a Service's cluster-wide load balancers, one per protocol,
// each a member of clusterLBGroup (so every node switch and gateway router
// applies it, and a new service is one row whatever the node count). A vip
// is "ip:port" for every cluster IP, external IP and load-balancer ingress
// IP of the port's service; its backends are the ready endpoints of that
// port and family or, when none is ready, the serving and terminating
// ones. A vip without backends stays: options:reject=true makes OVN refuse
// its connections at once. Headless and ExternalName services have none.
func Rows(in Input) ([]reconcile.Row, []Problem) {
	svc := in.Service
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		return nil, nil
	}
	key := svc.Namespace + "/" + svc.Name
	var problems []Problem
	report := func(reason, format string, args ...any) {
		problems = append(problems, Problem{Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	frontends := frontendIPs(svc, in.ServiceCIDRs, report)
	backends := newEndpointIndex(svc, in.Slices, report)

	byProto := map[corev1.Protocol]map[string]string{}
	for _, sp := range svc.Spec.Ports {
		proto := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
		vips := byProto[proto]
		if vips == nil {
			vips = map[string]string{}
			byProto[proto] = vips
		}
		for _, ip := range frontends {
			var eps []string
			for _, ep := range backends.of(sp, ip.Is6()) {
				eps = append(eps, hostPort(ep.ip, ep.port))
			}
			vips[hostPort(ip, sp.Port)] = strings.Join(eps, ",")
		}
	}
	options := map[string]string{"reject": "true"}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		timeout := int32(defaultAffinityTimeout)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			timeout = *c.ClientIP.TimeoutSeconds
		}
		options["affinity_timeout"] = strconv.Itoa(int(timeout))
	}
	var rows []reconcile.Row
	for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
		vips := byProto[proto]
		if len(vips) == 0 {
			continue
		}
		name := LoadBalancerName(key, proto, "cluster")
		p := nbdb.LoadBalancerProtocol(strings.ToLower(string(proto)))
		rows = append(rows, reconcile.Row{ID: name, Model: &nbdb.LoadBalancer{
			Name:        name,
			Protocol:    &p,
			Vips:        vips,
			Options:     maps.Clone(options),
			ExternalIDs: map[string]string{"k8s.ovn.org/kind": "Service"},
		}, Parents: []reconcile.Ref{withColumn(topology.LBGroupRef(topology.ClusterLBGroup), "load_balancer")}})
	}
	return rows, problems
}

// frontendIPs are the addresses a service answers on: its cluster IPs
// (inside the service CIDRs), external IPs and load-balancer ingress IPs
// (of the service's families). Bad ones are reported and left out.
func frontendIPs(svc *corev1.Service, serviceCIDRs []netip.Prefix, report func(string, string, ...any)) []netip.Addr {
	var out []netip.Addr
	clusterIPs := svc.Spec.ClusterIPs
	if len(clusterIPs) == 0 {
		clusterIPs = []string{svc.Spec.ClusterIP}
	}
	families := map[bool]bool{} // is6 -> the service has that family
	for _, s := range clusterIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			report(ReasonBadClusterIP, "cluster IP %q does not parse", s)
			continue
		}
		families[ip.Is6()] = true
		if !slices.ContainsFunc(serviceCIDRs, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			report(ReasonClusterIPOutside, "cluster IP %s is outside --service-cidrs %v", ip, serviceCIDRs)
			continue
		}
		out = append(out, ip)
	}
	for _, s := range svc.Spec.ExternalIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			report(ReasonBadExternalIP, "external IP %q does not parse", s)
			continue
		}
		out = append(out, ip)
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP == "" {
				continue // a hostname-only ingress has no address to program
			}
			ip, err := netip.ParseAddr(ing.IP)
			if err != nil {
				report(ReasonBadIngressIP, "load-balancer ingress IP %q does not parse", ing.IP)
				continue
			}
			if !families[ip.Is6()] {
				report(ReasonIngressWrongFamily, "load-balancer ingress IP %s is not of the service's IP families %v", ip, svc.Spec.IPFamilies)
				continue
			}
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// endpoint is one backend address and target port.
type endpoint struct {
	ip   netip.Addr
	port int32
}

// endpointIndex holds a service's endpoints per service port name, family
// and readiness.
type endpointIndex struct {
	ready, terminating map[portFamily][]endpoint
}

type portFamily struct {
	port  string // the service port's name ("" for a single unnamed port)
	proto corev1.Protocol
	is6   bool
}

func newEndpointIndex(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, report func(string, string, ...any)) *endpointIndex {
	idx := &endpointIndex{ready: map[portFamily][]endpoint{}, terminating: map[portFamily][]endpoint{}}
	known := map[string]bool{}
	for _, sp := range svc.Spec.Ports {
		known[sp.Name] = true
	}
	for _, sl := range slices {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue // FQDN slices have no addresses to balance to
		}
		is6 := sl.AddressType == discoveryv1.AddressTypeIPv6
		for _, p := range sl.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if !known[name] {
				report(ReasonUnknownSlicePort, "EndpointSlice %s names port %q, which the service does not have", sl.Name, name)
				continue
			}
			if p.Port == nil {
				continue // the port is not resolvable for these endpoints
			}
			k := portFamily{port: name, proto: cmp.Or(ptrValue(p.Protocol), corev1.ProtocolTCP), is6: is6}
			for _, e := range sl.Endpoints {
				ready := e.Conditions.Ready == nil || *e.Conditions.Ready
				serving := ready
				if e.Conditions.Serving != nil {
					serving = *e.Conditions.Serving
				}
				terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
				for _, a := range e.Addresses {
					ip, err := netip.ParseAddr(a)
					if err != nil || ip.Is6() != is6 {
						report(ReasonBadEndpointIP, "EndpointSlice %s endpoint address %q is not an %s address", sl.Name, a, sl.AddressType)
						continue
					}
					switch {
					case ready:
						idx.ready[k] = append(idx.ready[k], endpoint{ip, *p.Port})
					case serving && terminating:
						idx.terminating[k] = append(idx.terminating[k], endpoint{ip, *p.Port})
					}
				}
			}
		}
	}
	return idx
}

// of returns the backends of service port sp in one family: the ready
// endpoints, or the serving-and-terminating ones when none is ready,
// sorted and without duplicates.
func (idx *endpointIndex) of(sp corev1.ServicePort, is6 bool) []endpoint {
	k := portFamily{port: sp.Name, proto: cmp.Or(sp.Protocol, corev1.ProtocolTCP), is6: is6}
	eps := idx.ready[k]
	if len(eps) == 0 {
		eps = idx.terminating[k]
	}
	eps = slices.Clone(eps)
	slices.SortFunc(eps, func(a, b endpoint) int {
		return cmp.Or(a.ip.Compare(b.ip), cmp.Compare(a.port, b.port))
	})
	return slices.Compact(eps)
}

// hostPort renders "ip:port", bracketing IPv6 as OVN's vips expect.
func hostPort(ip netip.Addr, port int32) string {
	return netip.AddrPortFrom(ip, uint16(port)).String()
}

func withColumn(r reconcile.Ref, column string) reconcile.Ref {
	r.Column = column
	return r
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
