package kube

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The fuzz targets below feed arbitrary annotation values to the codecs of
// the k8s.ovn.org/* contract: every one of those values is written by
// another process (or a user with kubectl) and must never crash the reader.
// Seeds are the valid and invalid values of the table tests next to each
// parser. `make fuzz` runs each target; `go test` runs the seeds only.

// FuzzParseNodeSubnets: a value ParseNodeSubnets accepts holds masked
// subnets, at most one per family, and FormatNodeSubnets of it parses back
// to the same subnets.
func FuzzParseNodeSubnets(f *testing.F) {
	for _, s := range []string{
		`{"default":["10.244.1.0/24"]}`,
		`{"default":["10.244.1.0/24","fd00:10:244:1::/64"]}`,
		`{"default":"10.244.1.0/24"}`,
		`{bad`,
		`{"other":["10.0.0.0/24"]}`,
		`{"default":["10.244.1.0/33"]}`,
		`{"default":["10.244.1.1/24"]}`,
		`{"default":["10.244.1.0/24","10.244.2.0/24"]}`,
		`{"default":[]}`,
		`{"default":5}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		subnets, present, err := ParseNodeSubnets(map[string]string{NodeSubnetsAnnotation: raw})
		if !present {
			t.Fatalf("ParseNodeSubnets(%q): present = false for a present annotation", raw)
		}
		if err != nil {
			if subnets != nil {
				t.Fatalf("ParseNodeSubnets(%q) = %v with error %v", raw, subnets, err)
			}
			return
		}
		if len(subnets) == 0 || len(subnets) > 2 {
			t.Fatalf("ParseNodeSubnets(%q) = %v: want one subnet per family", raw, subnets)
		}
		for _, p := range subnets {
			if p != p.Masked() {
				t.Fatalf("ParseNodeSubnets(%q) = %v: %v has host bits set", raw, subnets, p)
			}
		}
		if len(subnets) == 2 && subnets[0].Addr().Is4() == subnets[1].Addr().Is4() {
			t.Fatalf("ParseNodeSubnets(%q) = %v: two subnets of one family", raw, subnets)
		}
		formatted := FormatNodeSubnets(subnets)
		again, present, err := ParseNodeSubnets(map[string]string{NodeSubnetsAnnotation: formatted})
		if err != nil || !present || !slices.Equal(again, subnets) {
			t.Fatalf("ParseNodeSubnets(%q) = %v; FormatNodeSubnets = %q parses back to %v, %v, %v",
				raw, subnets, formatted, again, present, err)
		}
	})
}

// FuzzParsePodNetworks: a value ParsePodNetworks accepts has at least one
// address, at most one per family, and a 6-byte MAC; FormatPodNetworks of
// it parses back to the same addresses.
func FuzzParsePodNetworks(f *testing.F) {
	for _, s := range []string{
		`{"default":{"ip_addresses":["10.244.1.5/24","fd00:10:244:1::5/64"],"mac_address":"0a:58:0a:f4:01:05",` +
			`"gateway_ips":["10.244.1.1","fd00:10:244:1::1"],"routes":[{"dest":"100.64.0.0/16","nextHop":"10.244.1.1"}],` +
			`"ip_address":"10.244.1.5/24","gateway_ip":"10.244.1.1"}}`,
		`{"default":{"ip_addresses":["10.244.1.5/24"],"mac_address":"0a:58:0a:f4:01:05"}}`,
		`{`,
		`{"x":{}}`,
		`{"default":{"mac_address":"0a:58:0a:f4:01:05"}}`,
		`{"default":{"ip_addresses":["10.0.0.1"],"mac_address":"0a:58:0a:f4:01:05"}}`,
		`{"default":{"ip_addresses":["10.0.0.1/24"],"mac_address":"zz"}}`,
		`{"default":{"ip_addresses":["10.0.0.1/24","10.0.0.2/24"],"mac_address":"0a:58:0a:f4:01:05"}}`,
		`{"default":{"ip_addresses":["10.0.0.1/24"],"mac_address":"0a:58:0a:f4:01:05","routes":[{"dest":"x","nextHop":"10.0.0.1"}]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		addrs, present, err := ParsePodNetworks(map[string]string{PodNetworksAnnotation: raw})
		if !present {
			t.Fatalf("ParsePodNetworks(%q): present = false for a present annotation", raw)
		}
		if err != nil {
			if !reflect.DeepEqual(addrs, PodAddresses{}) {
				t.Fatalf("ParsePodNetworks(%q) = %+v with error %v", raw, addrs, err)
			}
			return
		}
		if len(addrs.IPs) == 0 || len(addrs.IPs) > 2 || len(addrs.MAC) != 6 {
			t.Fatalf("ParsePodNetworks(%q) = %+v: want 1-2 addresses and a 6-byte MAC", raw, addrs)
		}
		if len(addrs.IPs) == 2 && addrs.IPs[0].Addr().Is4() == addrs.IPs[1].Addr().Is4() {
			t.Fatalf("ParsePodNetworks(%q) = %+v: two addresses of one family", raw, addrs)
		}
		formatted := FormatPodNetworks(addrs)
		again, present, err := ParsePodNetworks(map[string]string{PodNetworksAnnotation: formatted})
		if err != nil || !present || !reflect.DeepEqual(again, addrs) {
			t.Fatalf("ParsePodNetworks(%q) = %+v; FormatPodNetworks = %q parses back to %+v, %v, %v",
				raw, addrs, formatted, again, present, err)
		}
	})
}

// FuzzParseNodeID: ParseNodeID only ever succeeds with a positive id, whose
// decimal form (what the master writes) parses back to the same id.
func FuzzParseNodeID(f *testing.F) {
	for _, s := range []string{"7", "1", "65535", "0", "-1", "x", "", " 7", "+7", "007", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, present, err := ParseNodeID(map[string]string{NodeIDAnnotation: raw})
		if !present {
			t.Fatalf("ParseNodeID(%q): present = false for a present annotation", raw)
		}
		if err != nil {
			if id != 0 {
				t.Fatalf("ParseNodeID(%q) = %d with error %v", raw, id, err)
			}
			return
		}
		if id <= 0 {
			t.Fatalf("ParseNodeID(%q) = %d, want a positive id", raw, id)
		}
		again, _, err := ParseNodeID(map[string]string{NodeIDAnnotation: strconv.Itoa(id)})
		if err != nil || again != id {
			t.Fatalf("ParseNodeID(%q) = %d; its decimal form parses back to %d, %v", raw, id, again, err)
		}
	})
}

// FuzzParseChassisID: an accepted chassis id is the annotation value
// unchanged, 1-64 characters of [A-Za-z0-9._-] starting with a letter or a
// digit (nothing that could break a row name), and parses back to itself.
func FuzzParseChassisID(f *testing.F) {
	for _, s := range []string{
		"6a1e3c7e-0b7a-4a43-9c39-c1d8f1c7a001", "node-1.example.com", "a",
		"", "a b", "x;y", "-a", "a\n", strings.Repeat("a", 64), strings.Repeat("a", 65),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := ParseChassisID(map[string]string{NodeChassisIDAnnotation: raw})
		if err != nil {
			if id != "" {
				t.Fatalf("ParseChassisID(%q) = %q with error %v", raw, id, err)
			}
			return
		}
		if id != raw {
			t.Fatalf("ParseChassisID(%q) = %q, want the value unchanged", raw, id)
		}
		if len(id) == 0 || len(id) > 64 {
			t.Fatalf("ParseChassisID(%q) accepted %d characters", raw, len(id))
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
				t.Fatalf("ParseChassisID(%q) accepted character %q at %d", raw, c, i)
			}
		}
		if again, err := ParseChassisID(map[string]string{NodeChassisIDAnnotation: id}); err != nil || again != id {
			t.Fatalf("ParseChassisID(%q) = %q does not parse back: %q, %v", raw, id, again, err)
		}
	})
}

// FuzzParseL3GatewayConfig: an accepted gateway config has an address and
// an interface id, and FormatL3GatewayConfig of it parses back to the same
// config.
func FuzzParseL3GatewayConfig(f *testing.F) {
	for _, s := range []string{
		`{"default":{"mode":"shared","bridge-id":"br-ex","interface-id":"br-ex_node1","mac-address":"0a:58:ac:1f:00:01",` +
			`"ip-addresses":["172.31.0.1/24","fd31::1/64"],"ip-address":"172.31.0.1/24","next-hops":["172.31.0.254","fe80::1"],` +
			`"next-hop":"172.31.0.254","node-port-enable":"true","vlan-id":"0"}}`,
		`{"default":{"mode":"shared","interface-id":"br-ex_node1","mac-address":"0a:58:ac:1f:00:01","ip-addresses":["172.31.0.1/24"],"vlan-id":"10"}}`,
		`{`,
		`{"blue":{}}`,
		`{"default":{"mode":"local"}}`,
		`{"default":{"mode":"shared","mac-address":"x"}}`,
		`{"default":{"mode":"shared","mac-address":"0a:58:00:00:00:01","ip-addresses":["1.2.3"]}}`,
		`{"default":{"mode":"shared","mac-address":"0a:58:00:00:00:01","interface-id":"x"}}`,
		`{"default":{"mode":"shared","mac-address":"0a:58:00:00:00:01","interface-id":"x","ip-addresses":["1.2.3.4/24"],"vlan-id":"x"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		g, present, err := ParseL3GatewayConfig(map[string]string{L3GatewayConfigAnnotation: raw})
		if !present {
			t.Fatalf("ParseL3GatewayConfig(%q): present = false for a present annotation", raw)
		}
		if err != nil {
			return
		}
		if len(g.IPs) == 0 || g.InterfaceID == "" {
			t.Fatalf("ParseL3GatewayConfig(%q) = %+v: lacks ip-addresses or interface-id", raw, g)
		}
		formatted := FormatL3GatewayConfig(g)
		again, present, err := ParseL3GatewayConfig(map[string]string{L3GatewayConfigAnnotation: formatted})
		if err != nil || !present || !reflect.DeepEqual(again, g) {
			t.Fatalf("ParseL3GatewayConfig(%q) = %+v; FormatL3GatewayConfig = %q parses back to %+v, %v, %v",
				raw, g, formatted, again, present, err)
		}
	})
}

// FuzzParseJoinAddrs: accepted join addresses are one or two prefixes,
// IPv4 first, one per family, and FormatJoinAddrs of them parses back to
// the same prefixes.
func FuzzParseJoinAddrs(f *testing.F) {
	for _, s := range []string{
		`{"default":{"ipv4":"100.64.0.2/16","ipv6":"fd98::2/64"}}`,
		`{"default":{"ipv4":"100.64.0.2/16"}}`,
		`{"default":{"ipv6":"fd98::2/64"}}`,
		`{`,
		`{"default":{}}`,
		`{"default":{"ipv4":"fd98::2/64"}}`,
		`{"default":{"ipv4":"100.64.0.2"}}`,
		`{"other":{"ipv4":"100.64.0.2/16"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		addrs, present, err := ParseJoinAddrs(map[string]string{NodeGatewayRouterLRPIfAddrsAnnotation: raw})
		if !present {
			t.Fatalf("ParseJoinAddrs(%q): present = false for a present annotation", raw)
		}
		if err != nil {
			if addrs != nil {
				t.Fatalf("ParseJoinAddrs(%q) = %v with error %v", raw, addrs, err)
			}
			return
		}
		switch {
		case len(addrs) == 0 || len(addrs) > 2:
			t.Fatalf("ParseJoinAddrs(%q) = %v: want one address per family", raw, addrs)
		case len(addrs) == 2 && (!addrs[0].Addr().Is4() || addrs[1].Addr().Is4()):
			t.Fatalf("ParseJoinAddrs(%q) = %v: want IPv4 first, then IPv6", raw, addrs)
		}
		formatted := FormatJoinAddrs(addrs)
		again, present, err := ParseJoinAddrs(map[string]string{NodeGatewayRouterLRPIfAddrsAnnotation: formatted})
		if err != nil || !present || !slices.Equal(again, addrs) {
			t.Fatalf("ParseJoinAddrs(%q) = %v; FormatJoinAddrs = %q parses back to %v, %v, %v",
				raw, addrs, formatted, again, present, err)
		}
	})
}
