package allocator

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"testing"
)

func TestNewSubnetAllocatorErrors(t *testing.T) {
	tests := []struct {
		name   string
		ranges []Range
	}{
		{"no ranges", nil},
		{"invalid CIDR", []Range{{HostPrefix: 24}}},
		{"mixed families", []Range{rng("10.244.0.0/16", 24), rng("fd00::/48", 64)}},
		{"host prefix equal to CIDR prefix", []Range{rng("10.244.0.0/16", 16)}},
		{"host prefix shorter than CIDR prefix", []Range{rng("10.244.0.0/16", 8)}},
		{"host prefix beyond IPv4 bits", []Range{rng("10.244.0.0/16", 33)}},
		{"host prefix beyond IPv6 bits", []Range{rng("fd00::/48", 129)}},
		{"overlapping ranges", []Range{rng("10.0.0.0/8", 24), rng("10.244.0.0/16", 24)}},
		{"duplicate ranges", []Range{rng("10.244.0.0/16", 24), rng("10.244.0.0/16", 24)}},
		{"IPv4-mapped IPv6", []Range{rng("::ffff:10.0.0.0/104", 120)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewSubnetAllocator(tt.ranges)
			if a != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewSubnetAllocator(%v) = %v, %v; want nil, ErrInvalid", tt.ranges, a, err)
			}
		})
	}
}

func TestAllocateSequence(t *testing.T) {
	tests := []struct {
		name   string
		ranges []Range
		want   []string // successive allocations
		full   bool     // the next allocation must fail with ErrExhausted
	}{
		{
			name:   "IPv4 /16 host 24",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			want:   []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"},
		},
		{
			name:   "CIDR host bits are ignored",
			ranges: []Range{rng("10.244.7.0/16", 24)},
			want:   []string{"10.244.0.0/24", "10.244.1.0/24"},
		},
		{
			name:   "tiny range exhausts",
			ranges: []Range{rng("10.0.0.0/30", 31)},
			want:   []string{"10.0.0.0/31", "10.0.0.2/31"},
			full:   true,
		},
		{
			name:   "host prefix equal to address length",
			ranges: []Range{rng("192.168.0.0/30", 32)},
			want:   []string{"192.168.0.0/32", "192.168.0.1/32", "192.168.0.2/32", "192.168.0.3/32"},
			full:   true,
		},
		{
			name:   "ranges used in order",
			ranges: []Range{rng("10.1.0.0/30", 31), rng("10.0.0.0/30", 31)},
			want:   []string{"10.1.0.0/31", "10.1.0.2/31", "10.0.0.0/31", "10.0.0.2/31"},
			full:   true,
		},
		{
			name:   "whole IPv4 space",
			ranges: []Range{rng("0.0.0.0/0", 1)},
			want:   []string{"0.0.0.0/1", "128.0.0.0/1"},
			full:   true,
		},
		{
			name:   "IPv6 /32 host 64",
			ranges: []Range{rng("2001:db8::/32", 64)},
			want:   []string{"2001:db8::/64", "2001:db8:0:1::/64", "2001:db8:0:2::/64"},
		},
		{
			name:   "IPv6 subnet boundary crossing 64 bits",
			ranges: []Range{rng("fd00::/63", 65)},
			want:   []string{"fd00::/65", "fd00::8000:0:0:0/65", "fd00:0:0:1::/65", "fd00:0:0:1:8000::/65"},
			full:   true,
		},
		{
			name:   "whole IPv6 space, host 128",
			ranges: []Range{rng("::/0", 128)},
			want:   []string{"::/128", "::1/128", "::2/128"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newSubnets(t, tt.ranges...)
			for i, w := range tt.want {
				got, err := a.Allocate(fmt.Sprintf("node-%d", i))
				if err != nil {
					t.Fatalf("Allocate #%d: %v", i, err)
				}
				if got != pfx(w) {
					t.Fatalf("Allocate #%d = %s, want %s", i, got, w)
				}
			}
			_, err := a.Allocate("one-more")
			if tt.full {
				checkErr(t, err, ErrExhausted, `"one-more"`, tt.ranges[0].String())
				var se *SubnetError
				if !errors.As(err, &se) || se.Owner != "one-more" {
					t.Errorf("error %v is not a *SubnetError for one-more", err)
				}
			} else if err != nil {
				t.Fatalf("Allocate after sequence: %v", err)
			}
		})
	}
}

func TestAllocateIdempotent(t *testing.T) {
	a := newSubnets(t, rng("10.244.0.0/16", 24))
	first, err := a.Allocate("a")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := a.Allocate("a"); err != nil || got != first {
			t.Fatalf("Allocate(a) again = %s, %v; want %s", got, err, first)
		}
	}
	if got, _ := a.Allocate("b"); got != pfx("10.244.1.0/24") {
		t.Fatalf("Allocate(b) = %s, want 10.244.1.0/24", got)
	}
	if alloc, _ := a.Usage(); alloc != 2 {
		t.Fatalf("allocated = %d, want 2", alloc)
	}
}

func TestAllocateEmptyOwner(t *testing.T) {
	a := newSubnets(t, rng("10.244.0.0/16", 24))
	_, err := a.Allocate("")
	checkErr(t, err, ErrInvalid)
}

// TestReleaseReuse checks next-fit: a released subnet is reused only after
// the cursor has gone past every other free subnet and wrapped.
func TestReleaseReuse(t *testing.T) {
	type step struct {
		op    string // "alloc" or "release"
		owner string
		want  string // for alloc: expected subnet, "" for ErrExhausted
	}
	tests := []struct {
		name   string
		ranges []Range
		steps  []step
	}{
		{
			name:   "released subnet reused after wrap",
			ranges: []Range{rng("10.0.0.0/29", 31)},
			steps: []step{
				{"alloc", "a", "10.0.0.0/31"},
				{"alloc", "b", "10.0.0.2/31"},
				{"alloc", "c", "10.0.0.4/31"},
				{"release", "a", ""},
				{"alloc", "d", "10.0.0.6/31"},
				{"alloc", "e", "10.0.0.0/31"},
				{"alloc", "f", ""},
				{"release", "c", ""},
				{"alloc", "g", "10.0.0.4/31"},
			},
		},
		{
			name:   "released subnet of first range preferred over second range",
			ranges: []Range{rng("10.0.0.0/30", 31), rng("10.1.0.0/30", 31)},
			steps: []step{
				{"alloc", "a", "10.0.0.0/31"},
				{"alloc", "b", "10.0.0.2/31"},
				{"alloc", "c", "10.1.0.0/31"},
				{"release", "a", ""},
				{"alloc", "d", "10.0.0.0/31"},
				{"alloc", "e", "10.1.0.2/31"},
				{"alloc", "f", ""},
			},
		},
		{
			name:   "release of unknown owner is a no-op",
			ranges: []Range{rng("10.0.0.0/30", 31)},
			steps: []step{
				{"alloc", "a", "10.0.0.0/31"},
				{"release", "nobody", ""},
				{"alloc", "b", "10.0.0.2/31"},
				{"alloc", "c", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newSubnets(t, tt.ranges...)
			for i, s := range tt.steps {
				if s.op == "release" {
					a.Release(s.owner)
					if _, ok := a.Get(s.owner); ok {
						t.Fatalf("step %d: %s still holds a subnet after Release", i, s.owner)
					}
					continue
				}
				got, err := a.Allocate(s.owner)
				if s.want == "" {
					checkErr(t, err, ErrExhausted, s.owner)
					continue
				}
				if err != nil || got != pfx(s.want) {
					t.Fatalf("step %d: Allocate(%s) = %s, %v; want %s", i, s.owner, got, err, s.want)
				}
			}
		})
	}
}

func TestMarkThenAllocateSkips(t *testing.T) {
	a := newSubnets(t, rng("10.244.0.0/16", 24))
	for owner, s := range map[string]string{"x": "10.244.0.0/24", "y": "10.244.2.0/24", "z": "10.244.3.0/24"} {
		if err := a.Mark(owner, pfx(s)); err != nil {
			t.Fatalf("Mark(%s, %s): %v", owner, s, err)
		}
	}
	for _, want := range []string{"10.244.1.0/24", "10.244.4.0/24"} {
		got, err := a.Allocate("new-" + want)
		if err != nil || got != pfx(want) {
			t.Fatalf("Allocate = %s, %v; want %s", got, err, want)
		}
	}
	if got, _ := a.Allocate("x"); got != pfx("10.244.0.0/24") {
		t.Fatalf("Allocate(x) = %s, want its marked 10.244.0.0/24", got)
	}
	if alloc, capacity := a.Usage(); alloc != 5 || capacity != 256 {
		t.Fatalf("Usage = %d, %d; want 5, 256", alloc, capacity)
	}
}

func TestMarkErrors(t *testing.T) {
	tests := []struct {
		name    string
		ranges  []Range
		held    map[string]string // owner -> subnet marked beforehand
		owner   string
		subnet  netip.Prefix
		wantErr error
		msgs    []string
	}{
		{
			name:   "same owner same subnet is a no-op",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			held:   map[string]string{"a": "10.244.5.0/24"},
			owner:  "a", subnet: pfx("10.244.5.0/24"),
		},
		{
			name:   "conflict names both owners",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			held:   map[string]string{"node-b": "10.244.5.0/24"},
			owner:  "node-a", subnet: pfx("10.244.5.0/24"),
			wantErr: ErrConflict,
			msgs:    []string{"10.244.5.0/24", `"node-a"`, `"node-b"`},
		},
		{
			name:   "owner already holds another subnet",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			held:   map[string]string{"node-a": "10.244.5.0/24"},
			owner:  "node-a", subnet: pfx("10.244.6.0/24"),
			wantErr: ErrOwnerHasSubnet,
			msgs:    []string{"10.244.5.0/24", "10.244.6.0/24", `"node-a"`},
		},
		{
			name:   "host prefix changed",
			ranges: []Range{rng("10.244.0.0/16", 23)},
			owner:  "node-a", subnet: pfx("10.244.1.0/24"),
			wantErr: ErrHostPrefixMismatch,
			msgs: []string{`"node-a"`,
				"subnet 10.244.1.0/24 has prefix length 24 but the cluster subnet 10.244.0.0/16 uses host prefix 23; the host prefix cannot change"},
		},
		{
			name:   "subnet larger than the range",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			owner:  "node-a", subnet: pfx("10.0.0.0/8"),
			wantErr: ErrHostPrefixMismatch,
			msgs:    []string{"10.0.0.0/8", "host prefix 24"},
		},
		{
			name:   "not in any range",
			ranges: []Range{rng("10.244.0.0/16", 24), rng("10.245.0.0/16", 24)},
			owner:  "node-a", subnet: pfx("10.1.0.0/24"),
			wantErr: ErrNotInRange,
			msgs:    []string{"10.1.0.0/24", `"node-a"`, "10.244.0.0/16/24", "10.245.0.0/16/24"},
		},
		{
			name:   "cluster subnet narrowed",
			ranges: []Range{rng("10.128.0.0/19", 23)},
			owner:  "node-a", subnet: pfx("10.128.64.0/23"),
			wantErr: ErrNotInRange,
			msgs:    []string{"10.128.64.0/23"},
		},
		{
			name:   "other family",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			owner:  "node-a", subnet: pfx("fd00::/64"),
			wantErr: ErrNotInRange,
			msgs:    []string{"fd00::/64"},
		},
		{
			name:   "host bits set",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			owner:  "node-a", subnet: pfx("10.244.1.1/24"),
			wantErr: ErrInvalid,
			msgs:    []string{"10.244.1.1/24", "10.244.1.0/24", `"node-a"`},
		},
		{
			name:   "invalid subnet",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			owner:  "node-a", subnet: netip.Prefix{},
			wantErr: ErrInvalid,
		},
		{
			name:   "empty owner",
			ranges: []Range{rng("10.244.0.0/16", 24)},
			owner:  "", subnet: pfx("10.244.1.0/24"),
			wantErr: ErrInvalid,
		},
		{
			name:   "IPv6 subnet in an IPv6 range beyond 2^64 subnets",
			ranges: []Range{rng("::/0", 128)},
			owner:  "node-a", subnet: pfx("ffff::1/128"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newSubnets(t, tt.ranges...)
			for o, s := range tt.held {
				if err := a.Mark(o, pfx(s)); err != nil {
					t.Fatalf("setup Mark(%s, %s): %v", o, s, err)
				}
			}
			before, _ := a.Usage()
			err := a.Mark(tt.owner, tt.subnet)
			checkErr(t, err, tt.wantErr, tt.msgs...)
			after, _ := a.Usage()
			if tt.wantErr != nil {
				var se *SubnetError
				if !errors.As(err, &se) || se.Owner != tt.owner || se.Subnet != tt.subnet {
					t.Errorf("error %#v does not carry owner %q and subnet %s", err, tt.owner, tt.subnet)
				}
				if after != before {
					t.Errorf("failed Mark changed usage from %d to %d", before, after)
				}
				return
			}
			if got, ok := a.Owner(tt.subnet); !ok || got != tt.owner {
				t.Errorf("Owner(%s) = %q, %v; want %q", tt.subnet, got, ok, tt.owner)
			}
		})
	}
}

func TestSubnetErrorDetails(t *testing.T) {
	a := newSubnets(t, rng("10.244.0.0/16", 24))
	if err := a.Mark("b", pfx("10.244.1.0/24")); err != nil {
		t.Fatal(err)
	}
	var se *SubnetError
	if err := a.Mark("a", pfx("10.244.1.0/24")); !errors.As(err, &se) || se.OtherOwner != "b" {
		t.Fatalf("conflict error %v: want OtherOwner b", err)
	}
	if err := a.Mark("b", pfx("10.244.2.0/24")); !errors.As(err, &se) || se.OtherSubnet != pfx("10.244.1.0/24") {
		t.Fatalf("owner-has-subnet error %v: want OtherSubnet 10.244.1.0/24", err)
	}
}

// TestWidening: subnets allocated under a narrow cluster subnet must be
// honoured by an allocator over a wider one with the same host prefix.
func TestWidening(t *testing.T) {
	narrow := newSubnets(t, rng("10.128.0.0/19", 23))
	existing := map[string]netip.Prefix{}
	for i := range 16 {
		owner := fmt.Sprintf("node-%d", i)
		p, err := narrow.Allocate(owner)
		if err != nil {
			t.Fatal(err)
		}
		existing[owner] = p
	}
	if _, err := narrow.Allocate("extra"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("narrow range should be full, got %v", err)
	}
	narrow.Release("node-3") // a hole the wide allocator must fill first

	wide := newSubnets(t, rng("10.128.0.0/14", 23))
	for owner, p := range existing {
		if owner == "node-3" {
			continue
		}
		if err := wide.Mark(owner, p); err != nil {
			t.Fatalf("Mark(%s, %s) into widened range: %v", owner, p, err)
		}
	}
	want := []string{"10.128.6.0/23", "10.128.32.0/23", "10.128.34.0/23"}
	for i, w := range want {
		got, err := wide.Allocate(fmt.Sprintf("new-%d", i))
		if err != nil || got != pfx(w) {
			t.Fatalf("Allocate new-%d = %s, %v; want %s", i, got, err, w)
		}
	}
	if alloc, capacity := wide.Usage(); alloc != 18 || capacity != 512 {
		t.Fatalf("Usage = %d, %d; want 18, 512", alloc, capacity)
	}
}

func TestUsageCapacity(t *testing.T) {
	tests := []struct {
		name   string
		ranges []Range
		want   uint64
	}{
		{"IPv4 /16 host 24", []Range{rng("10.244.0.0/16", 24)}, 256},
		{"two ranges add up", []Range{rng("10.244.0.0/16", 24), rng("10.0.0.0/30", 31)}, 258},
		{"IPv6 /32 host 64", []Range{rng("2001:db8::/32", 64)}, 1 << 32},
		{"2^63 subnets", []Range{rng("::/1", 64)}, 1 << 63},
		{"2^64 subnets saturate", []Range{rng("fd00::/8", 72)}, math.MaxUint64},
		{"whole IPv6 space saturates", []Range{rng("::/0", 128)}, math.MaxUint64},
		{"sum saturates", []Range{rng("::/1", 64), rng("8000::/1", 64)}, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newSubnets(t, tt.ranges...)
			if alloc, capacity := a.Usage(); alloc != 0 || capacity != tt.want {
				t.Fatalf("Usage = %d, %d; want 0, %d", alloc, capacity, tt.want)
			}
		})
	}
}

// TestLargeIPv6Range checks that cost depends on what is allocated, not on
// the 2^32 subnets the range could hold.
func TestLargeIPv6Range(t *testing.T) {
	a := newSubnets(t, rng("2001:db8::/32", 64))
	const n = 10000
	seen := make(map[netip.Prefix]bool, n)
	for i := range n {
		p, err := a.Allocate(fmt.Sprintf("node-%d", i))
		if err != nil {
			t.Fatalf("Allocate #%d: %v", i, err)
		}
		if seen[p] || p.Bits() != 64 || !pfx("2001:db8::/32").Contains(p.Addr()) {
			t.Fatalf("Allocate #%d = %s: duplicate or outside the range", i, p)
		}
		seen[p] = true
	}
	if alloc, capacity := a.Usage(); alloc != n || capacity != 1<<32 {
		t.Fatalf("Usage = %d, %d; want %d, %d", alloc, capacity, n, uint64(1)<<32)
	}
	// Allocation must not walk the range: measure it, generously, so
	// -race and a loaded machine do not make the test flaky.
	allocs := testing.AllocsPerRun(100, func() {
		a.Release("node-0")
		if _, err := a.Allocate("node-0"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 10 {
		t.Fatalf("release+allocate did %v allocations, want O(1)", allocs)
	}
}

func TestConcurrentAllocate(t *testing.T) {
	a := newSubnets(t, rng("10.244.0.0/16", 24))
	const workers = 50
	results := make([]netip.Prefix, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("node-%d", i)
			results[i], errs[i] = a.Allocate(owner)
			// Interleave readers and idempotent re-allocations.
			a.Usage()
			a.Owner(results[i])
			if again, err := a.Allocate(owner); err != nil || again != results[i] {
				errs[i] = fmt.Errorf("re-Allocate = %s, %w", again, err)
			}
		})
	}
	wg.Wait()
	seen := map[netip.Prefix]int{}
	for i, p := range results {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		if j, dup := seen[p]; dup {
			t.Fatalf("workers %d and %d both got %s", j, i, p)
		}
		seen[p] = i
	}
	if alloc, _ := a.Usage(); alloc != workers {
		t.Fatalf("allocated = %d, want %d", alloc, workers)
	}
}

func BenchmarkAllocate(b *testing.B) {
	const owners = 20000
	names := make([]string, owners)
	for i := range names {
		names[i] = fmt.Sprintf("node-%d", i)
	}
	ranges := []Range{rng("10.0.0.0/8", 24)}
	for b.Loop() {
		a, err := NewSubnetAllocator(ranges)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range names {
			if _, err := a.Allocate(n); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*owners), "ns/owner")
}
