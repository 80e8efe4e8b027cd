package reconcile

import "github.com/ovn-kubernetes/libovsdb/model"

// Row is one NB row an owner wants. Model is a pointer to a generated nbdb
// struct holding the desired columns; its UUID and reference columns are
// ignored (relations are expressed with Parent), and the reconciler adds the
// ownership external_ids itself.
type Row struct {
	// ID is unique among the owner's rows and stable across restarts; by
	// convention the row's NB name ("rtos-node1") or a readable key.
	ID    string
	Model model.Model
	// Parent is set for rows that live in another row's reference set: a
	// logical switch port in its switch's ports, a router port in its
	// router's ports, a Gateway_Chassis in its router port. The reconciler
	// inserts and removes this row's element of the parent's column with a
	// set mutation, in the same transaction that creates or deletes the row,
	// and never rewrites the parent row. Rows of non-root tables must have one.
	Parent *Ref
}

// Ref points at a row by owner and local id. The parent's column holding the
// reference is derived from the schema (the one column of Table that refers to
// the child's table).
type Ref struct {
	Owner Owner
	Table string
	ID    string
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
