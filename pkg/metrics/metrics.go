// Package metrics holds ovnkube's Prometheus collectors and the HTTP server
// that exposes them next to the health endpoints. Every metric carries the
// ovnkube_ prefix so dashboards can tell ours from ovn-controller's or
// kube-proxy's.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "ovnkube"

// Registry is the registry /metrics serves. It is package-level because the
// collectors below are process-wide facts, exactly like the Go runtime ones.
var Registry = prometheus.NewRegistry()

var (
	// ReconcileDuration is the time one owner's desired-state diff took,
	// from reading its objects to having its operations ready to commit.
	ReconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "reconcile_duration_seconds",
		Help:      "Time to compute one owner's desired NB rows and the operations that bring the NB there, by owner type.",
		Buckets:   prometheus.ExponentialBuckets(0.00001, 2, 20),
	}, []string{"owner_type"})

	// ReconcileErrors counts failed owner reconciles; each is retried with backoff.
	ReconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "reconcile_errors_total",
		Help:      "Owner reconciles that failed and were requeued with backoff, by owner type.",
	}, []string{"owner_type"})

	// NBTransactions counts committed and failed NB transactions.
	NBTransactions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "nb_transactions_total",
		Help:      "OVN Northbound transactions sent, by result (committed or failed).",
	}, []string{"result"})

	// NBOperations counts operations inside committed transactions.
	NBOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "nb_operations_total",
		Help:      "OVN Northbound operations committed, by operation (insert, update, mutate, delete).",
	}, []string{"op"})

	// NBTransactionDuration is the round trip of one NB transaction.
	NBTransactionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "nb_transaction_duration_seconds",
		Help:      "Round-trip time of one OVN Northbound transaction.",
		Buckets:   prometheus.ExponentialBuckets(0.0001, 4, 10),
	})

	// QueueDepth is how many owners wait to be reconciled.
	QueueDepth = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "reconcile_queue_depth",
		Help:      "Owners waiting in the reconcile queue.",
	})

	// PendingOwners is how many owners have a reconcile request not yet
	// done: queued, being planned or committed, or backing off after an
	// error. 0 means the NB reflects every change seen so far (owners that
	// wait for an input or a parent row, or whose input is invalid, are done).
	PendingOwners = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "reconcile_pending_owners",
		Help:      "Owners with a reconcile request not yet planned and committed (queued, in flight or backing off).",
	})

	// InvalidObjects counts Kubernetes objects rejected for bad input. The
	// object's NB rows are left as they were until the input is fixed.
	InvalidObjects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "invalid_objects_total",
		Help:      "Kubernetes objects rejected as invalid (bad annotation, CIDR, ...), by kind and reason.",
	}, []string{"kind", "reason"})

	// SubnetAllocationFailures counts nodes left without a subnet.
	SubnetAllocationFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "node_subnet_allocation_failures_total",
		Help:      "Node subnet allocations that failed, by reason (exhausted, conflict, ...).",
	}, []string{"reason"})

	// PodAddressAllocationFailures counts pods left without an address.
	PodAddressAllocationFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "pod_address_allocation_failures_total",
		Help:      "Pod address allocations that failed, by reason (exhausted, error).",
	}, []string{"reason"})

	// NodeSubnetsAllocated and NodeSubnetsCapacity show how full the cluster subnets are.
	NodeSubnetsAllocated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "node_subnets_allocated",
		Help:      "Node subnets allocated from the cluster subnets, by IP family.",
	}, []string{"family"})
	NodeSubnetsCapacity = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "node_subnets_capacity",
		Help:      "Node subnets the cluster subnets can hold, by IP family.",
	}, []string{"family"})

	// ServiceProgrammingLatency is the kube-proxy sync-latency analogue:
	// from a Service or EndpointSlice change seen by the master to the
	// service's load balancers committed in the NB.
	ServiceProgrammingLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "service_programming_latency_seconds",
		Help:      "Time from a Service or EndpointSlice change seen to the service's load balancers committed in the NB.",
		Buckets:   prometheus.ExponentialBuckets(0.0005, 2, 17), // 0.5 ms .. 33 s
	})

	// NetworkPolicyProgrammingLatency: from a NetworkPolicy, pod or
	// namespace change seen to the policy's ACLs or the address-set
	// elements committed in the NB.
	NetworkPolicyProgrammingLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "network_policy_programming_latency_seconds",
		Help:      "Time from a NetworkPolicy, pod or namespace change seen to the policy's ACLs or address-set elements committed in the NB.",
		Buckets:   prometheus.ExponentialBuckets(0.0005, 2, 17),
	})

	// Ready is 1 once the first full reconcile after start has committed.
	Ready = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "ready",
		Help:      "1 once informers and the NB cache are synced and the first full reconcile has committed.",
	})

	// Leader is 1 while this master holds the leader election Lease (or
	// runs without leader election), 0 while it stands by.
	Leader = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "leader",
		Help:      "1 while this ovnkube master is the one writing (holds the leader Lease, or runs without --leader-elect); 0 on a standby.",
	})
)

// OVSDBConnected is 1 while the connection to a database is up: the
// master's OVN_Northbound, the node agent's Open_vSwitch.
var OVSDBConnected = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: namespace,
	Name:      "ovsdb_connected",
	Help:      "1 while the connection to the OVSDB database is up (its cache current), 0 while reconnecting.",
}, []string{"database"})

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		ReconcileDuration, ReconcileErrors, NBTransactions, NBOperations, NBTransactionDuration,
		QueueDepth, PendingOwners, InvalidObjects, SubnetAllocationFailures, PodAddressAllocationFailures, NodeSubnetsAllocated, NodeSubnetsCapacity,
		ServiceProgrammingLatency, NetworkPolicyProgrammingLatency, Ready, Leader, OVSDBConnected,
	)
	// Export the series tests and dashboards read as 0 from the start, so
	// "no transaction since start" is a visible 0, not a missing series.
	for _, r := range []string{"committed", "failed"} {
		NBTransactions.WithLabelValues(r)
	}
	for _, op := range []string{"insert", "update", "mutate", "delete"} {
		NBOperations.WithLabelValues(op)
	}
}
