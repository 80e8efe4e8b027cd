package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

func TestPodIPs(t *testing.T) {
	p, err := NewPodIPs([]netip.Prefix{netip.MustParsePrefix("10.244.1.0/29"), netip.MustParsePrefix("fd00:10:244:1::/64")})
	if err != nil {
		t.Fatal(err)
	}
	// A /29 has 8 addresses; network, .1, .2 and broadcast are reserved.
	want := []string{"10.244.1.3/29", "10.244.1.4/29", "10.244.1.5/29", "10.244.1.6/29"}
	seen := map[string]bool{}
	for i, w := range want {
		ips, err := p.Allocate(fmt.Sprintf("ns/pod%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if len(ips) != 2 || ips[0].String() != w || !ips[1].Addr().Is6() || ips[1].Bits() != 64 {
			t.Fatalf("pod%d got %v, want %s and an IPv6 /64 address", i, ips, w)
		}
		if seen[ips[1].String()] {
			t.Fatalf("IPv6 address %s handed out twice", ips[1])
		}
		seen[ips[1].String()] = true
	}
	if _, err := p.Allocate("ns/full"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("fifth pod: err = %v, want exhausted", err)
	}
	// Idempotent, release, and reuse after the cursor wraps.
	if ips, _ := p.Allocate("ns/pod1"); ips[0].String() != "10.244.1.4/29" {
		t.Errorf("re-allocate pod1 = %v", ips)
	}
	p.Release("ns/pod1")
	if ips, err := p.Allocate("ns/new"); err != nil || ips[0].String() != "10.244.1.4/29" {
		t.Errorf("after release: %v %v", ips, err)
	}
	// Marking a reserved or held address fails; marking outside the subnet fails.
	for _, ip := range []string{"10.244.1.1/29", "10.244.1.2/29", "10.244.1.3/29"} {
		if err := p.Mark("ns/x", []netip.Prefix{netip.MustParsePrefix(ip)}); !errors.Is(err, ErrConflict) {
			t.Errorf("mark %s: %v, want conflict", ip, err)
		}
	}
	if err := p.Mark("ns/x", []netip.Prefix{netip.MustParsePrefix("10.9.9.9/24")}); !errors.Is(err, ErrNotInRange) {
		t.Errorf("mark outside: %v", err)
	}
}
