package gateway

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func hop(iface, gw string) NextHop {
	h := NextHop{Interface: iface}
	if gw != "" {
		h.Gateway = netip.MustParseAddr(gw)
	}
	return h
}

func route(prio int, hops ...NextHop) DefaultRoute {
	return DefaultRoute{Priority: prio, NextHops: hops}
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestDecide(t *testing.T) {
	dual := []Family{IPv4, IPv6}
	for _, tc := range []struct {
		name     string
		families []Family
		routes   map[Family][]DefaultRoute
		o        Overrides
		iface    string
		hops     map[Family][]netip.Addr
		err      error
		errText  string
		found    []string
	}{{
		name: "single-stack IPv4", families: []Family{IPv4},
		routes: map[Family][]DefaultRoute{IPv4: {route(0, hop("eth0", "172.31.0.254"))}},
		iface:  "eth0", hops: map[Family][]netip.Addr{IPv4: addrs("172.31.0.254")},
		found: []string{"Found default gateway interface eth0 172.31.0.254"},
	}, {
		name: "dual-stack on one interface, IPv6 via a link-local next hop", families: dual,
		routes: map[Family][]DefaultRoute{
			IPv4: {route(100, hop("eth0", "172.31.0.254"))},
			IPv6: {route(1024, hop("eth0", "fe80::1"))},
		},
		iface: "eth0", hops: map[Family][]netip.Addr{IPv4: addrs("172.31.0.254"), IPv6: addrs("fe80::1")},
		found: []string{"Found default gateway interface eth0 172.31.0.254", "Found default gateway interface eth0 fe80::1"},
	}, {
		name: "dual-stack on two interfaces", families: dual,
		routes: map[Family][]DefaultRoute{
			IPv4: {route(0, hop("eth0", "172.31.0.254"))},
			IPv6: {route(0, hop("eth1", "fd31::fe"))},
		},
		err: ErrMultipleInterfaces, errText: "multiple gateway interfaces detected: eth0 eth1",
		found: []string{"Found default gateway interface eth0 172.31.0.254", "Found default gateway interface eth1 fd31::fe"},
	}, {
		name: "no IPv6 default route", families: dual,
		routes: map[Family][]DefaultRoute{IPv4: {route(0, hop("eth0", "172.31.0.254"))}},
		err:    ErrNoDefaultGateway, errText: "failed to get default gateway interface",
	}, {
		name: "lowest priority wins", families: []Family{IPv4},
		routes: map[Family][]DefaultRoute{IPv4: {route(600, hop("wlan0", "192.168.1.1")), route(100, hop("eth0", "10.0.0.1"))}},
		iface:  "eth0", hops: map[Family][]netip.Addr{IPv4: addrs("10.0.0.1")},
	}, {
		name: "multipath: first hop's interface, every hop on it", families: []Family{IPv4},
		routes: map[Family][]DefaultRoute{IPv4: {route(0, hop("eth0", "10.0.0.1"), hop("eth1", "10.1.0.1"), hop("eth0", "10.0.0.2"))}},
		iface:  "eth0", hops: map[Family][]netip.Addr{IPv4: addrs("10.0.0.1", "10.0.0.2")},
	}, {
		name: "restart: the default route is on br-ex", families: dual,
		routes: map[Family][]DefaultRoute{
			IPv4: {route(0, hop("br-ex", "172.31.0.254"))},
			IPv6: {route(0, hop("br-ex", "fe80::1"))},
		},
		iface: "br-ex", hops: map[Family][]netip.Addr{IPv4: addrs("172.31.0.254"), IPv6: addrs("fe80::1")},
	}, {
		name: "device route without next hop", families: []Family{IPv4},
		routes: map[Family][]DefaultRoute{IPv4: {route(0, hop("eth0", ""))}},
		err:    ErrNoDefaultGateway, errText: "no IPv4 next hop via eth0",
	}, {
		name: "--gateway-interface picks the routes on it", families: dual,
		routes: map[Family][]DefaultRoute{
			IPv4: {route(0, hop("eth0", "172.31.0.254")), route(10, hop("eth1", "10.1.0.1"))},
			IPv6: {route(0, hop("eth1", "fd01::1"))},
		},
		o:     Overrides{Interface: "eth1"},
		iface: "eth1", hops: map[Family][]netip.Addr{IPv4: addrs("10.1.0.1"), IPv6: addrs("fd01::1")},
	}, {
		name: "--gateway-interface and --gateway-nexthop without routes", families: dual,
		o:     Overrides{Interface: "eth2", NextHops: addrs("10.2.0.1", "fd02::1")},
		iface: "eth2", hops: map[Family][]netip.Addr{IPv4: addrs("10.2.0.1"), IPv6: addrs("fd02::1")},
	}, {
		name: "--gateway-interface without a next hop on it", families: []Family{IPv4},
		routes: map[Family][]DefaultRoute{IPv4: {route(0, hop("eth0", "172.31.0.254"))}},
		o:      Overrides{Interface: "eth1"},
		err:    ErrNoDefaultGateway, errText: "no IPv4 next hop via eth1",
	}, {
		name: "--gateway-nexthop replaces the route's", families: []Family{IPv4},
		routes: map[Family][]DefaultRoute{IPv4: {route(0, hop("eth0", "172.31.0.254"))}},
		o:      Overrides{NextHops: addrs("172.31.0.253")},
		iface:  "eth0", hops: map[Family][]netip.Addr{IPv4: addrs("172.31.0.253")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			gw, err := Decide(tc.families, tc.routes, tc.o)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.err, tc.errText)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if gw.Interface != tc.iface || !reflect.DeepEqual(gw.NextHops, tc.hops) {
					t.Errorf("gateway = %s %v, want %s %v", gw.Interface, gw.NextHops, tc.iface, tc.hops)
				}
			}
			if tc.found != nil {
				if got := FoundLines(tc.families, gw); !reflect.DeepEqual(got, tc.found) {
					t.Errorf("log lines = %q, want %q", got, tc.found)
				}
			}
		})
	}
}
