package mgmtport

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ovnkube/ovnkube/pkg/node/internal/ovstest"
	"github.com/ovnkube/ovnkube/pkg/node/ovs"
)

// TestEnsureReal creates the management port on a real userspace OVS in a
// namespace of the test's own, then runs Ensure again after a hand-made
// drift (a stale route, a missing address) as a restart would.
func TestEnsureReal(t *testing.T) {
	o := ovstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oc, err := ovs.Connect(ctx, o.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	if err := oc.EnsureBridge(ctx, ovs.IntegrationBridge, "netdev"); err != nil {
		t.Fatal(err)
	}
	nl, err := netlink.NewHandleAt(o.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	spec, err := Plan("node1", []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")},
		[]netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.245.0.0/16")}, 1400)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		link := ovstest.Exec(t, o.NetNS, "ip", "-4", "addr", "show", "dev", InterfaceName)
		for _, want := range []string{"inet 10.244.1.2/24", "mtu 1400", "UP"} {
			if !strings.Contains(link, want) {
				t.Fatalf("%s: %s lacks %q:\n%s", when, InterfaceName, want, link)
			}
		}
		if l := ovstest.Exec(t, o.NetNS, "ip", "link", "show", "dev", InterfaceName); !strings.Contains(l, "0a:58:0a:f4:01:02") {
			t.Fatalf("%s: MAC: %s", when, l)
		}
		routes := ovstest.Exec(t, o.NetNS, "ip", "-4", "route", "show", "dev", InterfaceName)
		for _, want := range []string{"10.244.0.0/16 via 10.244.1.1", "10.245.0.0/16 via 10.244.1.1"} {
			if !strings.Contains(routes, want) {
				t.Fatalf("%s: routes lack %q:\n%s", when, want, routes)
			}
		}
		if strings.Contains(routes, "10.99.0.0/16") {
			t.Fatalf("%s: stale route kept:\n%s", when, routes)
		}
		iface, err := oc.Interface(ctx, InterfaceName)
		if err != nil {
			t.Fatal(err)
		}
		if iface.Type != "internal" || iface.ExternalIDs["iface-id"] != "k8s-node1" || iface.MAC == nil || *iface.MAC != "0a:58:0a:f4:01:02" {
			t.Fatalf("%s: OVS interface %+v", when, iface)
		}
	}
	if err := Ensure(ctx, oc, nl, ovs.IntegrationBridge, spec); err != nil {
		t.Fatal(err)
	}
	check("first Ensure")
	// Drift, then a restart's Ensure.
	ovstest.Exec(t, o.NetNS, "ip", "route", "add", "10.99.0.0/16", "via", "10.244.1.1", "dev", InterfaceName)
	ovstest.Exec(t, o.NetNS, "ip", "route", "del", "10.245.0.0/16", "dev", InterfaceName)
	if err := Ensure(ctx, oc, nl, ovs.IntegrationBridge, spec); err != nil {
		t.Fatal(err)
	}
	check("Ensure after drift")
}
