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
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/metrics"
)

// OwnerType is how a feature plugs into the reconciler.
type OwnerType struct {
	// Name is the owner-type value ("Node").
	Name string
	// Tables lists every table the owner type writes. Existing rows are
	// looked up only there, which keeps an owner's reconcile cheap; the
	// reconciler manages (monitors, indexes, garbage-collects) the union of
	// all owner types' tables.
	Tables []string
	// After names the owner types whose rows this type's rows point at
	// (parents, references): the first pass after start plans those first,
	// so a cold start links children into parents committed moments before
	// instead of waiting for them.
	After []string
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
	// Latency, when set, observes each owner's programming latency in
	// seconds: from the first Enqueue after it was last programmed (the
	// change seen) until the NB holds its desired rows (committed, or found
	// already in place). Optional.
	Latency prometheus.Observer
}

// Tables returns the union of the tables the owner types write, sorted: what
// the NB client monitors and indexes (ClientIndexes) and the reconciler
// manages.
func Tables(types ...OwnerType) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range types {
		for _, name := range t.Tables {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
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
	Controller string // owner-controller value, default DefaultController
	MaxOwners  int    // owners planned per batch, default 500
	MaxOps     int    // operations per transaction, default 5000
	RetryBase  time.Duration
	RetryMax   time.Duration
	TxnTimeout time.Duration
}

// Reconciler applies owners' desired rows to the NB.
type Reconciler struct {
	client   client.Client
	opts     Options
	store    *store
	planner  *planner
	queue    workqueue.TypedRateLimitingInterface[Owner]
	deps     *deps
	declared declaredColumns
	echoes   echoes
	inserted appearedRows
	tracker  *tracker

	types     map[string]*OwnerType
	order     []*OwnerType               // types in dependency order (After first)
	ancestors map[string]map[string]bool // type -> every type it comes after

	// admit is held while a group of owners is enqueued and while a batch
	// drains the queue, so a group is never split across batches.
	admit sync.Mutex

	named   atomic.Uint64
	running atomic.Bool // Run has started its first pass

	// initial holds the owners enqueued at start; ready closes once each has
	// been reconciled (or failed) once.
	initialMu sync.Mutex
	initial   map[Owner]bool
	ready     chan struct{}
	readyOnce sync.Once
}

// New builds a reconciler for the owner types over a connected client whose
// model carries ClientIndexes(Tables(types...)) and monitors those tables.
// Hand CacheHandler to the client before its first monitor.
func New(c client.Client, opts Options, types ...OwnerType) (*Reconciler, error) {
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
	byName, order, err := orderTypes(types)
	if err != nil {
		return nil, err
	}
	names := Tables(types...)
	tables, err := buildTables(c.Cache().DatabaseModel(), names)
	if err != nil {
		return nil, err
	}
	st := &store{cache: c.Cache(), controller: opts.Controller, tables: tables}
	byType := map[reflect.Type]*tableInfo{}
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
		deps:      newDeps(),
		tracker:   newTracker(),
		types:     byName,
		order:     order,
		ancestors: ancestors(order, byName),
		ready:     make(chan struct{}),
	}
	r.planner = &planner{controller: opts.Controller, store: st, byType: byType,
		names: func() string { return "row" + strconv.FormatUint(r.named.Add(1), 10) },
		watch: r.deps.add,
	}
	for _, t := range order {
		metrics.ReconcileErrors.WithLabelValues(t.Name) // exported as 0 from the start
	}
	return r, nil
}

// Enqueue asks for owner to be reconciled. Informer handlers call it with the
// object's key; it is cheap and deduplicated while the owner waits. Before
// Run it does nothing: Run's first pass enqueues every owner that exists
// then, in dependency order, and an owner queued earlier by an informer's
// initial list would put a pod's port ahead of its node's switch.
func (r *Reconciler) Enqueue(o Owner) {
	if !r.running.Load() {
		return
	}
	r.tracker.enqueued(o)
	r.queue.Add(o)
	metrics.QueueDepth.Set(float64(r.queue.Len()))
}

// wakeDeps is the queue item that tells the loop rows have appeared whose
// dependents may need planning. It is never an owner of rows.
var wakeDeps = Owner{Type: "\x00rows-appeared"}

// appeared is called by the cache handler for every row of ours inserted.
func (r *Reconciler) appeared(t target, uuid string) {
	if !r.running.Load() {
		return // the first pass plans every owner anyway
	}
	r.inserted.add(t, uuid)
	r.queue.Add(wakeDeps)
}

// dependentsOfAppeared returns the owners to plan because rows they point at
// appeared since the last look and they have not seen those rows yet.
func (r *Reconciler) dependentsOfAppeared() []Owner {
	var out []Owner
	for t, uuid := range r.inserted.take() {
		out = append(out, r.deps.stale(t, uuid)...)
	}
	return out
}

// EnqueueAll enqueues owners as one group: the reconcile loop takes all of
// them into the same batch (up to its size bound), so e.g. every member of a
// re-created load-balancer group is linked back with one mutation.
func (r *Reconciler) EnqueueAll(owners []Owner) {
	if len(owners) == 0 {
		return
	}
	r.admit.Lock()
	defer r.admit.Unlock()
	for _, o := range owners {
		r.Enqueue(o)
	}
}

// Ready is closed once every owner known at start has been reconciled once.
func (r *Reconciler) Ready() <-chan struct{} { return r.ready }

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
// rows in the NB (deleted while we were down), owner types in dependency
// order, so that parents are committed before the owners that link into them.
func (r *Reconciler) enqueueInitial() error {
	// Requests from now on are queued; anything an informer or the NB
	// monitor reported before is in the listers and the cache read below.
	r.running.Store(true)
	order, err := r.allOwners()
	if err != nil {
		return err
	}
	owners := make(map[Owner]bool, len(order))
	for _, o := range order {
		owners[o] = true
	}
	r.initialMu.Lock()
	r.initial = owners
	r.initialMu.Unlock()
	klog.InfoS("Reconciling every owner once", "owners", len(order))
	r.EnqueueAll(order)
	r.markAttempted(nil)
	return nil
}

// allOwners lists every owner that exists in Kubernetes, type by type in
// dependency order, then those that only still have rows in the NB.
func (r *Reconciler) allOwners() ([]Owner, error) {
	owners := map[Owner]bool{}
	var order []Owner
	for _, t := range r.order {
		if t.List == nil {
			continue
		}
		names, err := t.List()
		if err != nil {
			return nil, fmt.Errorf("list %s owners: %w", t.Name, err)
		}
		sort.Strings(names)
		for _, n := range names {
			o := Owner{Type: t.Name, Name: n}
			if !owners[o] {
				owners[o] = true
				order = append(order, o)
			}
		}
	}
	var gone []Owner
	for o := range r.store.owners() {
		if !owners[o] {
			owners[o] = true
			gone = append(gone, o)
		}
	}
	sort.Slice(gone, func(a, b int) bool { return gone[a].String() < gone[b].String() })
	return append(order, gone...), nil
}

// Resync forgets what the reconciler remembers of the NB and re-plans every
// owner. Call it after the NB connection comes back: libovsdb refills the
// cache from scratch without delete events, so rows lost while
// disconnected (an NB restored from an empty backup, a row deleted by hand
// meanwhile) would otherwise stay lost until the next restart.
func (r *Reconciler) Resync() error {
	if !r.running.Load() {
		return nil // Run's first pass plans everything anyway
	}
	r.store.memo.reset()
	r.echoes.reset()
	owners, err := r.allOwners()
	if err != nil {
		return err
	}
	klog.InfoS("NB reconnected: re-planning every owner", "owners", len(owners))
	r.EnqueueAll(owners)
	return nil
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
	owners := r.drain([]Owner{first})
	for i := slices.Index(owners, wakeDeps); i >= 0; i = slices.Index(owners, wakeDeps) {
		owners = slices.Delete(owners, i, i+1)
		r.queue.Done(wakeDeps)
		for _, o := range r.dependentsOfAppeared() {
			r.Enqueue(o)
		}
		owners = r.drain(owners)
	}
	if len(owners) == 0 {
		metrics.QueueDepth.Set(float64(r.queue.Len()))
		return true
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
	// after that owner's rows are committed, as many rounds as the chain of
	// owner types is long; a round that commits nothing ends it.
	pending, last := owners, false
	for len(pending) > 0 {
		inBatch := make(map[Owner]bool, len(pending))
		if !last {
			for _, o := range pending {
				inBatch[o] = true
			}
		}
		now, later := r.byDeclaredOrder(pending, last)
		plans, deferred := r.planAll(now, inBatch)
		deferred = append(deferred, later...)
		r.commit(ctx, plans)
		// A round that commits nothing cannot help the owners it deferred:
		// the last round plans them as they are (an owner whose parent is
		// still missing then waits for it to appear).
		last = len(plans) == 0
		pending = deferred
	}
	return true
}

// byDeclaredOrder splits a round's owners into those to plan now and those
// whose type comes After a type with owners in the round: planning them
// before those commit would only find their parents missing. The last round
// plans everyone.
func (r *Reconciler) byDeclaredOrder(pending []Owner, last bool) (now, later []Owner) {
	if last {
		return pending, nil
	}
	present := map[string]bool{}
	for _, o := range pending {
		present[o.Type] = true
	}
	for _, o := range pending {
		waits := false
		for a := range r.ancestors[o.Type] {
			if present[a] {
				waits = true
				break
			}
		}
		if waits {
			later = append(later, o)
		} else {
			now = append(now, o)
		}
	}
	return now, later
}

// drain adds every owner waiting in the queue to owners, up to the batch size.
func (r *Reconciler) drain(owners []Owner) []Owner {
	r.admit.Lock() // a group of owners enqueued together lands in one batch
	defer r.admit.Unlock()
	for len(owners) < r.opts.MaxOwners && r.queue.Len() > 0 {
		o, shutdown := r.queue.Get()
		if shutdown {
			break
		}
		owners = append(owners, o)
	}
	return owners
}

// planAll plans each owner. Owners whose parent row belongs to an owner of the
// same batch are returned as deferred instead of failing.
func (r *Reconciler) planAll(owners []Owner, inBatch map[Owner]bool) (plans []*ownerPlan, deferred []Owner) {
	for _, o := range owners {
		p, err := r.planOwner(o)
		var pm *errParentMissing
		switch {
		case err == nil && p == nil:
			// settled in planOwner
		case err == nil && waitsInBatch(p.missing, inBatch):
			// A row it refers to is about to be committed by an owner of
			// this batch: plan it again then, complete.
			deferred = append(deferred, o)
		case err == nil && p.ops == nil:
			r.succeed(o, p.empty) // references to rows that may come later
		case err == nil:
			plans = append(plans, p)
		case errors.As(err, &pm) && inBatch[pm.ref.Owner]:
			deferred = append(deferred, o)
		case errors.As(err, &pm):
			r.waitForParent(o)
		default:
			r.fail(o, err)
		}
	}
	return plans, deferred
}

func waitsInBatch(missing []target, inBatch map[Owner]bool) bool {
	for _, t := range missing {
		if inBatch[t.owner] {
			return true
		}
	}
	return false
}

// planOwner computes one owner's plan; nil when there is nothing to commit
// and nothing it refers to is missing (then the owner is settled here).
func (r *Reconciler) planOwner(o Owner) (*ownerPlan, error) {
	r.tracker.started(o)
	t, ok := r.types[o.Type]
	if !ok {
		// Rows of an owner type this build does not know (a newer or older
		// version wrote them): never ours to delete.
		klog.V(2).InfoS("Skipping rows of an unregistered owner type", "owner", o.String())
		r.queue.Forget(o)
		r.tracker.settled(o, true, nil, true)
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
			r.tracker.settled(o, false, inv, false)
			return nil, nil
		case errors.As(err, &wait):
			klog.V(4).InfoS("Owner waits", "owner", o.String(), "reason", wait.reason)
			r.queue.Forget(o)
			r.tracker.settled(o, false, nil, false)
			return nil, nil
		}
		return nil, fmt.Errorf("desired state of %s: %w", o, err)
	}
	for i := range rows {
		for col := range rows[i].Refs {
			if ti, ok := r.planner.byType[reflect.TypeOf(rows[i].Model)]; ok {
				r.declared.add(ti.name, col)
			}
		}
	}
	res, err := r.planner.plan(o, rows, r.tablesOf(t))
	metrics.ReconcileDuration.WithLabelValues(o.Type).Observe(time.Since(start).Seconds())
	if err == nil || IsParentMissing(err) {
		r.deps.set(o, res.targets)
	}
	if err != nil {
		return nil, err
	}
	p := &ownerPlan{owner: o, ops: res.ops, empty: len(rows) == 0, missing: res.missing, released: res.released}
	if res.ops == nil && len(res.missing) == 0 {
		r.succeed(o, p.empty)
		return nil, nil
	}
	return p, nil
}

// tablesOf resolves an owner type's tables.
func (r *Reconciler) tablesOf(t *OwnerType) []*tableInfo {
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
		failed := commitPlans(tctx, r.client, txnHooks{echo: &r.echoes, memo: &r.store.memo}, batch)
		cancel()
		for _, p := range batch {
			if err, bad := failed[p.owner]; bad {
				r.fail(p.owner, err)
				continue
			}
			for _, k := range p.released {
				r.store.unclaim(k.table, k.name)
			}
			r.succeed(p.owner, p.empty)
		}
	}
}

func (r *Reconciler) succeed(o Owner, empty bool) {
	r.queue.Forget(o)
	latency, caughtUp := r.tracker.settled(o, true, nil, empty)
	if t := r.types[o.Type]; caughtUp && t != nil && t.Latency != nil {
		t.Latency.Observe(latency.Seconds())
	}
	if !empty {
		return
	}
	if t := r.types[o.Type]; t != nil && t.Cleared != nil {
		t.Cleared(o.Name)
	}
}

// waitForParent settles an owner whose parent row of another owner is not in
// the NB: the row's insert event re-plans it (deps), so no backoff retry.
func (r *Reconciler) waitForParent(o Owner) {
	klog.V(2).InfoS("Owner waits for a parent row of another owner", "owner", o.String())
	r.queue.Forget(o)
	r.tracker.settled(o, false, nil, false)
}

func (r *Reconciler) fail(o Owner, err error) {
	metrics.ReconcileErrors.WithLabelValues(o.Type).Inc()
	klog.ErrorS(err, "Reconcile failed, will retry", "owner", o.String(), "retries", r.queue.NumRequeues(o))
	r.queue.AddRateLimited(o)
}
