// Package reconcile is the one mechanism by which ovnkube writes the OVN
// Northbound database. Every feature registers an owner type with a pure-ish
// Desired function returning the complete set of rows one owner (a Node, a
// Pod, the Cluster) should have; the reconciler compares that with the rows in
// the libovsdb cache carrying the owner's external_ids and commits only the
// difference, batching many owners into one transaction. Start, resync,
// retries and deletion are the same code path: a deleted object simply
// desires nothing.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/metrics"
)

// OwnerType is how a feature plugs into the reconciler.
type OwnerType struct {
	// Name is the owner-type value ("Node").
	Name string
	// Tables lists every table the owner type writes (nil: all managed
	// tables). Existing rows are looked up only there, which keeps an
	// owner's reconcile cheap; a table dropped from the list is no longer
	// garbage-collected for this type.
	Tables []string
	// List returns the names of every owner of this type that exists now;
	// used once at start together with the owners found in the NB.
	List func() ([]string, error)
	// Desired returns the complete set of rows owner name should have. An
	// owner that no longer exists desires nothing (nil, nil). Returning an
	// error leaves the owner's rows untouched: an *InvalidError is reported
	// through Invalid and waits for the input to change, Wait waits for
	// another event, any other error is retried with backoff.
	Desired func(name string) ([]Row, error)
	// Invalid reports bad input (Event, metric, log). Optional.
	Invalid func(name string, err *InvalidError)
	// Cleared is called after an owner that desires nothing has no rows left
	// in the NB, e.g. to release a deleted Node's subnet only once its switch
	// is gone. Optional.
	Cleared func(name string)
}

// errWait is returned through Wait.
type errWait struct{ reason string }

func (e *errWait) Error() string { return e.reason }

// Wait tells the reconciler that the owner cannot be computed yet (a Node
// without its subnet annotation) and that an informer event will bring it
// back: existing rows are kept and the owner is not retried with backoff.
func Wait(reason string) error { return &errWait{reason: reason} }

// Options tune batching. Zero values take the defaults.
type Options struct {
	Controller string   // owner-controller value, default DefaultController
	Tables     []string // tables the reconciler manages
	MaxOwners  int      // owners planned per batch, default 500
	MaxOps     int      // operations per transaction, default 5000
	RetryBase  time.Duration
	RetryMax   time.Duration
	TxnTimeout time.Duration
}

// Reconciler applies owners' desired rows to the NB.
type Reconciler struct {
	client  client.Client
	opts    Options
	store   *store
	planner *planner
	queue   workqueue.TypedRateLimitingInterface[Owner]

	mu    sync.Mutex
	types map[string]*OwnerType

	named atomic.Uint64

	// initial holds the owners enqueued at start; ready closes once each has
	// been reconciled (or failed) once.
	initialMu sync.Mutex
	initial   map[Owner]bool
	ready     chan struct{}
	readyOnce sync.Once
}

// New builds a reconciler over a connected client whose model carries
// ClientIndexes(opts.Tables). Register cache events with it before MonitorAll
// via Handler.
func New(c client.Client, opts Options) (*Reconciler, error) {
	if opts.Controller == "" {
		opts.Controller = DefaultController
	}
	if opts.MaxOwners == 0 {
		opts.MaxOwners = 500
	}
	if opts.MaxOps == 0 {
		opts.MaxOps = 5000
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = 20 * time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 30 * time.Second
	}
	if opts.TxnTimeout == 0 {
		opts.TxnTimeout = 30 * time.Second
	}
	dbModel := c.Cache().DatabaseModel()
	tables, err := buildTables(dbModel, opts.Tables)
	if err != nil {
		return nil, err
	}
	st := &store{cache: c.Cache(), controller: opts.Controller, tables: tables}
	byType := map[reflect.Type]*tableInfo{}
	names := append([]string(nil), opts.Tables...)
	sort.Strings(names)
	for _, n := range names {
		st.order = append(st.order, tables[n])
		byType[reflect.PointerTo(tables[n].typ)] = tables[n]
	}
	r := &Reconciler{
		client: c,
		opts:   opts,
		store:  st,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[Owner](opts.RetryBase, opts.RetryMax),
			workqueue.TypedRateLimitingQueueConfig[Owner]{Name: "ovnkube-nb"}),
		types: map[string]*OwnerType{},
		ready: make(chan struct{}),
	}
	r.planner = &planner{controller: opts.Controller, store: st, byType: byType,
		names: func() string { return "row" + strconv.FormatUint(r.named.Add(1), 10) }}
	return r, nil
}

// Register adds an owner type. Call before Run.
func (r *Reconciler) Register(t OwnerType) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.types[t.Name] = &t
	metrics.ReconcileErrors.WithLabelValues(t.Name) // exported as 0 from the start
}

// Enqueue asks for owner to be reconciled. Informer handlers call it with the
// object's key; it is cheap and deduplicated while the owner waits.
func (r *Reconciler) Enqueue(o Owner) {
	r.queue.Add(o)
	metrics.QueueDepth.Set(float64(r.queue.Len()))
}

// Ready is closed once every owner known at start has been reconciled once.
func (r *Reconciler) Ready() <-chan struct{} { return r.ready }

// CacheHandler returns the libovsdb cache event handler that requeues the
// owner of any of our rows changed or deleted by someone else (a row deleted
// by hand comes back). Our own commits also arrive here; they cost one
// reconcile that finds nothing to do.
func (r *Reconciler) CacheHandler() cache.EventHandler {
	enqueue := func(table string, m model.Model) {
		t, ok := r.store.tables[table]
		if !ok {
			return
		}
		ext := t.externalIDs(m)
		if ext[OwnerControllerKey] != r.opts.Controller || ext[OwnerTypeKey] == "" || ext[OwnerKey] == "" {
			return
		}
		r.Enqueue(Owner{Type: ext[OwnerTypeKey], Name: ext[OwnerKey]})
	}
	return &cache.EventHandlerFuncs{
		UpdateFunc: func(table string, old, _ model.Model) { enqueue(table, old) },
		DeleteFunc: func(table string, m model.Model) { enqueue(table, m) },
	}
}

// Run reconciles until ctx ends. The caller must have synced the informers
// and the NB cache: nothing is planned from a partial view.
func (r *Reconciler) Run(ctx context.Context) error {
	if err := r.enqueueInitial(); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		r.queue.ShutDown()
	}()
	for r.processBatch(ctx) {
	}
	return nil
}

// enqueueInitial queues every owner that exists in Kubernetes or still has
// rows in the NB (deleted while we were down).
func (r *Reconciler) enqueueInitial() error {
	owners := map[Owner]bool{}
	r.mu.Lock()
	types := make([]*OwnerType, 0, len(r.types))
	for _, t := range r.types {
		types = append(types, t)
	}
	r.mu.Unlock()
	sort.Slice(types, func(a, b int) bool { return typeRank(types[a].Name) < typeRank(types[b].Name) })
	var order []Owner
	for _, t := range types {
		if t.List == nil {
			continue
		}
		names, err := t.List()
		if err != nil {
			return fmt.Errorf("list %s owners: %w", t.Name, err)
		}
		for _, n := range names {
			o := Owner{Type: t.Name, Name: n}
			if !owners[o] {
				owners[o] = true
				order = append(order, o)
			}
		}
	}
	for o := range r.store.owners() {
		if !owners[o] {
			owners[o] = true
			order = append(order, o)
		}
	}
	r.initialMu.Lock()
	r.initial = owners
	r.initialMu.Unlock()
	klog.InfoS("Reconciling every owner once", "owners", len(order))
	for _, o := range order {
		r.queue.Add(o)
	}
	r.markAttempted(nil)
	return nil
}

// typeRank orders the first pass so that the Cluster's rows, which other
// owners link into, are planned first.
func typeRank(t string) int {
	if t == OwnerTypeCluster {
		return 0
	}
	return 1
}

func (r *Reconciler) markAttempted(owners []Owner) {
	r.initialMu.Lock()
	defer r.initialMu.Unlock()
	if r.initial == nil {
		return
	}
	for _, o := range owners {
		delete(r.initial, o)
	}
	if len(r.initial) == 0 {
		r.initial = nil
		r.readyOnce.Do(func() { close(r.ready) })
	}
}

// processBatch takes every owner waiting (at least one), plans them and
// commits the plans in as few transactions as the size bound allows.
func (r *Reconciler) processBatch(ctx context.Context) bool {
	first, shutdown := r.queue.Get()
	if shutdown {
		return false
	}
	owners := []Owner{first}
	for len(owners) < r.opts.MaxOwners && r.queue.Len() > 0 {
		o, shutdown := r.queue.Get()
		if shutdown {
			break
		}
		owners = append(owners, o)
	}
	if !r.client.Connected() {
		// While libovsdb reconnects the cache may be empty or stale; a plan
		// made from it would duplicate rows. Wait for the connection.
		for _, o := range owners {
			r.queue.AddAfter(o, 100*time.Millisecond)
			r.queue.Done(o)
		}
		return true
	}
	defer func() {
		for _, o := range owners {
			r.queue.Done(o)
		}
		metrics.QueueDepth.Set(float64(r.queue.Len()))
		r.markAttempted(owners)
	}()

	// Owners whose parent row belongs to another owner of this batch (a
	// pod's port and its node's switch on first start) are planned again
	// after that owner's rows are committed: a chain Cluster -> Node -> Pod
	// needs up to three rounds.
	pending := owners
	for round := 0; round < 3 && len(pending) > 0; round++ {
		inBatch := make(map[Owner]bool, len(pending))
		for _, o := range pending {
			inBatch[o] = true
		}
		plans, deferred := r.planAll(pending, inBatch)
		r.commit(ctx, plans)
		pending = deferred
		if len(plans) == 0 {
			break // nothing committed: the deferred owners cannot progress
		}
	}
	for _, o := range pending {
		r.fail(o, fmt.Errorf("parent rows of %s are still missing", o))
	}
	return true
}

// planAll plans each owner. Owners whose parent row belongs to an owner of the
// same batch are returned as deferred instead of failing.
func (r *Reconciler) planAll(owners []Owner, inBatch map[Owner]bool) (plans []*ownerPlan, deferred []Owner) {
	for _, o := range owners {
		p, err := r.planOwner(o)
		var pm *errParentMissing
		switch {
		case err == nil && p == nil:
			// nothing to do
		case err == nil:
			plans = append(plans, p)
		case errors.As(err, &pm) && inBatch[pm.ref.Owner]:
			deferred = append(deferred, o)
		default:
			r.fail(o, err)
		}
	}
	return plans, deferred
}

// planOwner computes one owner's plan; nil when the NB already matches (then
// the owner is also finished here).
func (r *Reconciler) planOwner(o Owner) (*ownerPlan, error) {
	r.mu.Lock()
	t, ok := r.types[o.Type]
	r.mu.Unlock()
	if !ok {
		// Rows of an owner type this build does not know (a newer or older
		// version wrote them): never ours to delete.
		klog.V(2).InfoS("Skipping rows of an unregistered owner type", "owner", o.String())
		r.queue.Forget(o)
		return nil, nil
	}
	start := time.Now()
	rows, err := t.Desired(o.Name)
	if err != nil {
		var inv *InvalidError
		var wait *errWait
		switch {
		case errors.As(err, &inv):
			metrics.InvalidObjects.WithLabelValues(o.Type, inv.Reason).Inc()
			klog.ErrorS(err, "Invalid input, keeping the owner's NB rows as they are", "owner", o.String())
			if t.Invalid != nil {
				t.Invalid(o.Name, inv)
			}
			r.queue.Forget(o)
			return nil, nil
		case errors.As(err, &wait):
			klog.V(4).InfoS("Owner waits", "owner", o.String(), "reason", wait.reason)
			r.queue.Forget(o)
			return nil, nil
		}
		return nil, fmt.Errorf("desired state of %s: %w", o, err)
	}
	ops, err := r.planner.plan(o, rows, r.tablesOf(t))
	metrics.ReconcileDuration.WithLabelValues(o.Type).Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	if ops == nil {
		r.succeed(o, len(rows) == 0)
		return nil, nil
	}
	return &ownerPlan{owner: o, ops: ops, empty: len(rows) == 0}, nil
}

// tablesOf resolves an owner type's tables (nil means all).
func (r *Reconciler) tablesOf(t *OwnerType) []*tableInfo {
	if t.Tables == nil {
		return nil
	}
	out := make([]*tableInfo, 0, len(t.Tables))
	for _, name := range t.Tables {
		if ti, ok := r.store.tables[name]; ok {
			out = append(out, ti)
		}
	}
	return out
}

func (r *Reconciler) commit(ctx context.Context, plans []*ownerPlan) {
	for _, batch := range chunk(plans, r.opts.MaxOps) {
		tctx, cancel := context.WithTimeout(ctx, r.opts.TxnTimeout)
		failed := commitPlans(tctx, r.client, batch)
		cancel()
		for _, p := range batch {
			if err, bad := failed[p.owner]; bad {
				r.fail(p.owner, err)
				continue
			}
			r.succeed(p.owner, p.empty)
		}
	}
}

func (r *Reconciler) succeed(o Owner, empty bool) {
	r.queue.Forget(o)
	if !empty {
		return
	}
	r.mu.Lock()
	t := r.types[o.Type]
	r.mu.Unlock()
	if t != nil && t.Cleared != nil {
		t.Cleared(o.Name)
	}
}

func (r *Reconciler) fail(o Owner, err error) {
	if IsParentMissing(err) {
		klog.V(2).InfoS("Owner waits for its parent row", "owner", o.String(), "reason", err.Error())
	} else {
		metrics.ReconcileErrors.WithLabelValues(o.Type).Inc()
		klog.ErrorS(err, "Reconcile failed, will retry", "owner", o.String(), "retries", r.queue.NumRequeues(o))
	}
	r.queue.AddRateLimited(o)
}
