package allocator

import (
	"net/netip"
	"sync"
)

// NodeSubnets gives each node one subnet per configured IP family (one for
// single-stack clusters, an IPv4 and an IPv6 one for dual-stack). Operations
// are all-or-nothing across families, so a node never ends up with only half
// of its dual-stack subnets because one family ran out.
type NodeSubnets struct {
	// mu serialises multi-family operations so that their intermediate
	// states are never visible and rollbacks cannot race other allocations.
	mu sync.Mutex
	v4 *SubnetAllocator
	v6 *SubnetAllocator
}

// NewNodeSubnets splits ranges by family, keeping their relative order, and
// builds one SubnetAllocator per family present.
func NewNodeSubnets(ranges []Range) (*NodeSubnets, error) {
	if len(ranges) == 0 {
		return nil, configErr("no cluster subnet configured")
	}
	var v4, v6 []Range
	for _, r := range ranges {
		if r.CIDR.Addr().Is4() {
			v4 = append(v4, r)
		} else {
			v6 = append(v6, r)
		}
	}
	n := &NodeSubnets{}
	var err error
	if len(v4) > 0 {
		if n.v4, err = NewSubnetAllocator(v4); err != nil {
			return nil, err
		}
	}
	if len(v6) > 0 {
		if n.v6, err = NewSubnetAllocator(v6); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// allocators returns the configured allocators, IPv4 first.
func (n *NodeSubnets) allocators() []*SubnetAllocator {
	var as []*SubnetAllocator
	if n.v4 != nil {
		as = append(as, n.v4)
	}
	if n.v6 != nil {
		as = append(as, n.v6)
	}
	return as
}

// Allocate returns node's subnets, one per configured family, IPv4 first,
// allocating those it does not hold yet (a node marked with only an IPv4
// subnet after a single- to dual-stack conversion gets a new IPv6 one). If
// any family fails, the subnets allocated by this call are released and the
// allocators are left exactly as before.
func (n *NodeSubnets) Allocate(node string) ([]netip.Prefix, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var (
		out   []netip.Prefix
		undos []allocUndo
	)
	for _, a := range n.allocators() {
		p, undo, err := a.allocate(node)
		if err != nil {
			for i := len(undos) - 1; i >= 0; i-- {
				undos[i].undo()
			}
			return nil, err
		}
		undos = append(undos, undo)
		out = append(out, p)
	}
	return out, nil
}

// Mark reserves node's existing subnets (at most one per family; a family
// may be missing, e.g. right after a conversion to dual-stack). A subnet of a
// family that is not configured fails with ErrNotInRange. If any subnet
// fails, the ones newly reserved by this call are released.
func (n *NodeSubnets) Mark(node string, subnets []netip.Prefix) error {
	var v4, v6 netip.Prefix
	for _, s := range subnets {
		if err := checkMarkArgs(node, s); err != nil {
			return err
		}
		slot, a, family := &v6, n.v6, "IPv6"
		if s.Addr().Is4() {
			slot, a, family = &v4, n.v4, "IPv4"
		}
		if a == nil {
			return subnetErr(ErrNotInRange, node, s,
				"cannot reserve subnet %s for %q: no %s cluster subnet is configured", s, node, family)
		}
		if slot.IsValid() {
			return subnetErr(ErrInvalid, node, s,
				"cannot reserve subnets for %q: more than one %s subnet given (%s and %s)", node, family, *slot, s)
		}
		*slot = s
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	var fresh []*SubnetAllocator
	for _, m := range []struct {
		a *SubnetAllocator
		s netip.Prefix
	}{{n.v4, v4}, {n.v6, v6}} {
		if !m.s.IsValid() {
			continue
		}
		isNew, err := m.a.mark(node, m.s)
		if err != nil {
			for _, a := range fresh {
				a.Release(node)
			}
			return err
		}
		if isNew {
			fresh = append(fresh, m.a)
		}
	}
	return nil
}

// Release frees every subnet held by node.
func (n *NodeSubnets) Release(node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.allocators() {
		a.Release(node)
	}
}

// Get returns the subnets held by node, IPv4 first; ok is true if it holds
// at least one (it may hold fewer than the configured families if it was
// marked with a partial set).
func (n *NodeSubnets) Get(node string) (subnets []netip.Prefix, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.allocators() {
		if p, held := a.Get(node); held {
			subnets = append(subnets, p)
		}
	}
	return subnets, len(subnets) > 0
}

// Usage returns the held and total subnet counts of one family (see
// SubnetAllocator.Usage); both are zero if the family is not configured.
func (n *NodeSubnets) Usage(ipv6 bool) (allocated, capacity uint64) {
	a := n.v4
	if ipv6 {
		a = n.v6
	}
	if a == nil {
		return 0, 0
	}
	return a.Usage()
}

// Families reports which IP families have cluster subnets configured.
func (n *NodeSubnets) Families() (v4, v6 bool) {
	return n.v4 != nil, n.v6 != nil
}
