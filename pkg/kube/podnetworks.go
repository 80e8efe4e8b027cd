package kube

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
)

// PodNetworksAnnotation holds a pod's addresses, written by the master and read
// by the CNI server: {"default":{"ip_addresses":["10.244.1.5/24"],...}}.
const PodNetworksAnnotation = "k8s.ovn.org/pod-networks"

// PodRoute is one route the CNI plugin installs in the pod.
type PodRoute struct {
	Dest    string `json:"dest"`
	NextHop string `json:"nextHop"`
}

// PodNetwork is the default network's entry of k8s.ovn.org/pod-networks. The
// singular ip_address and gateway_ip repeat the first entries of the lists
// for consumers of the older format.
type PodNetwork struct {
	IPAddresses []string   `json:"ip_addresses"`
	MACAddress  string     `json:"mac_address"`
	GatewayIPs  []string   `json:"gateway_ips,omitempty"`
	Routes      []PodRoute `json:"routes,omitempty"`
	IPAddress   string     `json:"ip_address,omitempty"`
	GatewayIP   string     `json:"gateway_ip,omitempty"`
}

// PodAddresses is the parsed, validated form of a PodNetwork.
type PodAddresses struct {
	IPs      []netip.Prefix // one per family, IPv4 first, with the node subnet's prefix length
	MAC      net.HardwareAddr
	Gateways []netip.Addr
	Routes   []Route
}

// Route is a parsed PodRoute.
type Route struct {
	Dest    netip.Prefix
	NextHop netip.Addr
}

// ParsePodNetworks decodes and validates the default network of
// k8s.ovn.org/pod-networks. present is false when the annotation is absent.
func ParsePodNetworks(annotations map[string]string) (addrs PodAddresses, present bool, err error) {
	raw, ok := annotations[PodNetworksAnnotation]
	if !ok {
		return PodAddresses{}, false, nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("annotation %s=%q: %s", PodNetworksAnnotation, raw, fmt.Sprintf(format, a...))
	}
	var byNetwork map[string]PodNetwork
	if err := json.Unmarshal([]byte(raw), &byNetwork); err != nil {
		return PodAddresses{}, true, bad("not valid JSON: %v", err)
	}
	pn, ok := byNetwork[DefaultNetwork]
	if !ok {
		return PodAddresses{}, true, bad("no %q network", DefaultNetwork)
	}
	if len(pn.IPAddresses) == 0 {
		return PodAddresses{}, true, bad("no ip_addresses")
	}
	var v4, v6 bool
	for _, s := range pn.IPAddresses {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return PodAddresses{}, true, bad("bad ip address %q", s)
		}
		if (p.Addr().Is4() && v4) || (p.Addr().Is6() && v6) {
			return PodAddresses{}, true, bad("two addresses of one family")
		}
		v4, v6 = v4 || p.Addr().Is4(), v6 || p.Addr().Is6()
		addrs.IPs = append(addrs.IPs, p)
	}
	if addrs.MAC, err = net.ParseMAC(pn.MACAddress); err != nil || len(addrs.MAC) != 6 {
		return PodAddresses{}, true, bad("bad mac_address %q", pn.MACAddress)
	}
	for _, g := range pn.GatewayIPs {
		a, err := netip.ParseAddr(g)
		if err != nil {
			return PodAddresses{}, true, bad("bad gateway ip %q", g)
		}
		addrs.Gateways = append(addrs.Gateways, a)
	}
	for _, r := range pn.Routes {
		d, err1 := netip.ParsePrefix(r.Dest)
		nh, err2 := netip.ParseAddr(r.NextHop)
		if err1 != nil || err2 != nil {
			return PodAddresses{}, true, bad("bad route %s via %s", r.Dest, r.NextHop)
		}
		addrs.Routes = append(addrs.Routes, Route{Dest: d, NextHop: nh})
	}
	return addrs, true, nil
}

// FormatPodNetworks encodes addrs as k8s.ovn.org/pod-networks.
func FormatPodNetworks(addrs PodAddresses) string {
	pn := PodNetwork{MACAddress: addrs.MAC.String(), IPAddresses: []string{}}
	for _, ip := range addrs.IPs {
		pn.IPAddresses = append(pn.IPAddresses, ip.String())
	}
	for _, g := range addrs.Gateways {
		pn.GatewayIPs = append(pn.GatewayIPs, g.String())
	}
	for _, r := range addrs.Routes {
		pn.Routes = append(pn.Routes, PodRoute{Dest: r.Dest.String(), NextHop: r.NextHop.String()})
	}
	if len(pn.IPAddresses) > 0 {
		pn.IPAddress = pn.IPAddresses[0]
	}
	if len(pn.GatewayIPs) > 0 {
		pn.GatewayIP = pn.GatewayIPs[0]
	}
	b, _ := json.Marshal(map[string]PodNetwork{DefaultNetwork: pn})
	return string(b)
}
