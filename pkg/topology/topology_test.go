package topology

import (
	"net"
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

func TestLinkLocalFromMAC(t *testing.T) {
	for mac, want := range map[string]string{
		"0a:58:0a:f4:01:01": "fe80::858:aff:fef4:101", // the U/L bit of 0a flips to 08
		"00:00:00:00:00:01": "fe80::200:ff:fe00:1",
	} {
		hw, err := net.ParseMAC(mac)
		if err != nil {
			t.Fatal(err)
		}
		if got := LinkLocalFromMAC(hw).String(); got != want {
			t.Errorf("LinkLocalFromMAC(%s) = %s, want %s", mac, got, want)
		}
	}
}
