package topology

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// MACFromIP derives the MAC OVN-Kubernetes uses for an address it assigns:
// 0a:58 followed by the last four bytes of the IP (the IPv4 octets for IPv4).
// Deriving instead of storing keeps ports and their peers consistent across
// restarts without any state.
func MACFromIP(ip netip.Addr) net.HardwareAddr {
	b := ip.As16()
	return net.HardwareAddr{0x0a, 0x58, b[12], b[13], b[14], b[15]}
}

// NthAddr returns the n-th address of subnet (n=1 is the first after the
// network address), or an error when the subnet is too small.
func NthAddr(subnet netip.Prefix, n int) (netip.Addr, error) {
	a := subnet.Masked().Addr()
	for i := 0; i < n; i++ {
		a = a.Next()
	}
	if !a.IsValid() || !subnet.Contains(a) {
		return netip.Addr{}, fmt.Errorf("subnet %s has no address number %d", subnet, n)
	}
	return a, nil
}

// GatewayIP is the node subnet's router address, .1.
func GatewayIP(subnet netip.Prefix) (netip.Addr, error) { return NthAddr(subnet, 1) }

// ManagementIP is the node subnet's management port address, .2.
func ManagementIP(subnet netip.Prefix) (netip.Addr, error) { return NthAddr(subnet, 2) }

// PreferIPv4 returns the IPv4 address if there is one, else the first address:
// the MAC of a dual-stack port derives from its IPv4 address.
func PreferIPv4(addrs []netip.Addr) netip.Addr {
	for _, a := range addrs {
		if a.Is4() {
			return a
		}
	}
	return addrs[0]
}

// AddressLine renders an OVN addresses/port_security entry: the MAC, then
// the addresses ("0a:58:0a:f4:01:05 10.244.1.5 fd00:10:244:1::5").
func AddressLine(mac net.HardwareAddr, ips []netip.Addr) string {
	s := make([]string, 0, 1+len(ips))
	s = append(s, mac.String())
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return strings.Join(s, " ")
}

// WithPrefix renders addr with the prefix length of subnet ("10.244.1.1/24").
func WithPrefix(addr netip.Addr, subnet netip.Prefix) string {
	return netip.PrefixFrom(addr, subnet.Bits()).String()
}

// LinkLocalFromMAC is the IPv6 link-local address a port with mac
// configures (modified EUI-64, RFC 4291 appendix A): the source of the
// MLD queries a node switch sends for its router port.
func LinkLocalFromMAC(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	b[8], b[9], b[10] = mac[0]^0x02, mac[1], mac[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}
