package gateway

import (
	"context"
	"fmt"
	"net/netip"
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
	masq := []netip.Prefix{netip.MustParsePrefix("169.254.169.0/29"), netip.MustParsePrefix("fd69::/125")}
	plan, err := PlanMasquerade(masq, []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16"), netip.MustParsePrefix("fd00:10:96::/112")})
	if err != nil {
		t.Fatal(err)
	}
	takeOver := func() Uplink {
		t.Helper()
		gw, err := Check(nl, []Family{IPv4, IPv6}, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		up, err := TakeOver(ctx, oc, nl, gw, "netdev", masq)
		if err != nil {
			t.Fatal(err)
		}
		br, err := nl.LinkByName("br-ex")
		if err != nil {
			t.Fatal(err)
		}
		if err := EnsureMasquerade(nl, br, up.MAC, plan); err != nil {
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
	for _, r := range []string{"default via 10.99.0.1 dev br-ex", "10.98.0.0/24 via 10.99.0.1 dev br-ex", "default via fd99::1 dev br-ex",
		"10.96.0.0/16 via 169.254.169.4 dev br-ex proto static src 169.254.169.2", "fd00:10:96::/112 via fd69::4 dev br-ex proto static src fd69::2"} {
		if !strings.Contains(routes, r) {
			t.Errorf("route %q missing:\n%s", r, routes)
		}
	}
	neigh := sh(o.NetNS, "ip neigh show dev br-ex nud permanent")
	for _, n := range []string{"169.254.169.4 lladdr " + mac + " PERMANENT", "fd69::4 lladdr " + mac + " PERMANENT"} {
		if !strings.Contains(neigh, n) {
			t.Errorf("neighbour %q missing:\n%s", n, neigh)
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
	if up2.Port != "eth0" || up2.MAC.String() != mac || fmt.Sprint(up2.Addrs) != "[10.99.0.2/24 fd99::2/64]" {
		t.Errorf("restart found uplink %+v", up2)
	}
	if after := snapshotHost(t, o); after != before {
		t.Errorf("restart changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	t.Run("flows", func(t *testing.T) { testFlows(t, ctx, o, oc, up) })
}

// testFlows: br-ex gets the host-only flows, the host still reaches its
// router through them, a second sync writes nothing, and the localnet
// patch port's appearance switches the bridge to the shared-gateway set.
func testFlows(t *testing.T, ctx context.Context, o *ovstest.OVS, oc *ovs.Client, up Uplink) {
	f := NewFlows(oc, o.Address, "node-1", up, HostAccess{})
	dump := func() string {
		t.Helper()
		return ovstest.Exec(t, o.NetNS, "ovs-ofctl", "-O", "OpenFlow14", "dump-flows", "--no-stats", "unix:"+o.Dir+"/br-ex.mgmt")
	}
	sync := func(wantWrite bool) {
		t.Helper()
		wrote, err := f.Sync(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if wrote != wantWrite {
			t.Fatalf("Sync wrote = %v, want %v; flows:\n%s", wrote, wantWrite, dump())
		}
	}
	sync(true)
	hostOnly := dump()
	if n := strings.Count(hostOnly, "cookie="); n != len(SharedGatewayFlows(BridgePorts{Uplink: 1}, HostAccess{})) || strings.Contains(hostOnly, "ct(") {
		t.Errorf("host-only flows:\n%s", hostOnly)
	}
	for _, target := range []string{"10.99.0.1", "fd99::1"} {
		if out, err := exec.Command("ip", "netns", "exec", o.NetNS, "ping", "-c1", "-W5", target).CombinedOutput(); err != nil {
			t.Errorf("ping %s through br-ex's flows: %v\n%s", target, err, out)
		}
	}
	sync(false)

	// ovn-controller's patch port for the node's localnet port.
	o.Vsctl(t, "add-port", "br-ex", "patch-br-ex_node-1-to-br-int", "--", "set", "Port", "patch-br-ex_node-1-to-br-int",
		"external_ids:ovn-localnet-port=br-ex_node-1", "--", "set", "Interface", "patch-br-ex_node-1-to-br-int",
		"type=patch", "options:peer=patch-br-int-to-br-ex_node-1")
	deadline := time.Now().Add(30 * time.Second)
	for {
		wrote, err := f.Sync(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if wrote {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the patch port did not change br-ex's flows:\n%s", dump())
		}
		<-oc.InterfaceChanged() // the ofport assignment
	}
	shared := dump()
	for _, want := range []string{"ct(commit,zone=64000,exec(load:0x1->NXM_NX_CT_MARK[]))", "ct(table=1,zone=64000)", "ct_state=+est+trk,ct_mark=0x1"} {
		if !strings.Contains(shared, want) {
			t.Errorf("shared-gateway flows lack %q:\n%s", want, shared)
		}
	}
	sync(false)
	if again := dump(); again != shared {
		t.Errorf("a sync with nothing changed rewrote the flows:\nbefore:\n%s\nafter:\n%s", shared, again)
	}

	// A service's node port: its own flow, added and removed without
	// touching the others.
	f.SetService("ns/web", []Frontend{{Protocol: "TCP", IP: netip.MustParseAddr("10.99.0.2"), Port: 30080}})
	if wrote, err := f.Sync(ctx, false); err != nil || !wrote {
		t.Fatalf("service sync wrote=%v err=%v", wrote, err)
	}
	withService := dump()
	if !strings.Contains(withService, "priority=110,tcp,in_port=1,nw_dst=10.99.0.2,tp_dst=30080 actions=output:2") ||
		strings.Count(withService, "\n") != strings.Count(shared, "\n")+1 {
		t.Errorf("node port flow:\n%s", withService)
	}
	f.SetService("ns/web", nil)
	if wrote, err := f.Sync(ctx, false); err != nil || !wrote {
		t.Fatalf("service removal sync wrote=%v err=%v", wrote, err)
	}
	if again := dump(); again != shared {
		t.Errorf("removing the service left:\n%s\nwant:\n%s", again, shared)
	}
}

// snapshotHost renders what a restart must not change.
func snapshotHost(t *testing.T, o *ovstest.OVS) string {
	t.Helper()
	var b strings.Builder
	// Global addresses and routes only: the kernel's own link-local
	// addresses and their routes come and go with link state and DAD.
	for _, c := range []string{"ip -br -4 addr", "ip -br -6 addr show scope global", "ip route show", "ip -6 route show proto static",
		"ip -6 route show default", "ip neigh show nud permanent"} {
		b.WriteString(ovstest.Exec(t, o.NetNS, strings.Fields(c)...) + "\n")
	}
	b.WriteString(o.Vsctl(t, "--columns=_uuid,name,other_config,ports,datapath_type", "list", "Bridge", "br-ex"))
	return b.String()
}
