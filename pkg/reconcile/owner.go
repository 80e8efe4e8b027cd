package reconcile

import (
	"fmt"
	"sort"
	"strings"
)

// External-ID keys that mark a row as ours. Every row the reconciler writes
// carries all four, and garbage collection only ever considers rows that carry
// OwnerControllerKey with our controller name.
const (
	OwnerControllerKey = "k8s.ovn.org/owner-controller"
	OwnerTypeKey       = "k8s.ovn.org/owner-type"
	OwnerKey           = "k8s.ovn.org/owner"
	IDKey              = "k8s.ovn.org/id"
	// ParentKey records, on a row that lives in other rows' reference sets
	// (a router port in a router's ports, a load balancer in a group), which
	// rows those are: "<Table>[.<column>]:<parent id>", comma-separated and
	// sorted. Leaving a parent or deleting a stale row needs the parents the
	// row was linked into, and the desired state that named them is gone by
	// then; reading them from the row costs no reverse index.
	ParentKey = "k8s.ovn.org/parent"

	// OwnedKeyPrefix marks the external_ids keys the reconciler removes when
	// no longer desired. Other keys (an operator's note, a key of another
	// tool, the upstream-compatible keys translators set such as "pod") are
	// added and updated as desired but never removed: external_ids is shared.
	OwnedKeyPrefix = "k8s.ovn.org/"

	// DefaultController is the owner-controller value of the default network.
	DefaultController = "default-network-controller"
)

// Owner is the Kubernetes object (or the cluster itself) whose desired state
// produces a set of NB rows. It is also the workqueue key.
type Owner struct {
	Type string // "Node", "Pod", "Cluster", ...
	Name string // the object's key: "node1", "ns/pod"
}

func (o Owner) String() string { return o.Type + "/" + o.Name }

// rowID composes the stable k8s.ovn.org/id of one row of owner:
// "<controller>:<owner type>:<owner>:<local id>". Kubernetes names never
// contain ':', so the first three fields parse back unambiguously even when
// the local id does (an IPv6 route, say).
func rowID(controller string, o Owner, local string) string {
	return controller + ":" + o.Type + ":" + o.Name + ":" + local
}

// parseRowID splits a k8s.ovn.org/id back into its owner and local id.
func parseRowID(id string) (controller string, o Owner, local string, err error) {
	parts := strings.SplitN(id, ":", 4)
	if len(parts) != 4 || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return "", Owner{}, "", fmt.Errorf("malformed %s %q", IDKey, id)
	}
	return parts[0], Owner{Type: parts[1], Name: parts[2]}, parts[3], nil
}

// RowOwner reads a row's owner and local id back from its external_ids;
// ok is false for a row without our tags (written by someone else) or of
// another controller. Readers outside the reconciler (ovnkube explain) name
// rows that have no name column by their local id ("snat-10.244.1.0/24").
func RowOwner(externalIDs map[string]string, controller string) (o Owner, local string, ok bool) {
	if externalIDs[OwnerControllerKey] != controller {
		return Owner{}, "", false
	}
	c, o, local, err := parseRowID(externalIDs[IDKey])
	if err != nil || c != controller {
		return Owner{}, "", false
	}
	return o, local, true
}

// target identifies a row by what survives restarts and re-creation: its
// table, owner and local id (never its uuid).
type target struct {
	table string
	owner Owner
	local string
}

func (r Ref) target() target { return target{table: r.Table, owner: r.Owner, local: r.ID} }

// parentLink is one entry of ParentKey: the parent row and, when the row
// named it, the parent's column.
type parentLink struct {
	target
	column string
}

// encodeParents renders ParentKey's value for links, sorted; "" for none.
func encodeParents(controller string, links []parentLink) string {
	s := make([]string, len(links))
	for i, l := range links {
		tc := l.table
		if l.column != "" {
			tc += "." + l.column
		}
		s[i] = tc + ":" + rowID(controller, l.owner, l.local)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// decodeParents parses ParentKey's value. Entries that do not parse (an
// older or foreign format) are skipped: unlinking from them is impossible,
// and OVSDB still drops weak references to a deleted row by itself.
func decodeParents(v string) []parentLink {
	if v == "" {
		return nil
	}
	var out []parentLink
	for _, e := range strings.Split(v, ",") {
		tc, id, ok := strings.Cut(e, ":")
		if !ok {
			continue
		}
		_, o, local, err := parseRowID(id)
		if err != nil {
			continue
		}
		table, col, _ := strings.Cut(tc, ".")
		out = append(out, parentLink{target: target{table: table, owner: o, local: local}, column: col})
	}
	return out
}
