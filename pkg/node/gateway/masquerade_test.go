package gateway

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestPlanMasquerade(t *testing.T) {
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		name             string
		masq, services   []netip.Prefix
		addrs, routes    string
		nextHops, errMsg string
	}{
		{name: "IPv4", masq: pp("169.254.169.0/29"), services: pp("10.96.0.0/16"),
			addrs: "[169.254.169.2/29]", routes: "[10.96.0.0/16 via 169.254.169.4 src 169.254.169.2]", nextHops: "[169.254.169.4]"},
		{name: "dual stack, unmasked service CIDR", masq: pp("169.254.169.0/29", "fd69::/125"), services: pp("10.96.0.1/16", "fd00:10:96::/112"),
			addrs:    "[169.254.169.2/29 fd69::2/125]",
			routes:   "[10.96.0.0/16 via 169.254.169.4 src 169.254.169.2 fd00:10:96::/112 via fd69::4 src fd69::2]",
			nextHops: "[169.254.169.4 fd69::4]"},
		{name: "a service family without a masquerade subnet", masq: pp("169.254.169.0/29"), services: pp("fd00:10:96::/112"),
			errMsg: "service CIDR fd00:10:96::/112 has no masquerade subnet of its family"},
		{name: "masquerade subnet too small", masq: pp("169.254.169.0/30"), services: pp("10.96.0.0/16"),
			errMsg: "masquerade subnet: subnet 169.254.169.0/30 has no address number 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := PlanMasquerade(tt.masq, tt.services)
			if tt.errMsg != "" {
				if err == nil || err.Error() != tt.errMsg {
					t.Fatalf("err = %v, want %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(m.Addrs); got != tt.addrs {
				t.Errorf("addrs = %s, want %s", got, tt.addrs)
			}
			if got := fmt.Sprint(m.Routes); got != tt.routes {
				t.Errorf("routes = %s, want %s", got, tt.routes)
			}
			if got := fmt.Sprint(m.NextHops); got != tt.nextHops {
				t.Errorf("next hops = %s, want %s", got, tt.nextHops)
			}
		})
	}
}
