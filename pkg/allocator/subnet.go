package allocator

import (
	"net/netip"
	"strings"
	"sync"
)

// SubnetAllocator hands out node subnets of one address family from an
// ordered list of Ranges. Ranges are tried in order, so the first configured
// cluster subnet fills up before the next is touched; within a range a
// next-fit cursor makes Allocate amortized O(1) and delays reuse of released
// subnets (a deleted node's subnet is not recycled straight away, which
// avoids stale routes and flows pointing at a new node).
//
// Memory is proportional to the number of held subnets, never to the size of
// the ranges: an IPv6 /32 with host prefix 64 (2^32 subnets) costs nothing
// until subnets are handed out.
type SubnetAllocator struct {
	mu       sync.Mutex
	ipv4     bool
	ranges   []*subnetRange
	byOwner  map[string]lease
	byPrefix map[netip.Prefix]string
}

// lease is a held subnet and the index of the range it belongs to.
type lease struct {
	subnet netip.Prefix
	rng    int
}

// NewSubnetAllocator returns an allocator over ranges, which must be
// non-empty, all of the same family and non-overlapping (overlapping ranges
// could hand out the same addresses twice). Each host prefix must be longer
// than its CIDR prefix and at most the address length.
func NewSubnetAllocator(ranges []Range) (*SubnetAllocator, error) {
	if len(ranges) == 0 {
		return nil, configErr("no cluster subnet configured")
	}
	a := &SubnetAllocator{
		byOwner:  make(map[string]lease),
		byPrefix: make(map[netip.Prefix]string),
	}
	for i, r := range ranges {
		nr, err := r.normalize()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			a.ipv4 = nr.CIDR.Addr().Is4()
		} else if nr.CIDR.Addr().Is4() != a.ipv4 {
			return nil, configErr("cluster subnets %s and %s are of different IP families; use one allocator per family", ranges[0], r)
		}
		for _, prev := range a.ranges {
			if prev.CIDR.Overlaps(nr.CIDR) {
				return nil, configErr("cluster subnets %s and %s overlap", prev.Range, nr)
			}
		}
		a.ranges = append(a.ranges, newSubnetRange(nr))
	}
	return a, nil
}

// Allocate returns a free subnet for owner and records owner as its holder.
// It is idempotent: an owner that already holds a subnet gets it back. When
// every range is full the error wraps ErrExhausted.
func (a *SubnetAllocator) Allocate(owner string) (netip.Prefix, error) {
	p, _, err := a.allocate(owner)
	return p, err
}

// allocate is Allocate that also returns how to undo a fresh allocation
// (undo.fresh is false when owner already held a subnet), so NodeSubnets can
// roll back a dual-stack allocation that failed in the other family.
func (a *SubnetAllocator) allocate(owner string) (netip.Prefix, allocUndo, error) {
	if owner == "" {
		return netip.Prefix{}, allocUndo{}, subnetErr(ErrInvalid, owner, netip.Prefix{}, "cannot allocate a subnet for an empty owner")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.byOwner[owner]; ok {
		return l.subnet, allocUndo{}, nil
	}
	for i, r := range a.ranges {
		if r.used >= r.limit {
			continue
		}
		cursor := r.next
		p, ok := r.nextFree(a.byPrefix)
		if !ok {
			continue
		}
		a.hold(owner, p, i)
		return p, allocUndo{fresh: true, a: a, owner: owner, r: r, cursor: cursor}, nil
	}
	return netip.Prefix{}, allocUndo{}, subnetErr(ErrExhausted, owner, netip.Prefix{},
		"no free subnet for %q: all subnets of cluster subnets %s are allocated (%d held)",
		owner, a.rangesString(), len(a.byOwner))
}

// allocUndo reverts one fresh allocation: it releases the subnet and rewinds
// the range's cursor, so a rolled-back allocation leaves no trace. That is
// only correct if nothing else allocated from the same allocator in between,
// which NodeSubnets guarantees with its own lock. A value rather than a
// closure keeps Allocate free of heap allocations.
type allocUndo struct {
	fresh  bool
	a      *SubnetAllocator
	owner  string
	r      *subnetRange
	cursor uint64
}

func (u allocUndo) undo() {
	if !u.fresh {
		return
	}
	u.a.mu.Lock()
	defer u.a.mu.Unlock()
	u.a.drop(u.owner)
	u.r.next = u.cursor
}

// Mark reserves subnet for owner, typically to honour a subnet already
// recorded in a node annotation before any new allocation is made. Marking
// the subnet an owner already holds is a no-op. Errors wrap ErrInvalid
// (empty owner, invalid or unaligned subnet), ErrNotInRange,
// ErrHostPrefixMismatch, ErrConflict or ErrOwnerHasSubnet.
func (a *SubnetAllocator) Mark(owner string, subnet netip.Prefix) error {
	_, err := a.mark(owner, subnet)
	return err
}

// mark is Mark that also reports whether the subnet was newly reserved (as
// opposed to already held by owner), so callers know whether to roll back.
func (a *SubnetAllocator) mark(owner string, subnet netip.Prefix) (bool, error) {
	if err := checkMarkArgs(owner, subnet); err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	i, err := a.rangeOf(owner, subnet)
	if err != nil {
		return false, err
	}
	if holder, ok := a.byPrefix[subnet]; ok {
		if holder == owner {
			return false, nil
		}
		e := subnetErr(ErrConflict, owner, subnet,
			"cannot reserve subnet %s for %q: it is already allocated to %q", subnet, owner, holder)
		e.OtherOwner = holder
		return false, e
	}
	if l, ok := a.byOwner[owner]; ok {
		e := subnetErr(ErrOwnerHasSubnet, owner, subnet,
			"cannot reserve subnet %s for %q: it already holds subnet %s", subnet, owner, l.subnet)
		e.OtherSubnet = l.subnet
		return false, e
	}
	a.hold(owner, subnet, i)
	return true, nil
}

func checkMarkArgs(owner string, subnet netip.Prefix) error {
	switch {
	case owner == "":
		return subnetErr(ErrInvalid, owner, subnet, "cannot reserve subnet %s for an empty owner", subnet)
	case !subnet.IsValid():
		return subnetErr(ErrInvalid, owner, subnet, "cannot reserve an invalid subnet for %q", owner)
	case subnet != subnet.Masked():
		return subnetErr(ErrInvalid, owner, subnet,
			"cannot reserve subnet %s for %q: host bits are set (the network is %s)", subnet, owner, subnet.Masked())
	}
	return nil
}

// rangeOf returns the index of the range subnet belongs to, or the error
// explaining why it belongs to none. Must be called with a.mu held.
func (a *SubnetAllocator) rangeOf(owner string, subnet netip.Prefix) (int, error) {
	for i, r := range a.ranges {
		if !r.CIDR.Overlaps(subnet) {
			continue
		}
		if subnet.Bits() != r.HostPrefix {
			return 0, subnetErr(ErrHostPrefixMismatch, owner, subnet,
				"cannot reserve a subnet for %q: subnet %s has prefix length %d but the cluster subnet %s uses host prefix %d; the host prefix cannot change",
				owner, subnet, subnet.Bits(), r.CIDR, r.HostPrefix)
		}
		// Same length as the host prefix, which is longer than the CIDR's,
		// so overlapping means contained.
		return i, nil
	}
	return 0, subnetErr(ErrNotInRange, owner, subnet,
		"cannot reserve subnet %s for %q: it is not inside any cluster subnet (%s)", subnet, owner, a.rangesString())
}

// Release frees the subnet held by owner, if any. The subnet becomes
// available again once the range's cursor wraps around to it.
func (a *SubnetAllocator) Release(owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drop(owner)
}

// Get returns the subnet held by owner.
func (a *SubnetAllocator) Get(owner string) (netip.Prefix, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.byOwner[owner]
	return l.subnet, ok
}

// Owner returns the holder of subnet. The subnet must match exactly (same
// address and prefix length).
func (a *SubnetAllocator) Owner(subnet netip.Prefix) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	owner, ok := a.byPrefix[subnet]
	return owner, ok
}

// Usage returns the number of held subnets and the total number of subnets
// in all ranges, saturated at math.MaxUint64 for huge IPv6 ranges. Meant for
// metrics and capacity warnings.
func (a *SubnetAllocator) Usage() (allocated, capacity uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.ranges {
		capacity = saturatingAdd(capacity, r.limit)
	}
	return uint64(len(a.byOwner)), capacity
}

// hold records owner as the holder of subnet in range i. Must be called with
// a.mu held, for a free subnet and an owner holding nothing.
func (a *SubnetAllocator) hold(owner string, subnet netip.Prefix, i int) {
	a.byOwner[owner] = lease{subnet: subnet, rng: i}
	a.byPrefix[subnet] = owner
	a.ranges[i].used++
}

// drop forgets owner's subnet. Must be called with a.mu held.
func (a *SubnetAllocator) drop(owner string) {
	l, ok := a.byOwner[owner]
	if !ok {
		return
	}
	delete(a.byOwner, owner)
	delete(a.byPrefix, l.subnet)
	a.ranges[l.rng].used--
}

func (a *SubnetAllocator) rangesString() string {
	s := make([]string, len(a.ranges))
	for i, r := range a.ranges {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
