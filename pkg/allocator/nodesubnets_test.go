package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
)

func newNodeSubnets(t *testing.T, ranges ...Range) *NodeSubnets {
	t.Helper()
	n, err := NewNodeSubnets(ranges)
	if err != nil {
		t.Fatalf("NewNodeSubnets(%v): %v", ranges, err)
	}
	return n
}

func TestNewNodeSubnets(t *testing.T) {
	tests := []struct {
		name         string
		ranges       []Range
		wantErr      error
		v4, v6       bool
		wantFirst    []string // first allocation
		wantCapacity [2]uint64
	}{
		{
			name:      "IPv4 only",
			ranges:    []Range{rng("10.244.0.0/16", 24)},
			v4:        true,
			wantFirst: []string{"10.244.0.0/24"}, wantCapacity: [2]uint64{256, 0},
		},
		{
			name:      "IPv6 only",
			ranges:    []Range{rng("fd00:10:244::/48", 64)},
			v6:        true,
			wantFirst: []string{"fd00:10:244::/64"}, wantCapacity: [2]uint64{0, 65536},
		},
		{
			name:      "dual-stack, IPv6 listed first, IPv4 returned first",
			ranges:    []Range{rng("fd00:10:244::/48", 64), rng("10.244.0.0/16", 24)},
			v4:        true,
			v6:        true,
			wantFirst: []string{"10.244.0.0/24", "fd00:10:244::/64"}, wantCapacity: [2]uint64{256, 65536},
		},
		{
			name: "per-family order is kept",
			ranges: []Range{rng("10.1.0.0/31", 32), rng("fd00:1::/48", 64),
				rng("10.0.0.0/16", 24), rng("fd00:0::/48", 64)},
			v4:        true,
			v6:        true,
			wantFirst: []string{"10.1.0.0/32", "fd00:1::/64"}, wantCapacity: [2]uint64{258, 131072},
		},
		{name: "no ranges", wantErr: ErrInvalid},
		{name: "bad IPv6 range", ranges: []Range{rng("10.244.0.0/16", 24), rng("fd00::/64", 64)}, wantErr: ErrInvalid},
		{name: "overlapping IPv4 ranges", ranges: []Range{rng("10.0.0.0/8", 24), rng("fd00::/48", 64), rng("10.1.0.0/16", 24)}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NewNodeSubnets(tt.ranges)
			if tt.wantErr != nil {
				if n != nil || !errors.Is(err, tt.wantErr) {
					t.Fatalf("NewNodeSubnets = %v, %v; want nil, %v", n, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v4, v6 := n.Families(); v4 != tt.v4 || v6 != tt.v6 {
				t.Errorf("Families = %v, %v; want %v, %v", v4, v6, tt.v4, tt.v6)
			}
			got, err := n.Allocate("node")
			if err != nil || !slices.Equal(got, pfxs(tt.wantFirst...)) {
				t.Errorf("Allocate = %v, %v; want %v", got, err, tt.wantFirst)
			}
			for i, ipv6 := range []bool{false, true} {
				_, capacity := n.Usage(ipv6)
				if capacity != tt.wantCapacity[i] {
					t.Errorf("Usage(ipv6=%v) capacity = %d, want %d", ipv6, capacity, tt.wantCapacity[i])
				}
			}
		})
	}
}

func TestNodeSubnetsAllocateGetRelease(t *testing.T) {
	n := newNodeSubnets(t, rng("10.244.0.0/16", 24), rng("fd00::/48", 64))
	a, err := n.Allocate("a")
	if want := pfxs("10.244.0.0/24", "fd00::/64"); err != nil || !slices.Equal(a, want) {
		t.Fatalf("Allocate(a) = %v, %v; want %v", a, err, want)
	}
	if again, err := n.Allocate("a"); err != nil || !slices.Equal(again, a) {
		t.Fatalf("Allocate(a) again = %v, %v; want %v", again, err, a)
	}
	if got, ok := n.Get("a"); !ok || !slices.Equal(got, a) {
		t.Fatalf("Get(a) = %v, %v; want %v", got, ok, a)
	}
	n.Release("a")
	if got, ok := n.Get("a"); ok {
		t.Fatalf("Get(a) after Release = %v, true", got)
	}
	for _, ipv6 := range []bool{false, true} {
		if alloc, _ := n.Usage(ipv6); alloc != 0 {
			t.Fatalf("Usage(ipv6=%v) allocated = %d after Release, want 0", ipv6, alloc)
		}
	}
}

// TestNodeSubnetsAllocateRollback: when the IPv6 range is exhausted the IPv4
// subnet allocated in the same call is given back and the IPv4 cursor is
// rewound, so the failure leaves no trace.
func TestNodeSubnetsAllocateRollback(t *testing.T) {
	n := newNodeSubnets(t, rng("10.244.0.0/16", 24), rng("fd00::/127", 128))
	for _, node := range []string{"a", "b"} {
		if _, err := n.Allocate(node); err != nil {
			t.Fatalf("Allocate(%s): %v", node, err)
		}
	}
	v4Before, _ := n.Usage(false)
	v6Before, _ := n.Usage(true)

	_, err := n.Allocate("c")
	checkErr(t, err, ErrExhausted, `"c"`, "fd00::/127/128")
	if got, ok := n.Get("c"); ok {
		t.Fatalf("Get(c) after failed Allocate = %v, true", got)
	}
	if v4, _ := n.Usage(false); v4 != v4Before {
		t.Fatalf("IPv4 allocated = %d after rollback, want %d", v4, v4Before)
	}
	if v6, _ := n.Usage(true); v6 != v6Before {
		t.Fatalf("IPv6 allocated = %d after rollback, want %d", v6, v6Before)
	}

	// A node that already held its IPv4 subnet keeps it when IPv6 fails.
	if err := n.Mark("d", pfxs("10.244.100.0/24")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Allocate("d"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Allocate(d) = %v, want ErrExhausted", err)
	}
	if got, ok := n.Get("d"); !ok || !slices.Equal(got, pfxs("10.244.100.0/24")) {
		t.Fatalf("Get(d) = %v, %v; want its marked IPv4 subnet only", got, ok)
	}

	n.Release("b")
	got, err := n.Allocate("c")
	if want := pfxs("10.244.2.0/24", "fd00::1/128"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Allocate(c) after Release(b) = %v, %v; want %v (rolled-back attempt must not move the cursor)", got, err, want)
	}
}

func TestNodeSubnetsMark(t *testing.T) {
	dual := []Range{rng("10.244.0.0/16", 24), rng("fd00::/48", 64)}
	tests := []struct {
		name    string
		ranges  []Range
		held    map[string][]string // node -> subnets marked beforehand
		node    string
		subnets []string
		wantErr error
		msgs    []string
		want    []string // Get(node) afterwards
	}{
		{
			name:   "dual-stack",
			ranges: dual, node: "a",
			subnets: []string{"fd00:0:0:7::/64", "10.244.7.0/24"},
			want:    []string{"10.244.7.0/24", "fd00:0:0:7::/64"},
		},
		{
			name:   "single family on dual-stack (conversion)",
			ranges: dual, node: "a",
			subnets: []string{"10.244.7.0/24"},
			want:    []string{"10.244.7.0/24"},
		},
		{
			name:   "nothing to mark",
			ranges: dual, node: "a",
		},
		{
			name:   "again is a no-op",
			ranges: dual, node: "a",
			held:    map[string][]string{"a": {"10.244.7.0/24", "fd00:0:0:7::/64"}},
			subnets: []string{"10.244.7.0/24", "fd00:0:0:7::/64"},
			want:    []string{"10.244.7.0/24", "fd00:0:0:7::/64"},
		},
		{
			name:   "family not configured",
			ranges: []Range{rng("10.244.0.0/16", 24)}, node: "a",
			subnets: []string{"10.244.7.0/24", "fd00::/64"},
			wantErr: ErrNotInRange,
			msgs:    []string{"fd00::/64", `"a"`, "IPv6"},
		},
		{
			name:   "IPv6 conflict rolls back IPv4",
			ranges: dual, node: "a",
			held:    map[string][]string{"b": {"fd00:0:0:7::/64"}},
			subnets: []string{"10.244.7.0/24", "fd00:0:0:7::/64"},
			wantErr: ErrConflict,
			msgs:    []string{`"a"`, `"b"`, "fd00:0:0:7::/64"},
		},
		{
			name:   "IPv6 failure keeps an IPv4 subnet held before the call",
			ranges: dual, node: "a",
			held:    map[string][]string{"a": {"10.244.7.0/24"}},
			subnets: []string{"10.244.7.0/24", "fd01::/64"},
			wantErr: ErrNotInRange,
			want:    []string{"10.244.7.0/24"},
		},
		{
			name:   "IPv6 host prefix changed rolls back IPv4",
			ranges: dual, node: "a",
			subnets: []string{"10.244.7.0/24", "fd00:0:0:7::/80"},
			wantErr: ErrHostPrefixMismatch,
			msgs:    []string{"fd00:0:0:7::/80", "host prefix 64"},
		},
		{
			name:   "two subnets of one family",
			ranges: dual, node: "a",
			subnets: []string{"10.244.7.0/24", "10.244.8.0/24"},
			wantErr: ErrInvalid,
			msgs:    []string{"10.244.7.0/24", "10.244.8.0/24"},
		},
		{
			name:   "unaligned subnet",
			ranges: dual, node: "a",
			subnets: []string{"10.244.7.1/24"},
			wantErr: ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNodeSubnets(t, tt.ranges...)
			for node, ss := range tt.held {
				if err := n.Mark(node, pfxs(ss...)); err != nil {
					t.Fatalf("setup Mark(%s, %v): %v", node, ss, err)
				}
			}
			err := n.Mark(tt.node, pfxs(tt.subnets...))
			checkErr(t, err, tt.wantErr, tt.msgs...)
			got, ok := n.Get(tt.node)
			if !slices.Equal(got, pfxs(tt.want...)) || ok != (len(tt.want) > 0) {
				t.Fatalf("Get(%s) = %v, %v; want %v", tt.node, got, ok, tt.want)
			}
		})
	}
}

// TestNodeSubnetsConversionToDualStack: a node marked with its IPv4 subnet
// only keeps it and gets a new IPv6 subnet from Allocate.
func TestNodeSubnetsConversionToDualStack(t *testing.T) {
	n := newNodeSubnets(t, rng("10.244.0.0/16", 24), rng("fd00::/48", 64))
	if err := n.Mark("a", pfxs("10.244.9.0/24")); err != nil {
		t.Fatal(err)
	}
	got, err := n.Allocate("a")
	if want := pfxs("10.244.9.0/24", "fd00::/64"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Allocate(a) = %v, %v; want %v", got, err, want)
	}
}

func TestNodeSubnetsConcurrent(t *testing.T) {
	n := newNodeSubnets(t, rng("10.244.0.0/16", 24), rng("fd00::/48", 64))
	const workers = 50
	results := make([][]netip.Prefix, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			node := fmt.Sprintf("node-%d", i)
			results[i], errs[i] = n.Allocate(node)
			n.Get(node)
			if i%5 == 0 {
				n.Release(node)
				results[i], errs[i] = n.Allocate(node)
			}
		})
	}
	wg.Wait()
	seen := map[netip.Prefix]bool{}
	for i, r := range results {
		if errs[i] != nil || len(r) != 2 {
			t.Fatalf("worker %d: %v, %v", i, r, errs[i])
		}
		for _, p := range r {
			if seen[p] {
				t.Fatalf("subnet %s handed out twice", p)
			}
			seen[p] = true
		}
	}
}
