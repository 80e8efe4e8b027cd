package gateway

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ovnkube/ovnkube/pkg/node/internal/ovstest"
)

// hostWith makes a network namespace with interfaces eth0 (10.0.0.2,
// fd00::2) and eth1 (10.1.0.2, fd01::2), each a veth whose peer stays in the
// same namespace, and runs the ip commands in it; it returns a netlink
// handle in that namespace. The test sends no packet: the links only hold
// the routes the kernel reports back.
func hostWith(t *testing.T, cmds ...string) *netlink.Handle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network namespaces)")
	}
	name, path := ovstest.NewNetNS(t, "gw")
	for _, c := range []string{
		"link add eth0 type veth peer name eth0p", "link add eth1 type veth peer name eth1p",
		"link set eth0p up", "link set eth1p up", "link set eth0 up", "link set eth1 up",
		"addr add 10.0.0.2/24 dev eth0", "addr add 10.1.0.2/24 dev eth1",
		"addr add fd00::2/64 dev eth0 nodad", "addr add fd01::2/64 dev eth1 nodad",
	} {
		ovstest.Exec(t, name, append([]string{"ip"}, strings.Fields(c)...)...)
	}
	for _, c := range cmds {
		ovstest.Exec(t, name, append([]string{"ip"}, strings.Fields(c)...)...)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	return nl
}

// TestCheckOnRealRoutes: one network namespace per rule, routes as the
// kernel holds them.
func TestCheckOnRealRoutes(t *testing.T) {
	dual := []Family{IPv4, IPv6}
	for _, tc := range []struct {
		name     string
		routes   []string
		families []Family
		o        Overrides
		iface    string
		hops     map[Family][]netip.Addr
		err      string
	}{{
		name:     "v4 and v6 defaults on different interfaces",
		routes:   []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fd01::1 dev eth1"},
		families: dual, err: "multiple gateway interfaces detected: eth0 eth1",
	}, {
		name:     "no v6 default",
		routes:   []string{"route add default via 10.0.0.1 dev eth0"},
		families: dual, err: "failed to get default gateway interface",
	}, {
		name:     "both on one interface",
		routes:   []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fd00::1 dev eth0"},
		families: dual, iface: "eth0",
		hops: map[Family][]netip.Addr{IPv4: addrs("10.0.0.1"), IPv6: addrs("fd00::1")},
	}, {
		name:     "v6 via a link-local next hop",
		routes:   []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fe80::1 dev eth0"},
		families: dual, iface: "eth0",
		hops: map[Family][]netip.Addr{IPv4: addrs("10.0.0.1"), IPv6: addrs("fe80::1")},
	}, {
		name:     "multipath default",
		routes:   []string{"route add default nexthop via 10.0.0.1 dev eth0 nexthop via 10.1.0.1 dev eth1"},
		families: []Family{IPv4}, iface: "eth0",
		hops: map[Family][]netip.Addr{IPv4: addrs("10.0.0.1")},
	}, {
		name:     "a default in another table only",
		routes:   []string{"route add default via 10.0.0.1 dev eth0 table 100"},
		families: []Family{IPv4}, err: "failed to get default gateway interface",
	}, {
		name:     "--gateway-interface and --gateway-nexthop",
		routes:   []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fd01::1 dev eth1"},
		families: dual, o: Overrides{Interface: "eth1", NextHops: addrs("10.1.0.1")}, iface: "eth1",
		hops: map[Family][]netip.Addr{IPv4: addrs("10.1.0.1"), IPv6: addrs("fd01::1")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			nl := hostWith(t, tc.routes...)
			gw, err := Check(nl, tc.families, tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if !errors.Is(err, ErrMultipleInterfaces) && !errors.Is(err, ErrNoDefaultGateway) {
					t.Errorf("err %v is neither of the two refusals", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gw.Interface != tc.iface || !reflect.DeepEqual(gw.NextHops, tc.hops) {
				t.Errorf("gateway = %s %v, want %s %v", gw.Interface, gw.NextHops, tc.iface, tc.hops)
			}
		})
	}
}
