// Package mgmtport gives the host a leg on its node's logical switch: the
// OVS internal interface ovn-k8s-mp0 bound to the logical port
// k8s-<node>, at the node subnet's .2, with routes to the pod network
// through the cluster router at .1. The host reaches pods (and pods reach
// host-network services) through it; services are reached through br-ex's
// masquerade route instead, as upstream's shared gateway does.
package mgmtport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/ovnkube/ovnkube/pkg/topology"
)

// InterfaceName is the host side of the management port, as upstream.
const InterfaceName = "ovn-k8s-mp0"

// Route is one route through the management port.
type Route struct {
	Dest netip.Prefix
	Via  netip.Addr
}

// Spec is everything the management port should look like.
type Spec struct {
	IfaceID   string           // external_ids:iface-id, the logical port k8s-<node>
	MAC       net.HardwareAddr // derived from the (IPv4) management IP, as the master does
	Addresses []netip.Prefix   // .2/<node subnet prefix>, one per family
	Routes    []Route          // cluster subnets via .1
	MTU       int
}

// Plan computes the management port of node from its subnets (the
// k8s-ovn.org/node-subnets annotation) and the cluster's pod networks. Only families the node has a subnet of get routes.
func Plan(node string, nodeSubnets, clusterSubnets []netip.Prefix, mtu int) (Spec, error) {
	if len(nodeSubnets) == 0 {
		return Spec{}, errors.New("node has no subnet")
	}
	s := Spec{IfaceID: topology.ManagementPort(node), MTU: mtu}
	var macFrom netip.Addr
	for _, sub := range nodeSubnets {
		mgmt, err := topology.ManagementIP(sub)
		if err != nil {
			return Spec{}, fmt.Errorf("node subnet %s: %w", sub, err)
		}
		gw, err := topology.GatewayIP(sub)
		if err != nil {
			return Spec{}, fmt.Errorf("node subnet %s: %w", sub, err)
		}
		if !macFrom.IsValid() || (mgmt.Is4() && !macFrom.Is4()) {
			macFrom = mgmt
		}
		s.Addresses = append(s.Addresses, netip.PrefixFrom(mgmt, sub.Bits()))
		for _, dst := range clusterSubnets {
			if dst.Addr().Is4() == gw.Is4() {
				s.Routes = append(s.Routes, Route{Dest: dst.Masked(), Via: gw})
			}
		}
	}
	s.MAC = topology.MACFromIP(macFrom)
	return s, nil
}
