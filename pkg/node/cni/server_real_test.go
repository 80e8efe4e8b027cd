package cni

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
	"github.com/ovnkube/ovnkube/pkg/node/internal/ovstest"
	"github.com/ovnkube/ovnkube/pkg/node/ovs"
)

// fakePods is a PodSource fed by the test.
type fakePods struct {
	mu      sync.Mutex
	pods    map[string]kube.PodAddresses
	changed chan struct{}
}

func newFakePods() *fakePods {
	return &fakePods{pods: map[string]kube.PodAddresses{}, changed: make(chan struct{})}
}

func (f *fakePods) set(ns, name string, a kube.PodAddresses) {
	f.mu.Lock()
	f.pods[ns+"/"+name] = a
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakePods) WaitPodNetwork(ctx context.Context, ns, name, _ string) (kube.PodAddresses, string, error) {
	for {
		f.mu.Lock()
		a, ok := f.pods[ns+"/"+name]
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return a, "uid-" + name, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return kube.PodAddresses{}, "", ctx.Err()
		}
	}
}

// TestCNIServerReal drives the CNI server over its unix socket against a
// real ovsdb-server and userspace ovs-vswitchd in a namespace of its own,
// with the pod in another namespace. The test plays ovn-controller by
// setting ovn-installed on the interface.
func TestCNIServerReal(t *testing.T) {
	o := ovstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	oc, err := ovs.Connect(ctx, o.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	if err := oc.EnsureBridge(ctx, ovs.IntegrationBridge, "netdev"); err != nil {
		t.Fatal(err)
	}
	pods := newFakePods()
	h := NewHandler(Config{
		Bridge: ovs.IntegrationBridge, MTU: 1400, TxCsumOff: true,
		PodAnnotationTimeout: 1 * time.Second, OVSInstalledTimeout: 2 * time.Second,
		Namespaces: Namespaces{Host: o.NS},
	}, pods, oc)
	socket := filepath.Join(o.Dir, "cni", "cni.sock")
	srv := NewServer(h, socket)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	defer func() { stop(); <-done }()

	podNSName, podNetns := ovstest.NewNetNS(t, "pod")
	const containerID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	const hostIf = "0123456789abcde"
	mac, _ := net.ParseMAC("0a:58:0a:f4:01:05")
	addrs := kube.PodAddresses{
		IPs: []netip.Prefix{netip.MustParsePrefix("10.244.1.5/24")}, MAC: mac,
		Gateways: []netip.Addr{netip.MustParseAddr("10.244.1.1")},
		Routes:   []kube.Route{{Dest: netip.MustParsePrefix("100.64.0.0/16"), NextHop: netip.MustParseAddr("10.244.1.1")}},
	}
	pods.set("ns1", "pod1", addrs)
	add := api.Request{Command: api.CommandAdd, PodNamespace: "ns1", PodName: "pod1", ContainerID: containerID,
		Netns: podNetns, IfName: "eth0", CNIVersion: "1.0.0"}

	// Play ovn-controller: once the port with our iface-id appears, mark it installed.
	installed := make(chan time.Duration, 1)
	go func() {
		t0 := time.Now()
		for ctx.Err() == nil {
			if iface, err := oc.Interface(ctx, hostIf); err == nil && iface.ExternalIDs[ovs.KeyIfaceID] == "ns1_pod1" {
				o.Vsctl(t, "--no-wait", "set", "Interface", hostIf, "external_ids:ovn-installed=true")
				installed <- time.Since(t0)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	raw, err := api.Do(ctx, socket, add)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	t.Logf("ADD took %s (port seen and ovn-installed set by the test after %s)", time.Since(t0), <-installed)

	res, err := current.NewResult(raw)
	if err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	r := res.(*current.Result)
	if len(r.Interfaces) != 2 || r.Interfaces[0].Name != hostIf || r.Interfaces[1].Name != "eth0" ||
		r.Interfaces[1].Mac != mac.String() || r.Interfaces[1].Sandbox != podNetns ||
		len(r.IPs) != 1 || r.IPs[0].Address.String() != "10.244.1.5/24" || *r.IPs[0].Interface != 1 ||
		r.IPs[0].Gateway.String() != "10.244.1.1" || len(r.Routes) != 2 {
		t.Fatalf("unexpected result %s", raw)
	}

	// The pod side.
	podNS, err := netns.GetFromPath(podNetns)
	if err != nil {
		t.Fatal(err)
	}
	defer podNS.Close()
	ph, err := netlink.NewHandleAt(podNS)
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	eth0, err := ph.LinkByName("eth0")
	if err != nil {
		t.Fatalf("eth0 in pod netns: %v", err)
	}
	if a := eth0.Attrs(); a.HardwareAddr.String() != mac.String() || a.MTU != 1400 || a.Flags&net.FlagUp == 0 {
		t.Fatalf("eth0 MAC %s MTU %d flags %v", a.HardwareAddr, a.MTU, a.Flags)
	}
	if out := ovstest.Exec(t, podNSName, "ip", "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 10.244.1.5/24") {
		t.Fatalf("pod address: %s", out)
	}
	routes := ovstest.Exec(t, podNSName, "ip", "-4", "route")
	for _, want := range []string{"default via 10.244.1.1 dev eth0", "100.64.0.0/16 via 10.244.1.1 dev eth0"} {
		if !strings.Contains(routes, want) {
			t.Fatalf("pod routes lack %q:\n%s", want, routes)
		}
	}
	if on, err := TxChecksum(podNS, "eth0"); err != nil || on {
		t.Fatalf("pod eth0 tx checksum offload on=%v err=%v, want off", on, err)
	}
	if lo := ovstest.Exec(t, podNSName, "ip", "link", "show", "lo"); !strings.Contains(lo, "UP") {
		t.Fatalf("lo not up: %s", lo)
	}

	// The host side and OVS.
	hh, err := netlink.NewHandleAt(o.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer hh.Close()
	hl, err := hh.LinkByName(hostIf)
	if err != nil || hl.Attrs().Flags&net.FlagUp == 0 || hl.Attrs().MTU != 1400 {
		t.Fatalf("host veth %s: %v %+v", hostIf, err, hl)
	}
	iface, err := oc.Interface(ctx, hostIf)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"iface-id": "ns1_pod1", "iface-id-ver": "uid-pod1", "sandbox": containerID, "attached-mac": mac.String()} {
		if iface.ExternalIDs[k] != v {
			t.Errorf("Interface %s external_ids:%s = %q, want %q", hostIf, k, iface.ExternalIDs[k], v)
		}
	}
	if ports := o.Vsctl(t, "list-ports", "br-int"); !strings.Contains(ports, hostIf) {
		t.Fatalf("br-int ports: %s", ports)
	}

	// CHECK passes now.
	chk := add
	chk.Command = api.CommandCheck
	if _, err := api.Do(ctx, socket, chk); err != nil {
		t.Fatalf("CHECK: %v", err)
	}
	// CHECK notices a missing default route, and passes again once it is back.
	podRoutes, err := ph.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var def *netlink.Route
	for i := range podRoutes {
		if podRoutes[i].Dst == nil || podRoutes[i].Dst.IP.IsUnspecified() {
			def = &podRoutes[i]
		}
	}
	if def == nil {
		t.Fatalf("no default route in the pod: %v", podRoutes)
	}
	if err := ph.RouteDel(def); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Do(ctx, socket, chk); err == nil || !strings.Contains(err.Error(), "lacks route") {
		t.Fatalf("CHECK without the default route: err = %v, want a missing route", err)
	}
	if err := ph.RouteAdd(def); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Do(ctx, socket, chk); err != nil {
		t.Fatalf("CHECK with the route back: %v", err)
	}

	// DEL removes port and veth; a second DEL and a DEL of an unknown container succeed.
	del := api.Request{Command: api.CommandDel, PodNamespace: "ns1", PodName: "pod1", ContainerID: containerID, Netns: podNetns, IfName: "eth0"}
	for i := 0; i < 2; i++ {
		if _, err := api.Do(ctx, socket, del); err != nil {
			t.Fatalf("DEL #%d: %v", i+1, err)
		}
	}
	if _, err := api.Do(ctx, socket, api.Request{Command: api.CommandDel, ContainerID: "feedfeedfeedfeedfeed", IfName: "eth0"}); err != nil {
		t.Fatalf("DEL of unknown container: %v", err)
	}
	if ok, _ := oc.PortExists(ctx, hostIf); ok {
		t.Fatal("OVS port still exists after DEL")
	}
	if _, err := hh.LinkByName(hostIf); err == nil {
		t.Fatal("host veth still exists after DEL")
	}
	if _, err := ph.LinkByName("eth0"); err == nil {
		t.Fatal("pod eth0 still exists after DEL")
	}
	if _, err := api.Do(ctx, socket, chk); err == nil {
		t.Fatal("CHECK passed after DEL")
	}

	// ADD without ovn-controller: fails after --ovs-installed-timeout and cleans up.
	t0 = time.Now()
	_, err = api.Do(ctx, socket, add)
	if err == nil || !strings.Contains(err.Error(), "timed out after 2s waiting for ovn-controller to set external_ids:ovn-installed=true") {
		t.Fatalf("ADD without ovn-installed: err = %v", err)
	}
	if el := time.Since(t0); el > 4*time.Second {
		t.Fatalf("ADD without ovn-installed took %s", el)
	}
	if ok, _ := oc.PortExists(ctx, hostIf); ok {
		t.Fatal("OVS port left behind by a failed ADD")
	}
	if _, err := hh.LinkByName(hostIf); err == nil {
		t.Fatal("host veth left behind by a failed ADD")
	}

	// ADD for a pod the master never annotates: the annotation timeout.
	noAnn := add
	noAnn.PodName = "pod2"
	noAnn.ContainerID = "fedcba9876543210fedcba"
	t0 = time.Now()
	_, err = api.Do(ctx, socket, noAnn)
	want := "timed out after 1s waiting for annotation k8s.ovn.org/pod-networks on pod ns1/pod2"
	if err == nil || err.Error() != want {
		t.Fatalf("ADD without annotation: err = %v, want %q", err, want)
	}
	if el := time.Since(t0); el < time.Second || el > 3*time.Second {
		t.Fatalf("ADD without annotation failed after %s, want about 1s", el)
	}

	// A malformed request is refused with a message.
	if _, err := api.Do(ctx, socket, api.Request{Command: "ADD", ContainerID: "x"}); err == nil || !strings.Contains(err.Error(), "lacks") {
		t.Fatalf("bad request: err = %v", err)
	}
}
