package topology

import (
	"net/netip"
	"testing"
)

func TestMACFromIP(t *testing.T) {
	for ip, mac := range map[string]string{
		"10.244.1.1":  "0a:58:0a:f4:01:01",
		"100.64.0.1":  "0a:58:64:40:00:01",
		"fd00::a:b0c": "0a:58:00:0a:0b:0c",
	} {
		if got := MACFromIP(netip.MustParseAddr(ip)).String(); got != mac {
			t.Errorf("MACFromIP(%s) = %s, want %s", ip, got, mac)
		}
	}
}
