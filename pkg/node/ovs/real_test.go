package ovs

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/node/internal/ovstest"
)

// TestChassisAndBridgeReal configures a real Open_vSwitch database twice
// (a restart) and checks that the system-id survives and that only
// differing keys are written.
func TestChassisAndBridgeReal(t *testing.T) {
	o := ovstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o.Vsctl(t, "--no-wait", "set", "Open_vSwitch", ".", "external_ids:foreign=keep", "external_ids:hostname=old")
	s := ChassisSettings{Hostname: "node1", OVNRemote: "unix:/tmp/sb.sock", EncapIP: netip.MustParseAddr("172.31.255.1"), DatapathType: "netdev"}

	oc, err := Connect(ctx, o.Address)
	if err != nil {
		t.Fatal(err)
	}
	id1, err := oc.EnsureChassis(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	oc.Close()
	got := o.Vsctl(t, "get", "Open_vSwitch", ".", "external_ids")
	for _, want := range []string{`system-id="` + id1 + `"`, `hostname=node1`, `ovn-remote="unix:/tmp/sb.sock"`, `ovn-encap-type=geneve`,
		`ovn-encap-ip="172.31.255.1"`, `ovn-bridge-datapath-type=netdev`, `foreign=keep`} {
		if !strings.Contains(got, want) {
			t.Errorf("external_ids %s lack %s", got, want)
		}
	}
	// Restart: same id, no write (next_cfg unchanged).
	before := o.Vsctl(t, "get", "Open_vSwitch", ".", "next_cfg")
	oc, err = Connect(ctx, o.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	id2, err := oc.EnsureChassis(ctx, s)
	if err != nil || id2 != id1 {
		t.Fatalf("restart: system-id %q (err %v), want %q kept", id2, err, id1)
	}
	if after := o.Vsctl(t, "get", "Open_vSwitch", ".", "next_cfg"); after != before {
		t.Errorf("unchanged restart wrote the database: next_cfg %s -> %s", before, after)
	}
	// br-int: created once, may-exist afterwards.
	for i := 0; i < 2; i++ {
		if err := oc.EnsureBridge(ctx, IntegrationBridge, "netdev"); err != nil {
			t.Fatal(err)
		}
	}
	if dt := o.Vsctl(t, "get", "Bridge", "br-int", "datapath_type"); dt != "netdev" {
		t.Fatalf("br-int datapath_type %s", dt)
	}
	if n := o.Vsctl(t, "list-br"); n != "br-int" {
		t.Fatalf("bridges: %q", n)
	}
}

// TestEnsureSSLReal: the SSL files land in the row `ovs-vsctl get-ssl`
// shows; the same files again write nothing; new files replace them.
func TestEnsureSSLReal(t *testing.T) {
	o := ovstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oc, err := Connect(ctx, o.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	files := SSLFiles{PrivateKey: "/pki/node.key", Certificate: "/pki/node.crt", CACert: "/pki/ca.crt"}
	if err := oc.EnsureSSL(ctx, files); err != nil {
		t.Fatal(err)
	}
	got := o.Vsctl(t, "get-ssl")
	for _, want := range []string{"Private key: /pki/node.key", "Certificate: /pki/node.crt", "CA Certificate: /pki/ca.crt"} {
		if !strings.Contains(got, want) {
			t.Errorf("get-ssl lacks %q:\n%s", want, got)
		}
	}
	before := o.Vsctl(t, "get", "Open_vSwitch", ".", "ssl")
	if err := oc.EnsureSSL(ctx, files); err != nil {
		t.Fatal(err)
	}
	if after := o.Vsctl(t, "get", "Open_vSwitch", ".", "ssl"); after != before {
		t.Errorf("the same files wrote a new SSL row: %s -> %s", before, after)
	}
	files.Certificate = "/pki/node2.crt"
	if err := oc.EnsureSSL(ctx, files); err != nil {
		t.Fatal(err)
	}
	if got := o.Vsctl(t, "get-ssl"); !strings.Contains(got, "Certificate: /pki/node2.crt") {
		t.Errorf("new certificate not set:\n%s", got)
	}
	if n := strings.Count(o.Vsctl(t, "--columns=_uuid", "list", "SSL"), "_uuid"); n != 1 {
		t.Errorf("%d SSL rows, want the one referenced", n)
	}
}
