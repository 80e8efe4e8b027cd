package mgmtport

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestPlan(t *testing.T) {
	pp := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, v := range s {
			out = append(out, netip.MustParsePrefix(v))
		}
		return out
	}
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name          string
		node, cluster []netip.Prefix
		want          Spec
		wantErr       bool
	}{
		{
			name: "ipv4", node: pp("10.244.1.0/24"), cluster: pp("10.244.0.0/16"),
			want: Spec{IfaceID: "k8s-n1", MAC: []byte{0x0a, 0x58, 10, 244, 1, 2}, MTU: 1400,
				Addresses: pp("10.244.1.2/24"),
				Routes:    []Route{{pp("10.244.0.0/16")[0], a("10.244.1.1")}}},
		},
		{
			name: "dual stack, v6 first in the annotation: MAC still from IPv4",
			node: pp("fd00:10:244:1::/64", "10.244.1.0/24"), cluster: pp("10.244.0.0/16", "fd00:10:244::/48"),
			want: Spec{IfaceID: "k8s-n1", MAC: []byte{0x0a, 0x58, 10, 244, 1, 2}, MTU: 1400,
				Addresses: pp("fd00:10:244:1::2/64", "10.244.1.2/24"),
				Routes: []Route{
					{pp("fd00:10:244::/48")[0], a("fd00:10:244:1::1")},
					{pp("10.244.0.0/16")[0], a("10.244.1.1")},
				}},
		},
		{name: "no subnet", wantErr: true},
		{name: "subnet too small", node: pp("10.244.1.0/31"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Plan("n1", tc.node, tc.cluster, 1400)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Plan =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
