// Package pod gives pods their addresses and logical switch ports: an IPAM
// controller writes k8s.ovn.org/pod-networks, and the Pod owner type turns
// that annotation into the port <namespace>_<pod> on the node's switch.
package pod

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/ovnkube/ovnkube/pkg/allocator"
)

// ipam holds one PodIPs allocator per node, keyed by the node's subnets as
// annotated. A pod's addresses are owned by its key "namespace/name".
type ipam struct {
	mu    sync.Mutex
	nodes map[string]*allocator.PodIPs
	podAt map[string]string // pod key -> node whose allocator holds it
}

func newIPAM() *ipam {
	return &ipam{nodes: map[string]*allocator.PodIPs{}, podAt: map[string]string{}}
}

// node returns the allocator for node, creating it (or replacing it when the
// node's subnets changed) from subnets.
func (m *ipam) node(node string, subnets []netip.Prefix) (*allocator.PodIPs, error) {
	if a, ok := m.nodes[node]; ok && slices.Equal(a.Subnets(), subnets) {
		return a, nil
	}
	a, err := allocator.NewPodIPs(subnets)
	if err != nil {
		return nil, fmt.Errorf("node %s subnets %v: %w", node, subnets, err)
	}
	if old, ok := m.nodes[node]; ok {
		// The node was given new subnets: its pods' addresses are void.
		for pod, n := range m.podAt {
			if n == node {
				old.Release(pod)
				delete(m.podAt, pod)
			}
		}
	}
	m.nodes[node] = a
	return a, nil
}

// mark reserves the addresses a pod already has on node.
func (m *ipam) mark(pod, node string, subnets []netip.Prefix, ips []netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.node(node, subnets)
	if err != nil {
		return err
	}
	if prev, ok := m.podAt[pod]; ok && prev != node {
		m.nodes[prev].Release(pod)
	}
	if held, ok := a.Get(pod); ok && !slices.Equal(held, ips) {
		a.Release(pod)
	}
	if err := a.Mark(pod, ips); err != nil {
		return err
	}
	m.podAt[pod] = node
	return nil
}

// allocate returns pod's addresses on node, allocating them if needed.
func (m *ipam) allocate(pod, node string, subnets []netip.Prefix) ([]netip.Prefix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.node(node, subnets)
	if err != nil {
		return nil, err
	}
	if prev, ok := m.podAt[pod]; ok && prev != node {
		m.nodes[prev].Release(pod)
	}
	ips, err := a.Allocate(pod)
	if err != nil {
		return nil, err
	}
	m.podAt[pod] = node
	return ips, nil
}

// release frees pod's addresses.
func (m *ipam) release(pod string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if node, ok := m.podAt[pod]; ok {
		m.nodes[node].Release(pod)
		delete(m.podAt, pod)
	}
}

// forgetNode drops a deleted node's allocator.
func (m *ipam) forgetNode(node string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, node)
	for pod, n := range m.podAt {
		if n == node {
			delete(m.podAt, pod)
		}
	}
}

// get returns the addresses pod holds.
func (m *ipam) get(pod string) ([]netip.Prefix, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	node, ok := m.podAt[pod]
	if !ok {
		return nil, false
	}
	return m.nodes[node].Get(pod)
}

// holds reports whether pod holds exactly ips.
func (m *ipam) holds(pod string, ips []netip.Prefix) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	node, ok := m.podAt[pod]
	if !ok {
		return false
	}
	held, ok := m.nodes[node].Get(pod)
	return ok && slices.Equal(held, ips)
}
