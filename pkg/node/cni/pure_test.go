package cni

import (
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

func TestHostVethName(t *testing.T) {
	for _, tc := range []struct {
		id, want string
		wantErr  bool
	}{
		{id: "4a1f3bd2c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2", want: "4a1f3bd2c9e8f7a"},
		{id: "abc", want: "abc"},
		{id: "exactly15chars!", want: "exactly15chars!"},
		{id: "a/b:c d-e_f.g" + "0123456789", want: "abcd-e_f.g01234"},
		{id: "", wantErr: true},
		{id: "///", wantErr: true},
	} {
		got, err := HostVethName(tc.id)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("HostVethName(%q) = %q, %v; want %q, err %v", tc.id, got, err, tc.want, tc.wantErr)
		}
		if len(got) > 15 {
			t.Errorf("HostVethName(%q) = %q longer than 15", tc.id, got)
		}
	}
	a, _ := HostVethName("1111111111111110")
	b, _ := HostVethName("1111111111111111")
	if a != b {
		t.Errorf("derivation is not a prefix: %q vs %q", a, b)
	}
}

func TestBuildResult(t *testing.T) {
	mac, _ := net.ParseMAC("0a:58:0a:f4:01:05")
	hostMAC, _ := net.ParseMAC("ee:ee:ee:00:00:01")
	for _, tc := range []struct {
		name  string
		addrs kube.PodAddresses
		want  string
	}{
		{
			name: "ipv4 with extra route",
			addrs: kube.PodAddresses{
				IPs: []netip.Prefix{netip.MustParsePrefix("10.244.1.5/24")}, MAC: mac,
				Gateways: []netip.Addr{netip.MustParseAddr("10.244.1.1")},
				Routes:   []kube.Route{{Dest: netip.MustParsePrefix("100.64.0.0/16"), NextHop: netip.MustParseAddr("10.244.1.1")}},
			},
			want: `{"cniVersion":"1.0.0","interfaces":[{"name":"abc","mac":"ee:ee:ee:00:00:01"},{"name":"eth0","mac":"0a:58:0a:f4:01:05","sandbox":"/var/run/netns/p"}],` +
				`"ips":[{"interface":1,"address":"10.244.1.5/24","gateway":"10.244.1.1"}],` +
				`"routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"},{"dst":"100.64.0.0/16","gw":"10.244.1.1"}]}`,
		},
		{
			name: "dual stack",
			addrs: kube.PodAddresses{
				IPs: []netip.Prefix{netip.MustParsePrefix("10.244.1.5/24"), netip.MustParsePrefix("fd00:10:244:1::5/64")}, MAC: mac,
				Gateways: []netip.Addr{netip.MustParseAddr("10.244.1.1"), netip.MustParseAddr("fd00:10:244:1::1")},
			},
			want: `{"cniVersion":"1.0.0","interfaces":[{"name":"abc","mac":"ee:ee:ee:00:00:01"},{"name":"eth0","mac":"0a:58:0a:f4:01:05","sandbox":"/var/run/netns/p"}],` +
				`"ips":[{"interface":1,"address":"10.244.1.5/24","gateway":"10.244.1.1"},{"interface":1,"address":"fd00:10:244:1::5/64","gateway":"fd00:10:244:1::1"}],` +
				`"routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"},{"dst":"::/0","gw":"fd00:10:244:1::1"}]}`,
		},
		{
			name:  "no gateway",
			addrs: kube.PodAddresses{IPs: []netip.Prefix{netip.MustParsePrefix("10.244.1.5/24")}, MAC: mac},
			want: `{"cniVersion":"1.0.0","interfaces":[{"name":"abc","mac":"ee:ee:ee:00:00:01"},{"name":"eth0","mac":"0a:58:0a:f4:01:05","sandbox":"/var/run/netns/p"}],` +
				`"ips":[{"interface":1,"address":"10.244.1.5/24"}]}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := BuildResult(Link{Name: "abc", MAC: hostMAC}, Link{Name: "eth0", MAC: mac, Sandbox: "/var/run/netns/p"}, tc.addrs)
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			// Compare as JSON values: the CNI types marshal through maps,
			// so key order is not ours to fix.
			var got, want any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("result\n%s\nwant\n%s", b, tc.want)
			}
		})
	}
}
