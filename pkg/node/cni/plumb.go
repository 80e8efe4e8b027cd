package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// Namespaces opens netlink handles bound to network namespaces, so the
// caller's thread never changes namespace (netlink.NewHandleAt sockets live
// in the target namespace).
type Namespaces struct {
	// Host is the namespace the host ends of veths (and br-int's
	// ovs-vswitchd) live in; netns.None() means the caller's own.
	Host netns.NsHandle
}

func (n Namespaces) hostHandle() (*netlink.Handle, error) {
	if n.Host == netns.None() {
		return netlink.NewHandle()
	}
	return netlink.NewHandleAt(n.Host)
}

// VethSpec is what SetupVeth builds.
type VethSpec struct {
	HostName  string // host end, from HostVethName
	PodNetns  string // path of the pod's network namespace
	IfName    string // container end, e.g. eth0
	Addresses kube.PodAddresses
	MTU       int
	TxCsumOff bool // turn TX checksum offload off on the container end (netdev datapath)
}

// SetupVeth creates the veth pair with its container end directly inside
// the pod's namespace (so it never clashes with a host interface of the
// same name), then configures the container end: MAC, addresses, MTU,
// up, default and extra routes, and lo up. It returns the host end,
// which is left down until it is in br-int. A stale host end of the same
// name (a retried ADD) is replaced.
func (n Namespaces) SetupVeth(s VethSpec) (host Link, err error) {
	hostH, err := n.hostHandle()
	if err != nil {
		return Link{}, fmt.Errorf("netlink handle in host netns: %w", err)
	}
	defer hostH.Close()
	podNS, err := netns.GetFromPath(s.PodNetns)
	if err != nil {
		return Link{}, fmt.Errorf("open pod netns %s: %w", s.PodNetns, err)
	}
	defer podNS.Close()
	podH, err := netlink.NewHandleAt(podNS)
	if err != nil {
		return Link{}, fmt.Errorf("netlink handle in pod netns %s: %w", s.PodNetns, err)
	}
	defer podH.Close()

	if err := deleteVeth(hostH, s.HostName); err != nil {
		return Link{}, err
	}
	if l, err := podH.LinkByName(s.IfName); err == nil {
		return Link{}, fmt.Errorf("interface %s already exists in pod netns %s (type %s)", s.IfName, s.PodNetns, l.Type())
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: s.HostName, MTU: s.MTU},
		PeerName:         s.IfName,
		PeerHardwareAddr: s.Addresses.MAC,
		PeerNamespace:    netlink.NsFd(podNS),
		PeerMTU:          uint32(s.MTU),
	}
	if err := hostH.LinkAdd(veth); err != nil {
		return Link{}, fmt.Errorf("create veth %s <-> %s in %s: %w", s.HostName, s.IfName, s.PodNetns, err)
	}
	// From here on a failure must not leave the pair behind: deleting the
	// host end deletes both.
	defer func() {
		if err != nil {
			_ = deleteVeth(hostH, s.HostName)
		}
	}()
	if err := configurePod(podH, podNS, s); err != nil {
		return Link{}, err
	}
	hl, err := hostH.LinkByName(s.HostName)
	if err != nil {
		return Link{}, fmt.Errorf("look up host veth %s: %w", s.HostName, err)
	}
	return Link{Name: s.HostName, MAC: hl.Attrs().HardwareAddr}, nil
}

func configurePod(podH *netlink.Handle, podNS netns.NsHandle, s VethSpec) error {
	where := fmt.Sprintf("%s in %s", s.IfName, s.PodNetns)
	if lo, err := podH.LinkByName("lo"); err == nil {
		if err := podH.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up in %s: %w", s.PodNetns, err)
		}
	}
	link, err := podH.LinkByName(s.IfName)
	if err != nil {
		return fmt.Errorf("look up %s: %w", where, err)
	}
	if !slices.Equal(link.Attrs().HardwareAddr, s.Addresses.MAC) {
		if err := podH.LinkSetHardwareAddr(link, s.Addresses.MAC); err != nil {
			return fmt.Errorf("set MAC %s on %s: %w", s.Addresses.MAC, where, err)
		}
	}
	for _, ip := range s.Addresses.IPs {
		a := &netlink.Addr{IPNet: ipNet(ip)}
		if ip.Addr().Is6() {
			// The address is assigned by OVN and unique: duplicate
			// address detection would only delay the pod by seconds.
			a.Flags = unix.IFA_F_NODAD
		}
		if err := podH.AddrAdd(link, a); err != nil {
			return fmt.Errorf("add address %s to %s: %w", ip, where, err)
		}
	}
	if err := podH.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", where, err)
	}
	for _, rt := range PodRoutes(s.Addresses) {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(rt.Dest), Gw: net.IP(rt.NextHop.AsSlice())}
		if err := podH.RouteReplace(r); err != nil {
			return fmt.Errorf("add route %s via %s on %s: %w", rt.Dest, rt.NextHop, where, err)
		}
	}
	if s.TxCsumOff {
		if err := SetTxChecksum(podNS, s.IfName, false); err != nil {
			return fmt.Errorf("turn TX checksum offload off on %s: %w", where, err)
		}
	}
	return nil
}

// SetHostUp brings the host end up and reports whether it was down. ADD
// calls it before attaching the link to br-int and checks again after
// ovn-installed: bringing it up only after the attach raced with
// ovs-vswitchd's read-modify-write of the link flags and left about one pod
// in seven without network.
func (n Namespaces) SetHostUp(name string) (wasDown bool, err error) {
	h, err := n.hostHandle()
	if err != nil {
		return false, fmt.Errorf("netlink handle in host netns: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return false, fmt.Errorf("look up host veth %s: %w", name, err)
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return false, nil
	}
	if err := h.LinkSetUp(l); err != nil {
		return true, fmt.Errorf("set host veth %s up: %w", name, err)
	}
	return true, nil
}

// DeleteVeth removes the host end (and with it the container end). A
// missing link is not an error: CNI DEL is idempotent.
func (n Namespaces) DeleteVeth(name string) error {
	h, err := n.hostHandle()
	if err != nil {
		return fmt.Errorf("netlink handle in host netns: %w", err)
	}
	defer h.Close()
	return deleteVeth(h, name)
}

// deleteVeth deletes link name if it is a veth. Any other kind of link of
// that name is refused: a short container id must never make DEL delete a
// host interface.
func deleteVeth(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("look up host veth %s: %w", name, err)
	}
	if l.Type() != "veth" {
		return fmt.Errorf("host interface %s is a %s, not a pod veth; refusing to touch it", name, l.Type())
	}
	if err := h.LinkDel(l); err != nil {
		return fmt.Errorf("delete host veth %s: %w", name, err)
	}
	return nil
}

// CheckPod verifies that the container interface has the annotated MAC,
// every annotated address and every route ADD installs.
func CheckPod(podNetns, ifName string, addrs kube.PodAddresses) error {
	podNS, err := netns.GetFromPath(podNetns)
	if err != nil {
		return fmt.Errorf("open pod netns %s: %w", podNetns, err)
	}
	defer podNS.Close()
	h, err := netlink.NewHandleAt(podNS)
	if err != nil {
		return fmt.Errorf("netlink handle in pod netns %s: %w", podNetns, err)
	}
	defer h.Close()
	link, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("interface %s not found in %s: %w", ifName, podNetns, err)
	}
	if !slices.Equal(link.Attrs().HardwareAddr, addrs.MAC) {
		return fmt.Errorf("interface %s in %s has MAC %s, annotation says %s", ifName, podNetns, link.Attrs().HardwareAddr, addrs.MAC)
	}
	have, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses of %s in %s: %w", ifName, podNetns, err)
	}
	for _, want := range addrs.IPs {
		found := slices.ContainsFunc(have, func(a netlink.Addr) bool {
			ip, ok := netip.AddrFromSlice(a.IP)
			ones, _ := a.Mask.Size()
			return ok && ip.Unmap() == want.Addr() && ones == want.Bits()
		})
		if !found {
			return fmt.Errorf("interface %s in %s lacks address %s", ifName, podNetns, want)
		}
	}
	routes, err := h.RouteList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list routes of %s in %s: %w", ifName, podNetns, err)
	}
	for _, want := range PodRoutes(addrs) {
		if !slices.ContainsFunc(routes, func(r netlink.Route) bool { return routeMatches(r, want) }) {
			return fmt.Errorf("interface %s in %s lacks route %s via %s", ifName, podNetns, want.Dest, want.NextHop)
		}
	}
	return nil
}

// routeMatches reports whether r is want. The kernel reports a default
// route with no destination.
func routeMatches(r netlink.Route, want kube.Route) bool {
	gw, ok := netip.AddrFromSlice(r.Gw)
	if !ok || gw.Unmap() != want.NextHop {
		return false
	}
	if r.Dst == nil {
		return want.Dest.Bits() == 0
	}
	dst, ok := netip.AddrFromSlice(r.Dst.IP)
	ones, _ := r.Dst.Mask.Size()
	return ok && dst.Unmap() == want.Dest.Addr() && ones == want.Dest.Bits()
}
