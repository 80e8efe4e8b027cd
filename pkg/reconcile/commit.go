package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/pkg/metrics"
)

// ownerPlan is one owner's operations waiting to be committed.
type ownerPlan struct {
	owner    Owner
	ops      *planOps
	empty    bool       // the owner desired no rows
	missing  []target   // rows its references name that are not in the NB
	released []keyedRow // keyed rows deleted by this plan
}

// opError is an OVSDB error reported for the operations of a transaction, as
// opposed to a transport error. Only these are worth splitting a batch for.
type opError struct{ msg string }

func (e *opError) Error() string { return e.msg }

// txnHooks are told about the rows a transaction changes: echoes before it
// is sent, the memo once it committed. Both optional.
type txnHooks struct {
	echo *echoes
	memo *memo
}

// transact commits ops as one transaction and records it in the metrics.
func transact(ctx context.Context, c client.Client, hooks txnHooks, ops []ovsdb.Operation) (err error) {
	changed, deleted := changedRows(ops)
	if hooks.echo != nil {
		withdraw := hooks.echo.expect(changed)
		defer func() {
			if err != nil {
				withdraw()
			}
		}()
	}
	if hooks.memo != nil {
		defer func() {
			if err == nil {
				hooks.memo.changed(changed...)
				hooks.memo.changed(deleted...)
			}
		}()
	}
	if klogV := klog.V(5); klogV.Enabled() {
		klogV.InfoS("NB transaction", "operations", ops)
	}
	start := time.Now()
	results, err := c.Transact(ctx, ops...)
	metrics.NBTransactionDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.NBTransactions.WithLabelValues("failed").Inc()
		return fmt.Errorf("NB transaction of %d operations: %w", len(ops), err)
	}
	if opErrs, err := ovsdb.CheckOperationResults(results, ops); err != nil {
		metrics.NBTransactions.WithLabelValues("failed").Inc()
		var b strings.Builder
		fmt.Fprintf(&b, "NB transaction of %d operations failed: %v", len(ops), err)
		for i, e := range opErrs {
			if i == 3 {
				fmt.Fprintf(&b, "; ... %d more", len(opErrs)-i)
				break
			}
			if op := e.Operation(); op != nil {
				fmt.Fprintf(&b, "; %s %s: %v", op.Op, op.Table, e)
			} else {
				fmt.Fprintf(&b, "; %v", e)
			}
		}
		return &opError{msg: b.String()}
	}
	metrics.NBTransactions.WithLabelValues("committed").Inc()
	for _, op := range ops {
		metrics.NBOperations.WithLabelValues(op.Op).Inc()
	}
	return nil
}

// commitPlans commits the plans as one transaction. When OVSDB rejects it, the
// batch is split in halves until the failing owners are isolated, so one bad
// owner cannot block the rest. It returns the error of every failed owner.
func commitPlans(ctx context.Context, c client.Client, hooks txnHooks, plans []*ownerPlan) map[Owner]error {
	if len(plans) == 0 {
		return nil
	}
	parts := make([]*planOps, len(plans))
	for i, p := range plans {
		parts[i] = p.ops
	}
	err := transact(ctx, c, hooks, render(parts...))
	if err == nil {
		return nil
	}
	var oe *opError
	if len(plans) == 1 || !errors.As(err, &oe) {
		failed := make(map[Owner]error, len(plans))
		for _, p := range plans {
			failed[p.owner] = err
		}
		return failed
	}
	half := len(plans) / 2
	failed := commitPlans(ctx, c, hooks, plans[:half])
	for o, e := range commitPlans(ctx, c, hooks, plans[half:]) {
		if failed == nil {
			failed = map[Owner]error{}
		}
		failed[o] = e
	}
	return failed
}

// chunk splits plans into batches of at most maxOps operations (a single
// larger plan stays whole: one owner's rows are committed atomically).
func chunk(plans []*ownerPlan, maxOps int) [][]*ownerPlan {
	var out [][]*ownerPlan
	var cur []*ownerPlan
	n := 0
	for _, p := range plans {
		if len(cur) > 0 && n+p.ops.size() > maxOps {
			out = append(out, cur)
			cur, n = nil, 0
		}
		cur = append(cur, p)
		n += p.ops.size()
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
