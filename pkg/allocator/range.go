package allocator

import (
	"fmt"
	"math"
	"net/netip"
)

// Range is one cluster subnet entry: node subnets of length HostPrefix are
// carved out of CIDR, e.g. CIDR 10.244.0.0/16 with HostPrefix 24 gives 256
// node subnets 10.244.0.0/24 ... 10.244.255.0/24.
type Range struct {
	CIDR       netip.Prefix
	HostPrefix int
}

// String uses the "cidr/hostPrefix" notation of the --cluster-subnets flag,
// e.g. "10.244.0.0/16/24", so messages read like the configuration.
func (r Range) String() string {
	return fmt.Sprintf("%s/%d", r.CIDR, r.HostPrefix)
}

// normalize validates r and returns it with CIDR masked. Host bits in the
// CIDR are dropped rather than rejected, matching how net.ParseCIDR-based
// configuration has always treated "10.244.1.0/16".
func (r Range) normalize() (Range, error) {
	if !r.CIDR.IsValid() {
		return Range{}, configErr("cluster subnet %s: invalid CIDR", r)
	}
	if r.CIDR.Addr().Is4In6() {
		// Would silently be a separate "family" from plain IPv4 subnets.
		return Range{}, configErr("cluster subnet %s: IPv4-mapped IPv6 CIDRs are not supported, use the plain IPv4 form", r)
	}
	bits := r.CIDR.Addr().BitLen()
	if r.HostPrefix <= r.CIDR.Bits() {
		return Range{}, configErr("cluster subnet %s: host prefix %d must be longer than the CIDR prefix length %d", r, r.HostPrefix, r.CIDR.Bits())
	}
	if r.HostPrefix > bits {
		return Range{}, configErr("cluster subnet %s: host prefix %d exceeds the %d address bits", r, r.HostPrefix, bits)
	}
	return Range{CIDR: r.CIDR.Masked(), HostPrefix: r.HostPrefix}, nil
}

// subnetRange is the allocation state of one Range. Only held subnets are
// stored (in the owning SubnetAllocator's maps); the range itself keeps a
// next-fit cursor and a counter, so memory and time do not grow with the
// number of subnets the range could hold.
type subnetRange struct {
	Range
	ipv4  bool
	start u128
	// shift is log2 of the node subnet size in addresses.
	shift uint
	// limit is the number of subnet indices Allocate walks: the range's
	// subnet count, saturated at MaxUint64 for ranges of 2^64 subnets or more
	// (those are never exhausted in practice; Mark still accepts any subnet).
	limit uint64
	// next is the next-fit cursor: the index Allocate looks at first. It
	// only moves forward (wrapping), so a released subnet is handed out again
	// only once every other free subnet of the range has been tried.
	next uint64
	// used counts the subnets of this range currently held.
	used uint64
}

func newSubnetRange(r Range) *subnetRange {
	n := r.HostPrefix - r.CIDR.Bits()
	limit := uint64(math.MaxUint64)
	if n < 64 {
		limit = 1 << n
	}
	return &subnetRange{
		Range: r,
		ipv4:  r.CIDR.Addr().Is4(),
		start: addrToU128(r.CIDR.Addr()),
		shift: uint(r.CIDR.Addr().BitLen() - r.HostPrefix),
		limit: limit,
	}
}

// subnet returns subnet number idx: the idx-th block of 2^shift addresses
// from the start of the range.
func (r *subnetRange) subnet(idx uint64) netip.Prefix {
	addr := r.start.add(shl(idx, r.shift)).toAddr(r.ipv4)
	return netip.PrefixFrom(addr, r.HostPrefix)
}

// nextFree advances the cursor to the first subnet not in held and returns
// it. It gives up after one full turn; callers skip full ranges via used so
// that case is rare.
func (r *subnetRange) nextFree(held map[netip.Prefix]string) (netip.Prefix, bool) {
	for range r.limit {
		idx := r.next
		r.next++
		if r.next == r.limit {
			r.next = 0
		}
		p := r.subnet(idx)
		if _, taken := held[p]; !taken {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
