// Package gateway finds and checks the node's default gateway: the
// interface (and next hops) that every configured IP family leaves the node
// through, which br-ex will own and the node's gateway router will route to.
package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
)

// Family is an IP family of the cluster.
type Family int

// The families, numbered as in "IPv4".
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string { return fmt.Sprintf("IPv%d", int(f)) }

// FamilyOf returns the family of an address.
func FamilyOf(a netip.Addr) Family {
	if a.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// NextHop is one way out of a default route: the interface and, unless the
// route is a device route ("default dev eth0"), the router's address, which
// may be an IPv6 link-local address (fe80::1) valid on that interface only.
type NextHop struct {
	Interface string
	Gateway   netip.Addr
}

// DefaultRoute is a default route of the main routing table: one next hop,
// or several for a multipath route.
type DefaultRoute struct {
	Priority int
	NextHops []NextHop
}

// Overrides are the operator's answer when routes do not tell
// (--gateway-interface, --gateway-nexthop).
type Overrides struct {
	Interface string
	NextHops  []netip.Addr // at most one family each is used: the first of it
}

// Gateway is the decision: one interface for every family, and each
// family's next hops on it. Interfaces holds what each family found, also
// when they disagree (the error then names both).
type Gateway struct {
	Interface  string
	Interfaces map[Family]string
	NextHops   map[Family][]netip.Addr
}

// ErrNoDefaultGateway and ErrMultipleInterfaces are the two ways a host is
// refused. Their texts are the lines operators search for: OVN-Kubernetes
// prints the same, and platform docs quote them.
var (
	ErrNoDefaultGateway   = errors.New("failed to get default gateway interface")
	ErrMultipleInterfaces = errors.New("multiple gateway interfaces detected")
)

// Decide picks the gateway for families from each family's default routes
// in the main table. Per family the route with the lowest priority wins;
// a multipath route leaves through its first next hop's interface, with
// every next hop on that interface. --gateway-interface fixes the
// interface (its next hops come from the routes on it, or the overrides);
// --gateway-nexthop fixes a family's next hop. A family without a way out,
// or two families leaving through different interfaces, is an error: the
// node would send one family's traffic where the gateway router is not.
func Decide(families []Family, routes map[Family][]DefaultRoute, o Overrides) (Gateway, error) {
	gw := Gateway{Interfaces: map[Family]string{}, NextHops: map[Family][]netip.Addr{}}
	ifaces := gw.Interfaces
	for _, f := range families {
		candidates := append([]DefaultRoute(nil), routes[f]...)
		sort.SliceStable(candidates, func(a, b int) bool { return candidates[a].Priority < candidates[b].Priority })
		iface := o.Interface
		var hops []netip.Addr
		for _, r := range candidates {
			if len(r.NextHops) == 0 {
				continue
			}
			if iface == "" {
				iface = r.NextHops[0].Interface
			}
			for _, h := range r.NextHops {
				if h.Interface == iface && h.Gateway.IsValid() {
					hops = append(hops, h.Gateway)
				}
			}
			if len(hops) > 0 || o.Interface == "" {
				break // the best route decides; with an override, the best route on that interface
			}
		}
		if override, ok := firstOf(o.NextHops, f); ok {
			hops = []netip.Addr{override}
		}
		switch {
		case iface == "":
			return gw, fmt.Errorf("%w: no %s default route in the main routing table (set --gateway-interface and --gateway-nexthop)", ErrNoDefaultGateway, f)
		case len(hops) == 0:
			return gw, fmt.Errorf("%w: no %s next hop via %s (set --gateway-nexthop)", ErrNoDefaultGateway, f, iface)
		}
		ifaces[f] = iface
		gw.NextHops[f] = hops
	}
	if len(families) == 0 {
		return Gateway{}, fmt.Errorf("%w: no IP family configured", ErrNoDefaultGateway)
	}
	gw.Interface = ifaces[families[0]]
	if len(families) == 2 && ifaces[IPv4] != ifaces[IPv6] {
		return gw, fmt.Errorf("%w: %s %s", ErrMultipleInterfaces, ifaces[IPv4], ifaces[IPv6])
	}
	return gw, nil
}

func firstOf(addrs []netip.Addr, f Family) (netip.Addr, bool) {
	for _, a := range addrs {
		if FamilyOf(a) == f {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// FoundLines are the lines logged per family that found its way out,
// "Found default gateway interface <if> <gw>", as OVN-Kubernetes logs them.
func FoundLines(families []Family, gw Gateway) []string {
	out := make([]string, 0, len(families))
	for _, f := range families {
		if hops := gw.NextHops[f]; len(hops) > 0 {
			out = append(out, fmt.Sprintf("Found default gateway interface %s %s", gw.Interfaces[f], hops[0]))
		}
	}
	return out
}
