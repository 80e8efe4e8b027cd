package reconcile

import (
	"slices"
	"strings"
	"testing"
)

// The fuzz targets below feed arbitrary external_ids values to the parsers
// of the reconciler's ownership keys: NB rows are shared with operators and
// other tools, so k8s.ovn.org/id and k8s.ovn.org/parent may hold anything.
// Seeds are the values of the table tests (pure_test.go). `make fuzz` runs
// each target; `go test` runs the seeds only.

// FuzzParseRowID: an id parseRowID accepts has a non-empty owner type,
// owner name and local id, no ':' in the first three fields, and rowID of
// its parts is the id itself.
func FuzzParseRowID(f *testing.F) {
	for _, s := range []string{
		"default-network-controller:Node:n1:n1",
		"c:Node:n1:snat:fd00::/64",
		"c:NetworkPolicy:ns/deny:pg",
		":Node:n1:n1",
		"bad", "c:Node:n1", "c::n1:x", "c:Node::x", "c:Node:n1:", "", ":::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		controller, o, local, err := parseRowID(id)
		if err != nil {
			if controller != "" || o != (Owner{}) || local != "" {
				t.Fatalf("parseRowID(%q) = %q, %+v, %q with error %v", id, controller, o, local, err)
			}
			return
		}
		if o.Type == "" || o.Name == "" || local == "" {
			t.Fatalf("parseRowID(%q) = %q, %+v, %q: empty field", id, controller, o, local)
		}
		if strings.Contains(controller, ":") || strings.Contains(o.Type, ":") || strings.Contains(o.Name, ":") {
			t.Fatalf("parseRowID(%q) = %q, %+v, %q: ':' in controller or owner", id, controller, o, local)
		}
		if got := rowID(controller, o, local); got != id {
			t.Fatalf("parseRowID(%q) = %q, %+v, %q; rowID of them = %q", id, controller, o, local, got)
		}
	})
}

// FuzzDecodeParents: every link decodeParents returns has a non-empty
// owner and local id and a table without '.', ':' or ','; encodeParents of
// the links decodes back to the same links (as a set: encodeParents sorts).
func FuzzDecodeParents(f *testing.F) {
	for _, s := range []string{
		"Logical_Switch:c:Node:n1:n1,NAT.allowed_ext_ips:c:Node:n1:snat:fd00::/64,Port_Group:c:NetworkPolicy:ns/deny:pg",
		"Logical_Router.ports:default-network-controller:Node:n1:rtos-n1",
		"Load_Balancer_Group:default-network-controller:Cluster:cluster:clusterLBGroup",
		"", "garbage,Logical_Switch:bad", ",", "T.:c:Node:n1:x", ".col:c:Node:n1:x", ":c:Node:n1:x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		links := decodeParents(v)
		if v == "" && links != nil {
			t.Fatalf("decodeParents(\"\") = %+v, want nil", links)
		}
		for _, l := range links {
			if l.owner.Type == "" || l.owner.Name == "" || l.local == "" || strings.ContainsAny(l.table, ".:,") {
				t.Fatalf("decodeParents(%q) returned the malformed link %+v", v, l)
			}
		}
		enc := encodeParents("c", links)
		again := decodeParents(enc)
		if !slices.Equal(fuzzSortedLinks(again), fuzzSortedLinks(links)) {
			t.Fatalf("decodeParents(%q) = %+v; encodeParents = %q decodes to %+v", v, links, enc, again)
		}
	})
}

func fuzzSortedLinks(links []parentLink) []parentLink {
	out := slices.Clone(links)
	slices.SortFunc(out, func(a, b parentLink) int {
		return strings.Compare(encodeParents("c", []parentLink{a}), encodeParents("c", []parentLink{b}))
	})
	return out
}
