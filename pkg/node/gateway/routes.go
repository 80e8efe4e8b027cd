package gateway

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultRoutes reads family's default routes from the main routing table
// (policy-routing tables are not the host's way out) through nl.
func DefaultRoutes(nl *netlink.Handle, f Family) ([]DefaultRoute, error) {
	fam := netlink.FAMILY_V4
	if f == IPv6 {
		fam = netlink.FAMILY_V6
	}
	routes, err := nl.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list %s routes: %w", f, err)
	}
	names := map[int]string{}
	name := func(index int) (string, error) {
		if n, ok := names[index]; ok {
			return n, nil
		}
		l, err := nl.LinkByIndex(index)
		if err != nil {
			return "", fmt.Errorf("interface %d of a default route: %w", index, err)
		}
		names[index] = l.Attrs().Name
		return names[index], nil
	}
	var out []DefaultRoute
	for _, r := range routes {
		if !isDefault(r) || (r.Type != 0 && r.Type != unix.RTN_UNICAST) {
			continue
		}
		d := DefaultRoute{Priority: r.Priority}
		if len(r.MultiPath) == 0 {
			n, err := name(r.LinkIndex)
			if err != nil {
				return nil, err
			}
			d.NextHops = append(d.NextHops, NextHop{Interface: n, Gateway: addr(r.Gw)})
		}
		for _, p := range r.MultiPath {
			n, err := name(p.LinkIndex)
			if err != nil {
				return nil, err
			}
			d.NextHops = append(d.NextHops, NextHop{Interface: n, Gateway: addr(p.Gw)})
		}
		out = append(out, d)
	}
	return out, nil
}

func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0 && r.Dst.IP.IsUnspecified()
}

func addr(ip []byte) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}
