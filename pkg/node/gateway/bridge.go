package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/node/ovs"
)

// Uplink is the node's way out once br-ex owns it.
type Uplink struct {
	Bridge   string // br-ex
	Port     string // the NIC it owns (eth0)
	MAC      net.HardwareAddr
	Addrs    []netip.Prefix // the node's addresses, now on the bridge
	NextHops map[Family][]netip.Addr
}

// bridgeAppearTimeout bounds the wait for ovs-vswitchd to create the
// bridge's device after the bridge row is committed.
const bridgeAppearTimeout = 30 * time.Second

// TakeOver makes br-ex own the gateway interface, the way OVN-Kubernetes
// nodes look: the bridge's local port carries the uplink's MAC, addresses
// and routes, and the uplink becomes a port of the bridge. It is idempotent:
// on a restart the default routes already leave through br-ex, whose
// uplink port is found in OVS, and nothing is changed. Addresses inside
// reserved (the masquerade subnets, which EnsureMasquerade puts on br-ex)
// are not the node's and are left out of Uplink.Addrs.
func TakeOver(ctx context.Context, oc *ovs.Client, nl *netlink.Handle, gw Gateway, datapathType string, reserved []netip.Prefix) (Uplink, error) {
	bridge := ovs.ExternalBridge
	up := Uplink{Bridge: bridge, Port: gw.Interface, NextHops: gw.NextHops}
	if gw.Interface == bridge {
		port, err := oc.BridgeUplink(ctx, bridge)
		if err != nil {
			return up, err
		}
		if port == "" {
			return up, fmt.Errorf("the default routes leave through %s, which owns no uplink port: add the NIC to it or set --gateway-interface", bridge)
		}
		up.Port = port
	}
	nic, err := nl.LinkByName(up.Port)
	if err != nil {
		return up, fmt.Errorf("gateway interface %s: %w", up.Port, err)
	}
	up.MAC = nic.Attrs().HardwareAddr
	if err := oc.EnsureExternalBridge(ctx, bridge, datapathType, up.MAC.String(), up.Port); err != nil {
		return up, fmt.Errorf("%s owning %s: %w", bridge, up.Port, err)
	}
	br, err := waitLink(ctx, nl, bridge, up.MAC)
	if err != nil {
		return up, err
	}
	if err := nl.LinkSetUp(br); err != nil {
		return up, fmt.Errorf("set %s up: %w", bridge, err)
	}
	if up.Port == gw.Interface { // first start; on a restart the routes already leave via br-ex
		if err := move(nl, nic, br); err != nil {
			return up, err
		}
	}
	if up.Addrs, err = globalAddrs(nl, br); err != nil {
		return up, err
	}
	up.Addrs = slices.DeleteFunc(up.Addrs, func(a netip.Prefix) bool {
		return slices.ContainsFunc(reserved, func(r netip.Prefix) bool { return r.Contains(a.Addr()) })
	})
	klog.InfoS("External bridge owns the uplink", "bridge", bridge, "uplink", up.Port, "mac", up.MAC.String(), "addresses", fmt.Sprint(up.Addrs))
	return up, nil
}

// move carries the uplink's global addresses and its static routes (not
// the kernel's connected ones, which follow the addresses) over to the
// bridge. Routes go first: IPv4 refuses a second default route with the
// same metric on another device.
func move(nl *netlink.Handle, from, to netlink.Link) error {
	routes, err := nl.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{LinkIndex: from.Attrs().Index, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", from.Attrs().Name, err)
	}
	routes = slices.DeleteFunc(routes, func(r netlink.Route) bool {
		return r.Protocol == unix.RTPROT_KERNEL || (r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast()) ||
			(r.Dst != nil && r.Dst.IP.IsMulticast()) || r.Type != unix.RTN_UNICAST
	})
	addrs, err := nl.AddrList(from, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", from.Attrs().Name, err)
	}
	for _, r := range routes {
		if err := nl.RouteDel(&r); err != nil {
			return fmt.Errorf("remove route %s from %s: %w", r, from.Attrs().Name, err)
		}
	}
	for _, a := range addrs {
		if a.Scope != unix.RT_SCOPE_UNIVERSE {
			continue // link-local addresses belong to each device
		}
		moved := &netlink.Addr{IPNet: a.IPNet, Label: "", Flags: a.Flags}
		if a.IP.To4() == nil {
			moved.Flags |= unix.IFA_F_NODAD // the address was in use a moment ago
		}
		if err := nl.AddrReplace(to, moved); err != nil {
			return fmt.Errorf("add %s to %s: %w", a.IPNet, to.Attrs().Name, err)
		}
		if err := nl.AddrDel(from, &a); err != nil {
			return fmt.Errorf("remove %s from %s: %w", a.IPNet, from.Attrs().Name, err)
		}
		klog.InfoS("Moved address", "address", a.IPNet.String(), "from", from.Attrs().Name, "to", to.Attrs().Name)
	}
	for _, r := range routes {
		r.LinkIndex = to.Attrs().Index
		r.ILinkIndex = 0
		for _, p := range r.MultiPath {
			if p.LinkIndex == from.Attrs().Index {
				p.LinkIndex = to.Attrs().Index
			}
		}
		if err := nl.RouteReplace(&r); err != nil {
			return fmt.Errorf("add route %s to %s: %w", r, to.Attrs().Name, err)
		}
		klog.InfoS("Moved route", "route", r.String(), "to", to.Attrs().Name)
	}
	return nil
}

// waitLink waits for ovs-vswitchd to create the bridge's device and give
// it mac. The order matters: ovs-vswitchd sets a tap device's MAC by
// taking it down and up again, which flushes the IPv4 routes and IPv6
// addresses on it, so nothing may be moved onto the bridge before.
func waitLink(ctx context.Context, nl *netlink.Handle, name string, mac net.HardwareAddr) (netlink.Link, error) {
	deadline := time.Now().Add(bridgeAppearTimeout)
	for {
		l, err := nl.LinkByName(name)
		if err == nil && l.Attrs().HardwareAddr.String() == mac.String() {
			return l, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("its MAC is %s", l.Attrs().HardwareAddr)
			}
			return nil, fmt.Errorf("ovs-vswitchd did not create device %s with MAC %s within %s: %w", name, mac, bridgeAppearTimeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// globalAddrs lists a link's global addresses.
func globalAddrs(nl *netlink.Handle, l netlink.Link) ([]netip.Prefix, error) {
	addrs, err := nl.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if a.Scope != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}
