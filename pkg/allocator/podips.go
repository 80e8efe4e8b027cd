package allocator

import (
	"fmt"
	"net/netip"
)

// PodIPs hands out pod addresses from one node's subnets (one per family).
// Each address is a one-address "subnet" (/32, /128) of a NodeSubnets
// allocator over the node subnets, so pod IPs get the same guarantees as node
// subnets: all-or-nothing across families, next-fit (a deleted pod's address
// is not handed out again straight away, so stale ARP/ND entries and flows
// do not reach a new pod), memory proportional to the pods, not the subnet.
//
// The network address, the gateway (.1, the node's router port), the
// management port (.2) and the IPv4 broadcast address are never handed out.
type PodIPs struct {
	subnets []netip.Prefix
	alloc   *NodeSubnets
}

// reservedOwner holds the addresses that are not pod addresses.
const reservedOwner = "\x00reserved"

// NewPodIPs returns an allocator over a node's subnets.
func NewPodIPs(subnets []netip.Prefix) (*PodIPs, error) {
	var ranges []Range
	for _, s := range subnets {
		ranges = append(ranges, Range{CIDR: s.Masked(), HostPrefix: s.Addr().BitLen()})
	}
	alloc, err := NewNodeSubnets(ranges)
	if err != nil {
		return nil, err
	}
	p := &PodIPs{subnets: subnets, alloc: alloc}
	for i, s := range subnets {
		base := s.Masked().Addr()
		reserved := []netip.Addr{base, base.Next(), base.Next().Next()}
		if s.Addr().Is4() {
			reserved = append(reserved, lastAddr(s))
		}
		for j, a := range reserved {
			owner := fmt.Sprintf("%s/%d/%d", reservedOwner, i, j)
			if err := alloc.Mark(owner, []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}); err != nil {
				return nil, fmt.Errorf("reserve %s in node subnet %s: %w", a, s, err)
			}
		}
	}
	return p, nil
}

// Subnets returns the node subnets this allocator serves.
func (p *PodIPs) Subnets() []netip.Prefix { return p.subnets }

// Allocate returns one address per node subnet for pod, with the subnet's
// prefix length ("10.244.1.5/24"), IPv4 first. It is idempotent per pod.
func (p *PodIPs) Allocate(pod string) ([]netip.Prefix, error) {
	hosts, err := p.alloc.Allocate(pod)
	if err != nil {
		return nil, err
	}
	return p.withSubnetBits(hosts), nil
}

// Mark reserves addresses a pod already has (from its annotation). Errors
// wrap ErrNotInRange (not in this node's subnets) or ErrConflict (another pod
// holds it, or it is a reserved address).
func (p *PodIPs) Mark(pod string, ips []netip.Prefix) error {
	hosts := make([]netip.Prefix, len(ips))
	for i, ip := range ips {
		hosts[i] = netip.PrefixFrom(ip.Addr(), ip.Addr().BitLen())
	}
	return p.alloc.Mark(pod, hosts)
}

// Release frees pod's addresses.
func (p *PodIPs) Release(pod string) { p.alloc.Release(pod) }

// Get returns pod's addresses, if it holds any.
func (p *PodIPs) Get(pod string) ([]netip.Prefix, bool) {
	hosts, ok := p.alloc.Get(pod)
	return p.withSubnetBits(hosts), ok
}

func (p *PodIPs) withSubnetBits(hosts []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(hosts))
	for _, h := range hosts {
		for _, s := range p.subnets {
			if s.Contains(h.Addr()) {
				out = append(out, netip.PrefixFrom(h.Addr(), s.Bits()))
			}
		}
	}
	return out
}

// lastAddr is the highest address of an IPv4 prefix (its broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
