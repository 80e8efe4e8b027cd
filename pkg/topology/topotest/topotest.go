// Package topotest holds what the translation tests of every feature need:
// parsing prefixes and finding rows by id.
package topotest

import (
	"net/netip"

	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// Prefixes parses CIDRs, panicking on a typo in a test table.
func Prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s))
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// ByID indexes rows by their local id.
func ByID(rows []reconcile.Row) map[string]reconcile.Row {
	m := make(map[string]reconcile.Row, len(rows))
	for _, r := range rows {
		m[r.ID] = r
	}
	return m
}
