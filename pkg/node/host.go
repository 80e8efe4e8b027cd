package node

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
)

// geneveOverhead is what Geneve encapsulation adds to a pod's packet
// (outer IP, UDP, Geneve header with OVN's options), rounded up as
// OVN-Kubernetes does, so pods never send frames the underlay drops.
const geneveOverhead = 100

// nodeInternalIP returns the Node's first InternalIP, the default tunnel
// endpoint: it is the address the rest of the cluster already reaches the
// node on.
func nodeInternalIP(n *corev1.Node) (netip.Addr, error) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("node %s has a malformed InternalIP %q", n.Name, a.Address)
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("node %s has no InternalIP in its status; set --encap-ip", n.Name)
}

// encapMTU returns the MTU of the interface holding ip, in this process's
// network namespace, minus the Geneve overhead.
func encapMTU(ns netns.NsHandle, ip netip.Addr) (int, error) {
	nl, err := netlinkHandle(ns)
	if err != nil {
		return 0, fmt.Errorf("netlink: %w", err)
	}
	defer nl.Close()
	addrs, err := nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
			link, err := nl.LinkByIndex(a.LinkIndex)
			if err != nil {
				return 0, fmt.Errorf("look up the interface holding encap IP %s: %w", ip, err)
			}
			mtu := link.Attrs().MTU - geneveOverhead
			if mtu < 1280 {
				return 0, fmt.Errorf("interface %s holding encap IP %s has MTU %d, too small for Geneve; set --mtu", link.Attrs().Name, ip, link.Attrs().MTU)
			}
			return mtu, nil
		}
	}
	return 0, errors.New("no interface in this network namespace holds encap IP " + ip.String() + "; set --encap-ip to a local address or --mtu explicitly")
}

// netlinkHandle returns a handle in ns (netns.None(): this process's own).
func netlinkHandle(ns netns.NsHandle) (*netlink.Handle, error) {
	if ns == netns.None() {
		return netlink.NewHandle()
	}
	return netlink.NewHandleAt(ns)
}
