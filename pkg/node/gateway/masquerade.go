package gateway

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/topology"
)

// The masquerade subnet (169.254.169.0/29, fd69::/125 by default) holds
// addresses no packet may carry off the node. Upstream numbers them from
// the subnet's base: .1 OVN's side, .2 the host's, .3 for
// externalTrafficPolicy=Local, .4 a next hop that exists only as a
// neighbour entry, .5 hairpin.
const (
	masqueradeHostOffset    = 2
	masqueradeNextHopOffset = 4
)

// Masquerade is the host's end of the masquerade subnet on br-ex: its
// address, the service networks routed through the fake next hop, and
// that next hop resolved to br-ex's own MAC, so the host sends service
// traffic into br-ex without ever asking for it (br-ex's flows hand it to
// the gateway router once Services are programmed).
type Masquerade struct {
	Addrs    []netip.Prefix
	Routes   []MasqueradeRoute
	NextHops []netip.Addr
}

// MasqueradeRoute is one service network via a masquerade next hop, from
// the host's masquerade address (so replies come back to the host and
// never leave the node).
type MasqueradeRoute struct {
	Dst netip.Prefix
	Via netip.Addr
	Src netip.Addr
}

func (r MasqueradeRoute) String() string { return fmt.Sprintf("%s via %s src %s", r.Dst, r.Via, r.Src) }

// PlanMasquerade derives the host's masquerade addresses and routes from
// the masquerade subnets and the service CIDRs, one family at a time:
// a service CIDR of a family without a masquerade subnet is an error
// (config validation keeps the two in step).
func PlanMasquerade(masquerade, serviceCIDRs []netip.Prefix) (Masquerade, error) {
	var m Masquerade
	via, src := map[Family]netip.Addr{}, map[Family]netip.Addr{}
	for _, sub := range masquerade {
		host, err := topology.NthAddr(sub, masqueradeHostOffset)
		if err != nil {
			return m, fmt.Errorf("masquerade subnet: %w", err)
		}
		next, err := topology.NthAddr(sub, masqueradeNextHopOffset)
		if err != nil {
			return m, fmt.Errorf("masquerade subnet: %w", err)
		}
		m.Addrs = append(m.Addrs, netip.PrefixFrom(host, sub.Bits()))
		m.NextHops = append(m.NextHops, next)
		via[FamilyOf(next)], src[FamilyOf(host)] = next, host
	}
	for _, svc := range serviceCIDRs {
		next, ok := via[FamilyOf(svc.Addr())]
		if !ok {
			return m, fmt.Errorf("service CIDR %s has no masquerade subnet of its family", svc)
		}
		m.Routes = append(m.Routes, MasqueradeRoute{Dst: svc.Masked(), Via: next, Src: src[FamilyOf(next)]})
	}
	return m, nil
}

// EnsureMasquerade puts m on the bridge br whose MAC is mac. Everything is
// a replace, so a restart finds it in place and changes nothing.
func EnsureMasquerade(nl *netlink.Handle, br netlink.Link, mac net.HardwareAddr, m Masquerade) error {
	name := br.Attrs().Name
	for _, a := range m.Addrs {
		addr := &netlink.Addr{IPNet: prefixIPNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD // host-local: nobody else can hold it
		}
		if err := nl.AddrReplace(br, addr); err != nil {
			return fmt.Errorf("add masquerade address %s to %s: %w", a, name, err)
		}
	}
	for _, next := range m.NextHops {
		family := unix.AF_INET
		if next.Is6() {
			family = unix.AF_INET6
		}
		n := &netlink.Neigh{LinkIndex: br.Attrs().Index, Family: family, State: netlink.NUD_PERMANENT,
			IP: net.IP(next.AsSlice()), HardwareAddr: mac}
		if err := nl.NeighSet(n); err != nil {
			return fmt.Errorf("neighbour %s lladdr %s on %s: %w", next, mac, name, err)
		}
	}
	for _, r := range m.Routes {
		route := &netlink.Route{LinkIndex: br.Attrs().Index, Dst: prefixIPNet(r.Dst), Gw: net.IP(r.Via.AsSlice()),
			Src: net.IP(r.Src.AsSlice()), Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_STATIC}
		if err := nl.RouteReplace(route); err != nil {
			return fmt.Errorf("route %s via %s dev %s: %w", r.Dst, r.Via, name, err)
		}
	}
	klog.InfoS("Masquerade addresses and service routes on the external bridge", "bridge", name,
		"addresses", fmt.Sprint(m.Addrs), "routes", fmt.Sprint(m.Routes))
	return nil
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
