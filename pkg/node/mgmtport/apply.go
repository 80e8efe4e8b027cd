package mgmtport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/node/ovs"
)

// linkWait bounds the wait for ovs-vswitchd to create the internal device
// after the port is in the database.
const linkWait = 10 * time.Second

// Ensure makes the management port match spec: the OVS port on bridge,
// then the Linux device's MAC, MTU, state, addresses and routes. Only what
// differs is changed, so a restart leaves a correct port untouched and
// host-to-pod traffic uninterrupted. nl is a netlink handle in the
// namespace where ovs-vswitchd creates its internal devices (the host's).
func Ensure(ctx context.Context, oc *ovs.Client, nl *netlink.Handle, bridge string, spec Spec) error {
	if err := oc.EnsurePort(ctx, bridge, ovs.PortSpec{
		Name:        InterfaceName,
		Type:        "internal",
		ExternalIDs: map[string]string{ovs.KeyIfaceID: spec.IfaceID},
		MAC:         spec.MAC.String(),
		MTURequest:  spec.MTU,
	}); err != nil {
		return fmt.Errorf("management port: %w", err)
	}
	link, err := waitLink(ctx, nl, InterfaceName)
	if err != nil {
		return err
	}
	if !slices.Equal(link.Attrs().HardwareAddr, spec.MAC) {
		if err := nl.LinkSetHardwareAddr(link, spec.MAC); err != nil {
			return fmt.Errorf("set %s MAC %s: %w", InterfaceName, spec.MAC, err)
		}
	}
	if spec.MTU > 0 && link.Attrs().MTU != spec.MTU {
		if err := nl.LinkSetMTU(link, spec.MTU); err != nil {
			return fmt.Errorf("set %s MTU %d: %w", InterfaceName, spec.MTU, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := nl.LinkSetUp(link); err != nil {
			return fmt.Errorf("set %s up: %w", InterfaceName, err)
		}
	}
	if err := syncAddresses(nl, link, spec.Addresses); err != nil {
		return err
	}
	return syncRoutes(nl, link, spec.Routes)
}

func waitLink(ctx context.Context, nl *netlink.Handle, name string) (netlink.Link, error) {
	deadline := time.Now().Add(linkWait)
	for {
		link, err := nl.LinkByName(name)
		if err == nil {
			return link, nil
		}
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			return nil, fmt.Errorf("look up %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("ovs-vswitchd did not create device %s within %s (is ovs-vswitchd running in this network namespace?)", name, linkWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// syncAddresses adds the missing addresses and removes other global ones.
// IPv6 link-local addresses belong to the kernel and are kept.
func syncAddresses(nl *netlink.Handle, link netlink.Link, want []netip.Prefix) error {
	have, err := nl.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list %s addresses: %w", InterfaceName, err)
	}
	keep := map[netip.Prefix]bool{}
	for _, a := range have {
		p, ok := prefixOf(a.IPNet)
		if !ok || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if slices.Contains(want, p) {
			keep[p] = true
			continue
		}
		if err := nl.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", p, InterfaceName, err)
		}
		klog.InfoS("Removed stale management port address", "address", p)
	}
	for _, p := range want {
		if keep[p] {
			continue
		}
		if err := nl.AddrAdd(link, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
			return fmt.Errorf("add address %s to %s: %w", p, InterfaceName, err)
		}
	}
	return nil
}

// syncRoutes replaces routes that differ and removes gatewayed routes on
// the port that are no longer wanted (a shrunk service CIDR, say). The
// kernel's connected routes have no gateway and are kept.
func syncRoutes(nl *netlink.Handle, link netlink.Link, want []Route) error {
	have, err := nl.RouteList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list %s routes: %w", InterfaceName, err)
	}
	present := map[Route]bool{}
	for _, r := range have {
		if r.Gw == nil || r.Dst == nil {
			continue
		}
		dst, ok1 := prefixOf(r.Dst)
		gw, ok2 := netip.AddrFromSlice(r.Gw)
		if !ok1 || !ok2 {
			continue
		}
		rt := Route{Dest: dst, Via: gw.Unmap()}
		if slices.Contains(want, rt) {
			present[rt] = true
			continue
		}
		if err := nl.RouteDel(&r); err != nil {
			return fmt.Errorf("remove stale route %s via %s on %s: %w", rt.Dest, rt.Via, InterfaceName, err)
		}
		klog.InfoS("Removed stale management port route", "dest", rt.Dest, "via", rt.Via)
	}
	for _, rt := range want {
		if present[rt] {
			continue
		}
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(rt.Dest), Gw: net.IP(rt.Via.AsSlice())}
		if err := nl.RouteReplace(r); err != nil {
			return fmt.Errorf("add route %s via %s on %s: %w", rt.Dest, rt.Via, InterfaceName, err)
		}
	}
	return nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}
