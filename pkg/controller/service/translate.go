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
	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Input is what a Service's load balancers depend on.
type Input struct {
	Service      *corev1.Service
	Slices       []*discoveryv1.EndpointSlice
	ServiceCIDRs []netip.Prefix
	// Nodes with a gateway router, for node ports and the traffic
	// policies; sorted by name.
	Nodes []Node
	// NodePortRange is --nodeport-range; node ports outside it are
	// reported and left out. The zero range checks nothing.
	NodePortRange config.PortRange
	// NoLBGroups attaches the cluster-wide load balancers to every node's
	// switch and gateway router instead of clusterLBGroup (--lb-groups=false,
	// for comparison): Nodes must then list every node.
	NoLBGroups bool
}

// Node is what a node contributes to services: its name (its switch and
// GR_<node> hold its per-node load balancers) and its gateway addresses
// (k8s.ovn.org/l3-gateway-config), where its node ports answer.
type Node struct {
	Name string
	IPs  []netip.Addr
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
	ReasonNodePortOutside    = "node-port-outside-range"
)

// defaultAffinityTimeout is Kubernetes' default ClientIP affinity, 3 hours.
const defaultAffinityTimeout = 10800

// LoadBalancerName is the upstream name of a service's load balancer:
// Service_<ns>/<name>_<PROTO>_<scope>.
func LoadBalancerName(key string, proto corev1.Protocol, scope string) string {
	return "Service_" + key + "_" + string(proto) + "_" + scope
}

// Rows returns a Service's load balancers.
//
// Cluster-wide, one per protocol, member of clusterLBGroup (so every node
// switch and gateway router applies it, and a new service is one row
// whatever the node count): its cluster IPs and, unless
// externalTrafficPolicy is Local, its external and load-balancer ingress
// IPs. Per node, for node ports and for externalTrafficPolicy=Local, one
// per protocol on the node's switch and gateway router
// (Service_<ns>/<name>_<PROTO>_node_router+switch_<node>), or two when
// they differ (_node_router_<node>, _node_switch_<node>): with
// externalTrafficPolicy=Local the router's vips reach only the node's own
// endpoints, without source NAT (the backend sees the client), and a node
// without a local endpoint has no such vip, so it does not answer.
//
// With internalTrafficPolicy=Local the cluster IPs leave the cluster-wide
// load balancer and go on each node's, with only that node's endpoints.
//
// A vip is "ip:port"; its backends are the ready endpoints of that port
// and family or, when none is ready, the serving and terminating ones. A
// cluster-wide vip without backends stays: options:reject=true makes OVN
// refuse its connections at once. Headless and ExternalName services have
// no load balancers.
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
	clusterIPs, outsideIPs := frontendIPs(svc, in.ServiceCIDRs, report)
	backends := newEndpointIndex(svc, in.Slices, report)
	etpLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal &&
		(svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer)
	itpLocal := InternalLocal(svc)

	lbs := newLBSet(key, svc)
	for _, sp := range svc.Spec.Ports {
		proto := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
		if sp.NodePort != 0 && in.NodePortRange != (config.PortRange{}) && !in.NodePortRange.Contains(sp.NodePort) {
			report(ReasonNodePortOutside, "node port %d of port %q is outside --nodeport-range %s", sp.NodePort, sp.Name, in.NodePortRange)
			sp.NodePort = 0
		}
		cluster := lbs.get(proto, "cluster", clusterParents(in), false)
		var frontends []netip.Addr
		if !itpLocal {
			frontends = append(frontends, clusterIPs...)
		}
		if !etpLocal {
			frontends = append(frontends, outsideIPs...)
		}
		for _, ip := range frontends {
			cluster.vips[hostPort(ip, sp.Port)] = join(backends.of(sp, ip.Is6(), ""))
		}
		for _, n := range in.Nodes {
			// What the node's gateway router and switch answer on besides
			// the cluster-wide vips: its node port on its own addresses and,
			// with externalTrafficPolicy=Local, the service's outside IPs.
			type frontend struct {
				ip   netip.Addr
				port int32
			}
			var fes []frontend
			if sp.NodePort != 0 {
				for _, ip := range n.IPs {
					fes = append(fes, frontend{ip, sp.NodePort})
				}
			}
			if etpLocal {
				for _, ip := range outsideIPs {
					fes = append(fes, frontend{ip, sp.Port})
				}
			}
			router, sw := map[string]string{}, map[string]string{}
			if itpLocal {
				// Cluster IPs reach only the node's own endpoints, from its
				// pods (switch) and from its host (router) alike.
				for _, ip := range clusterIPs {
					local := join(backends.of(sp, ip.Is6(), n.Name))
					sw[hostPort(ip, sp.Port)], router[hostPort(ip, sp.Port)] = local, local
				}
			}
			for _, fe := range fes {
				all := join(backends.of(sp, fe.ip.Is6(), ""))
				sw[hostPort(fe.ip, fe.port)] = all
				if !etpLocal {
					router[hostPort(fe.ip, fe.port)] = all
				} else if local := backends.of(sp, fe.ip.Is6(), n.Name); len(local) > 0 {
					router[hostPort(fe.ip, fe.port)] = join(local)
				}
			}
			lbs.addNode(proto, n.Name, router, sw, etpLocal)
		}
	}
	return lbs.rows(), problems
}

// clusterParents are where a cluster-wide load balancer is linked:
// clusterLBGroup, or every node's switch and gateway router without groups.
func clusterParents(in Input) []reconcile.Ref {
	if !in.NoLBGroups {
		return []reconcile.Ref{withColumn(topology.LBGroupRef(topology.ClusterLBGroup), "load_balancer")}
	}
	var refs []reconcile.Ref
	for _, n := range in.Nodes {
		refs = append(refs, withColumn(topology.NodeSwitchRef(n.Name), "load_balancer"),
			reconcile.Ref{Owner: topology.NodeOwner(n.Name), Table: nbdb.LogicalRouterTable, ID: topology.GatewayRouter(n.Name), Column: "load_balancer"})
	}
	return refs
}

// InternalLocal reports internalTrafficPolicy=Local.
func InternalLocal(svc *corev1.Service) bool {
	return svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
}

// lbSet collects a service's load balancers by name, in a stable order.
type lbSet struct {
	key     string
	options map[string]string
	byName  map[string]*lbRow
	order   []string
}

type lbRow struct {
	proto   corev1.Protocol
	vips    map[string]string
	parents []reconcile.Ref
	options map[string]string
}

func newLBSet(key string, svc *corev1.Service) *lbSet {
	options := map[string]string{"reject": "true"}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		timeout := int32(defaultAffinityTimeout)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			timeout = *c.ClientIP.TimeoutSeconds
		}
		options["affinity_timeout"] = strconv.Itoa(int(timeout))
	}
	return &lbSet{key: key, options: options, byName: map[string]*lbRow{}}
}

// get returns the load balancer of proto and scope, created with parents.
func (s *lbSet) get(proto corev1.Protocol, scope string, parents []reconcile.Ref, skipSNAT bool) *lbRow {
	name := LoadBalancerName(s.key, proto, scope)
	lb := s.byName[name]
	if lb == nil {
		lb = &lbRow{proto: proto, vips: map[string]string{}, parents: parents, options: maps.Clone(s.options)}
		if skipSNAT {
			lb.options["skip_snat"] = "true"
		}
		s.byName[name] = lb
		s.order = append(s.order, name)
	}
	return lb
}

// addNode adds a node's vips: one load balancer on both its switch and its
// gateway router when they agree, else one on each.
func (s *lbSet) addNode(proto corev1.Protocol, node string, router, sw map[string]string, etpLocal bool) {
	onSwitch := withColumn(topology.NodeSwitchRef(node), "load_balancer")
	onRouter := reconcile.Ref{Owner: topology.NodeOwner(node), Table: nbdb.LogicalRouterTable, ID: topology.GatewayRouter(node), Column: "load_balancer"}
	if maps.Equal(router, sw) && !etpLocal {
		maps.Copy(s.get(proto, "node_router+switch_"+node, []reconcile.Ref{onRouter, onSwitch}, false).vips, router)
		return
	}
	if len(router) > 0 {
		maps.Copy(s.get(proto, "node_router_"+node, []reconcile.Ref{onRouter}, etpLocal).vips, router)
	}
	maps.Copy(s.get(proto, "node_switch_"+node, []reconcile.Ref{onSwitch}, false).vips, sw)
}

// rows renders the load balancers with vips, sorted by name.
func (s *lbSet) rows() []reconcile.Row {
	names := slices.Clone(s.order)
	slices.Sort(names)
	var rows []reconcile.Row
	for _, name := range names {
		lb := s.byName[name]
		if len(lb.vips) == 0 {
			continue
		}
		p := nbdb.LoadBalancerProtocol(strings.ToLower(string(lb.proto)))
		rows = append(rows, reconcile.Row{ID: name, Model: &nbdb.LoadBalancer{
			Name:        name,
			Protocol:    &p,
			Vips:        lb.vips,
			Options:     lb.options,
			ExternalIDs: map[string]string{"k8s.ovn.org/kind": "Service"},
		}, Parents: lb.parents})
	}
	return rows
}

func join(eps []endpoint) string {
	s := make([]string, len(eps))
	for i, ep := range eps {
		s[i] = hostPort(ep.ip, ep.port)
	}
	return strings.Join(s, ",")
}

// frontendIPs are the addresses a service answers on: its cluster IPs
// (inside the service CIDRs), external IPs and load-balancer ingress IPs
// (of the service's families). Bad ones are reported and left out.
func frontendIPs(svc *corev1.Service, serviceCIDRs []netip.Prefix, report func(string, string, ...any)) (clusterIPs, outsideIPs []netip.Addr) {
	var out []netip.Addr
	specIPs := svc.Spec.ClusterIPs
	if len(specIPs) == 0 {
		specIPs = []string{svc.Spec.ClusterIP}
	}
	families := map[bool]bool{} // is6 -> the service has that family
	for _, s := range specIPs {
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
		clusterIPs = append(clusterIPs, ip)
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
	sortAddrs := func(a []netip.Addr) []netip.Addr {
		slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) })
		return slices.Compact(a)
	}
	return sortAddrs(clusterIPs), sortAddrs(out)
}

// endpoint is one backend address and target port.
type endpoint struct {
	ip   netip.Addr
	port int32
	node string
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
						idx.ready[k] = append(idx.ready[k], endpoint{ip, *p.Port, ptrValue(e.NodeName)})
					case serving && terminating:
						idx.terminating[k] = append(idx.terminating[k], endpoint{ip, *p.Port, ptrValue(e.NodeName)})
					}
				}
			}
		}
	}
	return idx
}

// of returns the backends of service port sp in one family (on node, when
// not ""): the ready endpoints, or the serving-and-terminating ones when
// none is ready, sorted and without duplicates.
func (idx *endpointIndex) of(sp corev1.ServicePort, is6 bool, node string) []endpoint {
	k := portFamily{port: sp.Name, proto: cmp.Or(sp.Protocol, corev1.ProtocolTCP), is6: is6}
	pick := func(eps []endpoint) []endpoint {
		if node == "" {
			return slices.Clone(eps)
		}
		return slices.DeleteFunc(slices.Clone(eps), func(e endpoint) bool { return e.node != node })
	}
	eps := pick(idx.ready[k])
	if len(eps) == 0 {
		eps = pick(idx.terminating[k])
	}
	slices.SortFunc(eps, func(a, b endpoint) int {
		return cmp.Or(a.ip.Compare(b.ip), cmp.Compare(a.port, b.port))
	})
	return slices.CompactFunc(eps, func(a, b endpoint) bool { return a.ip == b.ip && a.port == b.port })
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
