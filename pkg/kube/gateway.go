package kube

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Node annotations the node agent publishes about its gateway.
const (
	// L3GatewayConfigAnnotation describes the node's external bridge for
	// the master's gateway router: mode, the localnet interface id, MAC,
	// addresses and next hops.
	L3GatewayConfigAnnotation = "k8s.ovn.org/l3-gateway-config"
	// NodePrimaryIfAddrAnnotation is the node's primary address per family
	// ({"ipv4":"172.31.0.1/24","ipv6":"fd31::1/64"}).
	NodePrimaryIfAddrAnnotation = "k8s.ovn.org/node-primary-ifaddr"
)

// L3GatewayConfig is one network's entry of k8s.ovn.org/l3-gateway-config,
// with OVN-Kubernetes' field names (the singular ip-address and next-hop
// are the first of their lists, for older readers).
type L3GatewayConfig struct {
	Mode           string   `json:"mode"`
	BridgeID       string   `json:"bridge-id,omitempty"`
	InterfaceID    string   `json:"interface-id"`
	MACAddress     string   `json:"mac-address"`
	IPAddresses    []string `json:"ip-addresses"`
	IPAddress      string   `json:"ip-address"`
	NextHops       []string `json:"next-hops"`
	NextHop        string   `json:"next-hop"`
	NodePortEnable string   `json:"node-port-enable"`
	VLANID         string   `json:"vlan-id"`
}

// GatewayConfig is what the agent knows of its gateway, typed.
type GatewayConfig struct {
	BridgeID    string
	InterfaceID string
	MAC         net.HardwareAddr
	IPs         []netip.Prefix
	NextHops    []netip.Addr
	NodePort    bool
	VLANID      int
}

// FormatL3GatewayConfig renders the annotation value for the default
// network in shared gateway mode.
func FormatL3GatewayConfig(g GatewayConfig) string {
	c := L3GatewayConfig{
		Mode: "shared", BridgeID: g.BridgeID, InterfaceID: g.InterfaceID, MACAddress: g.MAC.String(),
		NodePortEnable: strconv.FormatBool(g.NodePort), VLANID: strconv.Itoa(g.VLANID),
		IPAddresses: []string{}, NextHops: []string{},
	}
	for _, ip := range g.IPs {
		c.IPAddresses = append(c.IPAddresses, ip.String())
	}
	for _, h := range g.NextHops {
		c.NextHops = append(c.NextHops, h.String())
	}
	if len(c.IPAddresses) > 0 {
		c.IPAddress = c.IPAddresses[0]
	}
	if len(c.NextHops) > 0 {
		c.NextHop = c.NextHops[0]
	}
	b, _ := json.Marshal(map[string]L3GatewayConfig{DefaultNetwork: c})
	return string(b)
}

// ParseL3GatewayConfig reads the default network's entry; present is false
// when the annotation is absent. Every field the master builds rows from is
// checked.
func ParseL3GatewayConfig(ann map[string]string) (g GatewayConfig, present bool, err error) {
	v, ok := ann[L3GatewayConfigAnnotation]
	if !ok {
		return g, false, nil
	}
	var m map[string]L3GatewayConfig
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return g, true, fmt.Errorf("%s is not valid JSON: %w", L3GatewayConfigAnnotation, err)
	}
	c, ok := m[DefaultNetwork]
	if !ok {
		return g, true, fmt.Errorf("%s has no %q network", L3GatewayConfigAnnotation, DefaultNetwork)
	}
	if c.Mode != "shared" {
		return g, true, fmt.Errorf("%s mode %q: only shared is supported", L3GatewayConfigAnnotation, c.Mode)
	}
	g.BridgeID, g.InterfaceID = c.BridgeID, c.InterfaceID
	if g.MAC, err = net.ParseMAC(c.MACAddress); err != nil {
		return g, true, fmt.Errorf("%s mac-address %q: %w", L3GatewayConfigAnnotation, c.MACAddress, err)
	}
	for _, s := range c.IPAddresses {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return g, true, fmt.Errorf("%s ip-addresses %q: %w", L3GatewayConfigAnnotation, s, err)
		}
		g.IPs = append(g.IPs, p)
	}
	for _, s := range c.NextHops {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return g, true, fmt.Errorf("%s next-hops %q: %w", L3GatewayConfigAnnotation, s, err)
		}
		g.NextHops = append(g.NextHops, a)
	}
	if len(g.IPs) == 0 || c.InterfaceID == "" {
		return g, true, fmt.Errorf("%s lacks ip-addresses or interface-id", L3GatewayConfigAnnotation)
	}
	g.NodePort = c.NodePortEnable == "true"
	if c.VLANID != "" {
		if g.VLANID, err = strconv.Atoi(c.VLANID); err != nil {
			return g, true, fmt.Errorf("%s vlan-id %q: %w", L3GatewayConfigAnnotation, c.VLANID, err)
		}
	}
	return g, true, nil
}

// FormatPrimaryIfAddr renders k8s.ovn.org/node-primary-ifaddr: the first
// address of each family.
func FormatPrimaryIfAddr(ips []netip.Prefix) string {
	m := map[string]string{}
	for _, ip := range ips {
		k := "ipv4"
		if !ip.Addr().Is4() {
			k = "ipv6"
		}
		if _, ok := m[k]; !ok {
			m[k] = ip.String()
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// NodeGatewayRouterLRPIfAddrsAnnotation holds the node's gateway router
// addresses on the join switch, allocated by the master:
// {"default":{"ipv4":"100.64.0.2/16","ipv6":"fd98::2/64"}}.
const NodeGatewayRouterLRPIfAddrsAnnotation = "k8s.ovn.org/node-gateway-router-lrp-ifaddrs"

// FormatJoinAddrs renders k8s.ovn.org/node-gateway-router-lrp-ifaddrs.
func FormatJoinAddrs(addrs []netip.Prefix) string {
	m := map[string]string{}
	for _, a := range addrs {
		if a.Addr().Is4() {
			m["ipv4"] = a.String()
		} else {
			m["ipv6"] = a.String()
		}
	}
	b, _ := json.Marshal(map[string]map[string]string{DefaultNetwork: m})
	return string(b)
}

// ParseJoinAddrs reads k8s.ovn.org/node-gateway-router-lrp-ifaddrs, IPv4
// first; present is false when the annotation is absent.
func ParseJoinAddrs(ann map[string]string) (addrs []netip.Prefix, present bool, err error) {
	v, ok := ann[NodeGatewayRouterLRPIfAddrsAnnotation]
	if !ok {
		return nil, false, nil
	}
	var m map[string]map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, true, fmt.Errorf("%s is not valid JSON: %w", NodeGatewayRouterLRPIfAddrsAnnotation, err)
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		s, ok := m[DefaultNetwork][fam]
		if !ok {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is4() != (fam == "ipv4") {
			return nil, true, fmt.Errorf("%s %s %q is not an %s address with a prefix", NodeGatewayRouterLRPIfAddrsAnnotation, fam, s, fam)
		}
		addrs = append(addrs, p)
	}
	if len(addrs) == 0 {
		return nil, true, fmt.Errorf("%s has no address", NodeGatewayRouterLRPIfAddrsAnnotation)
	}
	return addrs, true, nil
}
