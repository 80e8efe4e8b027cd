package kube

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestL3GatewayConfig(t *testing.T) {
	mac, _ := net.ParseMAC("0a:58:ac:1f:00:01")
	g := GatewayConfig{
		BridgeID: "br-ex", InterfaceID: "br-ex_node1", MAC: mac,
		IPs:      []netip.Prefix{netip.MustParsePrefix("172.31.0.1/24"), netip.MustParsePrefix("fd31::1/64")},
		NextHops: []netip.Addr{netip.MustParseAddr("172.31.0.254"), netip.MustParseAddr("fe80::1")},
		NodePort: true,
	}
	v := FormatL3GatewayConfig(g)
	want := `{"default":{"mode":"shared","bridge-id":"br-ex","interface-id":"br-ex_node1","mac-address":"0a:58:ac:1f:00:01",` +
		`"ip-addresses":["172.31.0.1/24","fd31::1/64"],"ip-address":"172.31.0.1/24","next-hops":["172.31.0.254","fe80::1"],` +
		`"next-hop":"172.31.0.254","node-port-enable":"true","vlan-id":"0"}}`
	if v != want {
		t.Fatalf("annotation\n%s\nwant\n%s", v, want)
	}
	got, present, err := ParseL3GatewayConfig(map[string]string{L3GatewayConfigAnnotation: v})
	if err != nil || !present || !reflect.DeepEqual(got, g) {
		t.Errorf("round trip = %+v, %v, %v", got, present, err)
	}
	for _, tc := range []struct{ name, value, err string }{
		{"not JSON", `{`, "not valid JSON"},
		{"other network only", `{"blue":{}}`, `no "default" network`},
		{"local mode", `{"default":{"mode":"local"}}`, "only shared"},
		{"bad MAC", `{"default":{"mode":"shared","mac-address":"x"}}`, "mac-address"},
		{"bad address", `{"default":{"mode":"shared","mac-address":"0a:58:00:00:00:01","ip-addresses":["1.2.3"]}}`, "ip-addresses"},
		{"no address", `{"default":{"mode":"shared","mac-address":"0a:58:00:00:00:01","interface-id":"x"}}`, "lacks"},
	} {
		if _, _, err := ParseL3GatewayConfig(map[string]string{L3GatewayConfigAnnotation: tc.value}); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
	if _, present, err := ParseL3GatewayConfig(nil); present || err != nil {
		t.Error("absent annotation must be absent, not an error")
	}
}

func TestPrimaryIfAddr(t *testing.T) {
	got := FormatPrimaryIfAddr([]netip.Prefix{netip.MustParsePrefix("172.31.0.1/24"), netip.MustParsePrefix("172.31.1.1/24"), netip.MustParsePrefix("fd31::1/64")})
	if got != `{"ipv4":"172.31.0.1/24","ipv6":"fd31::1/64"}` {
		t.Errorf("got %s", got)
	}
}

func TestJoinAddrs(t *testing.T) {
	addrs := []netip.Prefix{netip.MustParsePrefix("100.64.0.2/16"), netip.MustParsePrefix("fd98::2/64")}
	v := FormatJoinAddrs(addrs)
	if v != `{"default":{"ipv4":"100.64.0.2/16","ipv6":"fd98::2/64"}}` {
		t.Fatalf("annotation %s", v)
	}
	got, present, err := ParseJoinAddrs(map[string]string{NodeGatewayRouterLRPIfAddrsAnnotation: v})
	if err != nil || !present || !reflect.DeepEqual(got, addrs) {
		t.Errorf("round trip = %v, %v, %v", got, present, err)
	}
	for _, bad := range []string{`{`, `{"default":{}}`, `{"default":{"ipv4":"fd98::2/64"}}`, `{"default":{"ipv4":"100.64.0.2"}}`} {
		if _, _, err := ParseJoinAddrs(map[string]string{NodeGatewayRouterLRPIfAddrsAnnotation: bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
