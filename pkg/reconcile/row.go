package reconcile

import "github.com/ovn-kubernetes/libovsdb/model"

// Row is one NB row an owner wants. Model is a pointer to a generated nbdb
// struct holding the desired content columns; its UUID and reference columns
// are ignored (relations are Parents and Refs), and the reconciler adds the
// ownership external_ids itself.
//
// A reference between two rows is declared by exactly one side, chosen per
// column:
//
//   - Parents: the row says which sets it belongs to. A pod's port names its
//     node's switch (Logical_Switch.ports); a load balancer names the groups
//     and switches that list it. The reconciler adds and removes this row's
//     one element of each parent's column; the parent row, owned by whoever,
//     is never rewritten, and other members are never touched. Right for
//     big sets filled by many owners.
//   - Refs: the row says what its own reference column holds. A node switch
//     names the cluster's load-balancer groups (load_balancer_group); a port
//     group could name its ports. The column is the row's content: elements
//     not named are removed. Right for small sets one owner decides.
//
// A column is filled one way or the other, never both: a column named in a
// row's Refs must not be named as a parent column by other rows.
type Row struct {
	// ID is unique among the owner's rows and stable across restarts; by
	// convention the row's NB name ("rtos-node1") or a readable key.
	ID    string
	Model model.Model
	// Parents are the rows whose reference columns hold this row. A row of a
	// non-root table (ports, gateway chassis, NAT, ACLs) needs at least one
	// parent with a strong reference column, or OVSDB garbage-collects it.
	// A parent of another owner that is not in the NB yet makes the owner
	// wait (no backoff): it is planned again when the parent appears.
	Parents []Ref
	// Refs declares reference columns of this row, column name -> targets.
	// A column named here (even with no targets) is diffed like content;
	// columns not named are left to the rows that name this one as parent.
	// A target not in the NB yet is skipped, never blocking the rest of the
	// row, and the owner is planned again when it appears.
	Refs map[string][]Ref
}

// Ref points at a row by owner, table and local id.
type Ref struct {
	Owner Owner
	Table string
	ID    string
	// Column names the parent's reference column when Ref is one of a
	// Row's Parents and Table has several columns referring to the child's
	// table (NAT allowed_ext_ips / exempted_ext_ips). Empty: the only such
	// column. Unused in Refs, where the map key is the column.
	Column string
}

// InvalidError marks a desired-state failure caused by bad user input (a
// malformed annotation, an impossible CIDR). The owner's rows are left as they
// are, the owner type's Invalid hook reports it (Event, metric, log) and the
// owner is not retried with backoff: only a change of the input can fix it.
type InvalidError struct {
	Reason string // short machine-friendly reason, the metric label
	Err    error
}

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Invalid wraps err as an InvalidError with a metric reason.
func Invalid(reason string, err error) error {
	return &InvalidError{Reason: reason, Err: err}
}
