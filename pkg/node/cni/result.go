package cni

import (
	"net"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// resultVersion is the CNI version of the results the server builds; the
// plugin converts them to whatever version the runtime asked for.
const resultVersion = "1.0.0"

// Link is one end of the veth pair as the result reports it.
type Link struct {
	Name    string
	MAC     net.HardwareAddr
	Sandbox string // netns path, container end only
}

// BuildResult translates a pod's annotated addresses into a CNI result:
// interface 0 is the host end, 1 the container end; each IP names the
// container interface and the gateway of its family; routes are a default
// route per family with a gateway plus the annotation's extra routes.
func BuildResult(host, container Link, addrs kube.PodAddresses) *current.Result {
	idx := 1
	r := &current.Result{
		CNIVersion: resultVersion,
		Interfaces: []*current.Interface{
			{Name: host.Name, Mac: host.MAC.String()},
			{Name: container.Name, Mac: container.MAC.String(), Sandbox: container.Sandbox},
		},
	}
	for _, ip := range addrs.IPs {
		c := &current.IPConfig{Interface: &idx, Address: *ipNet(ip)}
		if gw, ok := gatewayOf(addrs.Gateways, ip.Addr().Is4()); ok {
			c.Gateway = net.IP(gw.AsSlice())
		}
		r.IPs = append(r.IPs, c)
	}
	for _, rt := range PodRoutes(addrs) {
		r.Routes = append(r.Routes, &types.Route{Dst: *ipNet(rt.Dest), GW: net.IP(rt.NextHop.AsSlice())})
	}
	return r
}

// PodRoutes is every route the pod gets: the default route of each family
// that has a gateway, then the annotation's routes.
func PodRoutes(addrs kube.PodAddresses) []kube.Route {
	var out []kube.Route
	for _, gw := range addrs.Gateways {
		def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if gw.Is6() {
			def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		out = append(out, kube.Route{Dest: def, NextHop: gw})
	}
	return append(out, addrs.Routes...)
}

func gatewayOf(gws []netip.Addr, ipv4 bool) (netip.Addr, bool) {
	for _, g := range gws {
		if g.Is4() == ipv4 {
			return g, true
		}
	}
	return netip.Addr{}, false
}

// ipNet renders a prefix as *net.IPNet keeping the host bits (an address
// with its subnet's length), 4-byte for IPv4.
func ipNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}
