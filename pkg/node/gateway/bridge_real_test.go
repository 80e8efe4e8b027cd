package gateway

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ovnkube/ovnkube/pkg/node/internal/ovstest"
	"github.com/ovnkube/ovnkube/pkg/node/ovs"
)

// TestTakeOver: br-ex takes the uplink's MAC, addresses and routes on the
// first start, the node still reaches its router through it, and a second
// start changes nothing. The "router" is a namespace of the test's own at
// the other end of the uplink's veth.
func TestTakeOver(t *testing.T) {
	o := ovstest.Start(t)
	router, _ := ovstest.NewNetNS(t, "router")
	sh := func(ns string, cmd string) string {
		t.Helper()
		return ovstest.Exec(t, ns, strings.Fields(cmd)...)
	}
	sh(o.NetNS, "ip link add eth0 type veth peer name up0")
	sh(o.NetNS, "ip link set up0 netns "+router)
	for _, c := range []string{"ip link set up0 up", "ip addr add 10.99.0.1/24 dev up0", "ip addr add fd99::1/64 dev up0 nodad"} {
		sh(router, c)
	}
	for _, c := range []string{
		"ip link set eth0 up", "ip addr add 10.99.0.2/24 dev eth0", "ip addr add fd99::2/64 dev eth0 nodad",
		"ip route add default via 10.99.0.1 dev eth0", "ip -6 route add default via fd99::1 dev eth0",
		"ip route add 10.98.0.0/24 via 10.99.0.1 dev eth0",
	} {
		sh(o.NetNS, c)
	}
	mac := strings.Fields(sh(o.NetNS, "cat /sys/class/net/eth0/address"))[0]

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oc, err := ovs.Connect(ctx, o.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	nl, err := netlink.NewHandleAt(o.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	takeOver := func() Uplink {
		t.Helper()
		gw, err := Check(nl, []Family{IPv4, IPv6}, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		up, err := TakeOver(ctx, oc, nl, gw, "netdev")
		if err != nil {
			t.Fatal(err)
		}
		return up
	}

	up := takeOver()
	if up.Port != "eth0" || up.MAC.String() != mac || len(up.Addrs) != 2 {
		t.Errorf("uplink = %+v, want eth0 with MAC %s and two addresses", up, mac)
	}
	if got := strings.Fields(sh(o.NetNS, "cat /sys/class/net/br-ex/address"))[0]; got != mac {
		t.Errorf("br-ex MAC %s, want the uplink's %s", got, mac)
	}
	brAddrs, ethAddrs := sh(o.NetNS, "ip addr show dev br-ex"), sh(o.NetNS, "ip addr show dev eth0")
	for _, a := range []string{"10.99.0.2/24", "fd99::2/64"} {
		if !strings.Contains(brAddrs, a) || strings.Contains(ethAddrs, a) {
			t.Errorf("%s not moved to br-ex:\nbr-ex: %s\neth0: %s", a, brAddrs, ethAddrs)
		}
	}
	routes := sh(o.NetNS, "ip route show") + "\n" + sh(o.NetNS, "ip -6 route show")
	for _, r := range []string{"default via 10.99.0.1 dev br-ex", "10.98.0.0/24 via 10.99.0.1 dev br-ex", "default via fd99::1 dev br-ex"} {
		if !strings.Contains(routes, r) {
			t.Errorf("route %q missing:\n%s", r, routes)
		}
	}
	if ports := o.Vsctl(t, "list-ports", "br-ex"); ports != "eth0" {
		t.Errorf("br-ex ports = %q", ports)
	}
	// The node still reaches its router, through the bridge.
	for _, target := range []string{"10.99.0.1", "fd99::1"} {
		if out, err := exec.Command("ip", "netns", "exec", o.NetNS, "ping", "-c1", "-W5", target).CombinedOutput(); err != nil {
			t.Errorf("ping %s through br-ex: %v\n%s", target, err, out)
		}
	}

	// A second start finds everything in place and changes nothing.
	before := snapshotHost(t, o)
	up2 := takeOver()
	if up2.Port != "eth0" || up2.MAC.String() != mac {
		t.Errorf("restart found uplink %+v", up2)
	}
	if after := snapshotHost(t, o); after != before {
		t.Errorf("restart changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// snapshotHost renders what a restart must not change.
func snapshotHost(t *testing.T, o *ovstest.OVS) string {
	t.Helper()
	var b strings.Builder
	// Global addresses and routes only: the kernel's own link-local
	// addresses and their routes come and go with link state and DAD.
	for _, c := range []string{"ip -br -4 addr", "ip -br -6 addr show scope global", "ip route show", "ip -6 route show proto static", "ip -6 route show default"} {
		b.WriteString(ovstest.Exec(t, o.NetNS, strings.Fields(c)...) + "\n")
	}
	b.WriteString(o.Vsctl(t, "--columns=_uuid,name,other_config,ports,datapath_type", "list", "Bridge", "br-ex"))
	return b.String()
}
