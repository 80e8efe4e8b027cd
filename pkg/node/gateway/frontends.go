package gateway

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Frontend is an address and port on which traffic arriving from outside
// the node belongs to the gateway router's load balancers (a node port, an
// external IP, a load-balancer ingress IP), not to the host.
type Frontend struct {
	Protocol corev1.Protocol
	IP       netip.Addr
	Port     int32
}

// Frontends returns what a Service exposes on this node: every node port
// on each of the node's addresses, and the service's ports on its external
// IPs and load-balancer ingress IPs. Sorted, without duplicates; addresses
// that do not parse are left out (the master reports them).
func Frontends(svc *corev1.Service, nodeIPs []netip.Addr) []Frontend {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var outside []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		if ip, err := netip.ParseAddr(s); err == nil {
			outside = append(outside, ip)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ip, err := netip.ParseAddr(ing.IP); err == nil {
				outside = append(outside, ip)
			}
		}
	}
	var out []Frontend
	for _, sp := range svc.Spec.Ports {
		proto := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
		if sp.NodePort != 0 && (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) {
			for _, ip := range nodeIPs {
				out = append(out, Frontend{proto, ip, sp.NodePort})
			}
		}
		for _, ip := range outside {
			out = append(out, Frontend{proto, ip, sp.Port})
		}
	}
	slices.SortFunc(out, func(a, b Frontend) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port))
	})
	return slices.Compact(out)
}
