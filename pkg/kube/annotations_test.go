package kube

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseNodeSubnets(t *testing.T) {
	tests := []struct {
		raw     *string
		want    []string
		present bool
		err     string
	}{
		{raw: nil},
		{raw: ptr(`{"default":["10.244.1.0/24"]}`), want: []string{"10.244.1.0/24"}, present: true},
		{raw: ptr(`{"default":["10.244.1.0/24","fd00:10:244:1::/64"]}`), want: []string{"10.244.1.0/24", "fd00:10:244:1::/64"}, present: true},
		{raw: ptr(`{"default":"10.244.1.0/24"}`), want: []string{"10.244.1.0/24"}, present: true},
		{raw: ptr(`{bad`), present: true, err: "not a JSON object"},
		{raw: ptr(`{"other":["10.0.0.0/24"]}`), present: true, err: `no "default" network`},
		{raw: ptr(`{"default":["10.244.1.0/33"]}`), present: true, err: "bad CIDR"},
		{raw: ptr(`{"default":["10.244.1.1/24"]}`), present: true, err: "host bits"},
		{raw: ptr(`{"default":["10.244.1.0/24","10.244.2.0/24"]}`), present: true, err: "two subnets of one family"},
		{raw: ptr(`{"default":[]}`), present: true, err: "no subnet"},
		{raw: ptr(`{"default":5}`), present: true, err: "must be a list"},
	}
	for _, tt := range tests {
		ann := map[string]string{}
		if tt.raw != nil {
			ann[NodeSubnetsAnnotation] = *tt.raw
		}
		got, present, err := ParseNodeSubnets(ann)
		if present != tt.present {
			t.Errorf("%v: present = %v", ann, present)
		}
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: err = %v, want %q", ann, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", ann, err)
			continue
		}
		var want []netip.Prefix
		for _, s := range tt.want {
			want = append(want, netip.MustParsePrefix(s))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: got %v, want %v", ann, got, want)
		}
		if tt.raw != nil && strings.HasPrefix(*tt.raw, `{"default":[`) && FormatNodeSubnets(got) != *tt.raw {
			t.Errorf("round trip: %s != %s", FormatNodeSubnets(got), *tt.raw)
		}
	}
}

func TestParseNodeIDAndChassis(t *testing.T) {
	if id, ok, err := ParseNodeID(map[string]string{NodeIDAnnotation: "7"}); id != 7 || !ok || err != nil {
		t.Errorf("node-id 7: %d %v %v", id, ok, err)
	}
	for _, bad := range []string{"0", "-1", "x"} {
		if _, _, err := ParseNodeID(map[string]string{NodeIDAnnotation: bad}); err == nil {
			t.Errorf("node-id %q accepted", bad)
		}
	}
	if id, err := ParseChassisID(map[string]string{NodeChassisIDAnnotation: "6a1e3c7e-0b7a-4a43-9c39-c1d8f1c7a001"}); err != nil || id == "" {
		t.Errorf("uuid chassis id: %q %v", id, err)
	}
	for _, bad := range []string{"", "a b", "x;y", strings.Repeat("a", 65)} {
		if _, err := ParseChassisID(map[string]string{NodeChassisIDAnnotation: bad}); err == nil {
			t.Errorf("chassis id %q accepted", bad)
		}
	}
}

func ptr(s string) *string { return &s }

func TestPodNetworksRoundTrip(t *testing.T) {
	in := PodAddresses{
		IPs:      []netip.Prefix{netip.MustParsePrefix("10.244.1.5/24"), netip.MustParsePrefix("fd00:10:244:1::5/64")},
		Gateways: []netip.Addr{netip.MustParseAddr("10.244.1.1"), netip.MustParseAddr("fd00:10:244:1::1")},
		Routes:   []Route{{Dest: netip.MustParsePrefix("100.64.0.0/16"), NextHop: netip.MustParseAddr("10.244.1.1")}},
	}
	in.MAC, _ = net.ParseMAC("0a:58:0a:f4:01:05")
	raw := FormatPodNetworks(in)
	if !strings.Contains(raw, `"ip_address":"10.244.1.5/24"`) || !strings.Contains(raw, `"gateway_ip":"10.244.1.1"`) {
		t.Errorf("legacy fields missing: %s", raw)
	}
	out, ok, err := ParsePodNetworks(map[string]string{PodNetworksAnnotation: raw})
	if !ok || err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip: %+v %v %v, want %+v", out, ok, err, in)
	}
	for _, bad := range []string{`{`, `{"x":{}}`, `{"default":{"mac_address":"0a:58:0a:f4:01:05"}}`,
		`{"default":{"ip_addresses":["10.0.0.1"],"mac_address":"0a:58:0a:f4:01:05"}}`,
		`{"default":{"ip_addresses":["10.0.0.1/24"],"mac_address":"zz"}}`} {
		if _, _, err := ParsePodNetworks(map[string]string{PodNetworksAnnotation: bad}); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
