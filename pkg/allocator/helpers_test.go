package allocator

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// rng builds a Range from a CIDR string and a host prefix.
func rng(cidr string, host int) Range {
	return Range{CIDR: netip.MustParsePrefix(cidr), HostPrefix: host}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func pfxs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = pfx(s)
	}
	return out
}

func newSubnets(t testing.TB, ranges ...Range) *SubnetAllocator {
	t.Helper()
	a, err := NewSubnetAllocator(ranges)
	if err != nil {
		t.Fatalf("NewSubnetAllocator(%v): %v", ranges, err)
	}
	return a
}

// checkErr fails unless err wraps want (nil meaning no error) and its
// message contains every string in msgs.
func checkErr(t *testing.T, err, want error, msgs ...string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %v", err, want)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}
