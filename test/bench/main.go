// Command bench measures `ovnkube master` on the real components: for each
// cluster size it programs N new Nodes into an empty NB, restarts the master
// over the unchanged cluster, and commits the same rows straight with
// libovsdb (the floor). Run it with `make bench` (BENCH_ARGS="-nodes 100,500").
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

type result struct {
	nodes                       int
	createNodes                 time.Duration // API writes of the Node objects by the benchmark
	converge                    time.Duration // first Node created -> every node's rows in the NB
	txns, ops                   float64
	cold                        time.Duration // master process start on an empty NB -> /readyz, every row committed
	coldTxns, coldOps           float64
	coldTxnTime                 time.Duration // time spent in NB transactions during the cold start
	restartReady                time.Duration // process start -> /readyz 200
	restartTxns, restartPatches float64
	rssMB                       float64
	floor                       time.Duration
	floorTxns, floorOps         int
	reconcileP50, reconcileP99  float64 // seconds per owner plan, from the histogram
}

func main() {
	sizes := flag.String("nodes", "100,500,1000", "comma-separated cluster sizes of the node scenario (empty: skip)")
	churn := flag.Int("pods", 1000, "pods of the pod churn scenario (0: skip)")
	rate := flag.Int("pod-rate", 100, "pod creations (and deletions) per second in the churn scenario")
	restartPods := flag.Int("restart-pods", 5000, "pods in the cluster for the master restart measurement")
	nServices := flag.Int("services", 2000, "services of the service scenario, run with and without load-balancer groups (0: skip)")
	svcEndpoints := flag.Int("service-endpoints", 10, "endpoints per service")
	svcNodes := flag.Int("service-nodes", 100, "nodes of the service scenario")
	svcChurn := flag.Int("service-churn", 500, "endpoint changes of the churn phase")
	svcRate := flag.Int("service-rate", 50, "endpoint changes per second")
	nPolicies := flag.Int("policies", 1000, "NetworkPolicies of the policy scenario (0: skip)")
	policyPods := flag.Int("policy-pods", 10000, "pods of the policy scenario")
	policyNamespaces := flag.Int("policy-namespaces", 100, "namespaces of the policy scenario")
	policyNodes := flag.Int("policy-nodes", 50, "nodes of the policy scenario")
	policyChurn := flag.Int("policy-churn", 500, "pod label changes of the policy churn phase")
	policyRate := flag.Int("policy-rate", 50, "pod label changes per second")
	flag.Parse()
	if *sizes != "" {
		runNodes(*sizes)
	}
	if *nServices > 0 {
		var results []serviceResult
		for _, groups := range []bool{true, false} {
			r, err := runServices(*nServices, *svcEndpoints, *svcNodes, *svcChurn, *svcRate, groups)
			if err != nil {
				fail(fmt.Errorf("services (lb groups %v): %w", groups, err))
			}
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "done: services, lb groups %v\n", groups)
		}
		printServices(results)
	}
	if *nPolicies > 0 {
		r, err := runPolicies(*nPolicies, *policyPods, *policyNamespaces, *policyNodes, *policyChurn, *policyRate)
		if err != nil {
			fail(fmt.Errorf("policies: %w", err))
		}
		printPolicies(r)
	}
	if *churn > 0 {
		r, err := runPods(*churn, *rate, *restartPods)
		if err != nil {
			fail(fmt.Errorf("pods: %w", err))
		}
		r.print()
	}
}

func runNodes(sizes string) {
	var results []result
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("bad -nodes entry %q", s))
		}
		r, err := runSize(n)
		if err != nil {
			fail(fmt.Errorf("%d nodes: %w", n, err))
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "done: %d nodes\n", n)
	}
	print(results)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func runSize(n int) (result, error) {
	res := result{nodes: n}
	cluster, err := startEnv("10.128.0.0/14/24")
	if err != nil {
		return res, err
	}
	defer cluster.stop()
	dir, ovn, client, opts := cluster.dir, cluster.ovn, cluster.client, cluster.opts
	m, err := sandbox.StartMaster(dir+"/master", opts)
	if err != nil {
		return res, err
	}
	watch, err := newNBWatch(ovn.NBAddress)
	if err != nil {
		m.Stop()
		return res, err
	}
	defer func() {
		if watch != nil {
			watch.close()
		}
	}()

	// Cold converge: N new Nodes (with chassis ids and gateways, so every
	// node also gets its Gateway_Chassis and gateway router) into an empty NB.
	want, err := expectedCounts(n)
	if err != nil {
		m.Stop()
		return res, err
	}
	start := time.Now()
	if err := createNodes(client, n); err != nil {
		m.Stop()
		return res, err
	}
	res.createNodes = time.Since(start)
	if err := watch.waitRows(want, 5*time.Minute); err != nil {
		m.Stop()
		return res, err
	}
	res.converge = time.Since(start)
	met, err := settledMetrics(m.MetricsURL)
	if err != nil {
		m.Stop()
		return res, err
	}
	res.txns = met.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"})
	res.ops = met.Value("ovnkube_nb_operations_total", nil)
	time.Sleep(time.Second) // let the informer and GC settle before reading RSS
	if rss, err := m.RSSBytes(); err == nil {
		res.rssMB = float64(rss) / (1 << 20)
	}

	// Cold NB: the Nodes exist and are annotated, the NB is new and empty.
	m.Stop()
	watch.close()
	cold, err := sandbox.StartOVN(dir + "/cold")
	if err != nil {
		return res, err
	}
	defer cold.Stop()
	if watch, err = newNBWatch(cold.NBAddress); err != nil {
		return res, err
	}
	opts.NBAddress, opts.SBAddress = cold.NBAddress, cold.SBAddress
	coldStart := time.Now()
	m, err = sandbox.StartMaster(dir+"/master", opts)
	if err != nil {
		return res, err
	}
	// /readyz turns 200 once every owner known at start is committed; the
	// watcher confirms every row is there.
	res.cold = m.ReadyIn
	if err := watch.waitRows(want, 5*time.Minute); err != nil {
		m.Stop()
		return res, err
	}
	// /readyz and the monitor must agree: the time is when both say so.
	res.cold = max(res.cold, time.Since(coldStart))
	watch.close()
	watch = nil
	if met, err = settledMetrics(m.MetricsURL); err != nil {
		m.Stop()
		return res, err
	}
	if failed := met.Value("ovnkube_nb_transactions_total", map[string]string{"result": "failed"}); failed > 0 {
		m.Stop()
		return res, fmt.Errorf("cold start: %v NB transactions failed (see %s)", failed, m.Process.LogPath())
	}
	res.coldTxns = met.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"})
	res.coldTxnTime = time.Duration(met.Sum("ovnkube_nb_transaction_duration_seconds", nil) * float64(time.Second))
	res.coldOps = met.Value("ovnkube_nb_operations_total", nil)
	// Planning cost from the cold start, where the master has the machine to
	// itself (during node creation it shares two cores with the API server).
	res.reconcileP50, res.reconcileP99 = quantiles(met, "ovnkube_reconcile_duration_seconds", "Node")

	// Restart over the unchanged cluster.
	res.restartReady, res.restartTxns, res.restartPatches, err = measureRestart(m, dir, opts, nodeVersions(client))
	if err != nil {
		return res, err
	}

	// Floor: the same rows straight with libovsdb into a fresh NB.
	// The cold start runs with the benchmark's monitor on its NB: so does
	// the floor, so ovsdb-server feeds two monitors in both.
	floorOVN, _, stopFloor, err := watchedOVN(dir + "/floor")
	if err != nil {
		return res, err
	}
	defer stopFloor()
	nodes, err := listNodes(client)
	if err != nil {
		return res, err
	}
	res.floor, res.floorTxns, res.floorOps, err = floor(floorOVN.NBAddress, nodes)
	return res, err
}

func nodeName(i int) string { return fmt.Sprintf("node-%04d", i) }

// createNodes creates n Nodes from 32 goroutines, as fast as the API allows.
func createNodes(c kubernetes.Interface, n int) error {
	return parallel(n, 32, func(i int) error {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(i), Annotations: agentAnnotations(i)}}
		_, err := c.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{})
		return err
	})
}

// agentAnnotations are what node i's agent publishes: its chassis id and
// its gateway (an address of 198.18.0.0/15, the benchmarking range, which
// carries no traffic here), so the master builds its gateway router too.
func agentAnnotations(i int) map[string]string {
	ip := netip.AddrFrom4([4]byte{198, 18 + byte((i+2)>>16&1), byte((i + 2) >> 8), byte(i + 2)})
	gw := kube.GatewayConfig{
		BridgeID: "br-ex", InterfaceID: "br-ex_" + nodeName(i),
		MAC: net.HardwareAddr{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
		IPs: []netip.Prefix{netip.PrefixFrom(ip, 15)}, NextHops: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
		NodePort: true,
	}
	return map[string]string{
		kube.NodeChassisIDAnnotation:     fmt.Sprintf("chassis-%04d", i),
		kube.L3GatewayConfigAnnotation:   kube.FormatL3GatewayConfig(gw),
		kube.NodePrimaryIfAddrAnnotation: kube.FormatPrimaryIfAddr(gw.IPs),
	}
}

// expectedCounts is how many rows per table n nodes (as agentAnnotations
// describes them, once the master has allocated their subnet and join
// addresses) and the cluster come to.
func expectedCounts(n int) (map[string]int, error) {
	sample := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(0), Annotations: agentAnnotations(0)}}
	sample.Annotations[kube.NodeSubnetsAnnotation] = kube.FormatNodeSubnets([]netip.Prefix{netip.MustParsePrefix("10.128.0.0/24")})
	sample.Annotations[kube.NodeGatewayRouterLRPIfAddrsAnnotation] = kube.FormatJoinAddrs([]netip.Prefix{netip.MustParsePrefix("100.64.0.2/16")})
	clusterRows, nodeRows, err := desiredTopology([]corev1.Node{sample})
	if err != nil {
		return nil, err
	}
	out := tableCounts(clusterRows)
	for table, c := range tableCounts(nodeRows[0]) {
		out[table] += n * c
	}
	return out, nil
}

// listNodes reads the Nodes as the master left them (annotated).
func listNodes(c kubernetes.Interface) ([]corev1.Node, error) {
	list, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// versionsFunc reads name -> resourceVersion of the objects a restart must
// not write.
type versionsFunc func() (map[string]string, error)

func nodeVersions(c kubernetes.Interface) versionsFunc {
	return func() (map[string]string, error) {
		list, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, n := range list.Items {
			out[n.Name] = n.ResourceVersion
		}
		return out, nil
	}
}

// measureRestart stops m and starts a new master over the unchanged
// cluster. It returns the time to /readyz, the NB transactions the new
// master sent once settled, and how many objects of versions it wrote.
func measureRestart(m *sandbox.Master, dir string, opts sandbox.MasterOptions, versions versionsFunc) (time.Duration, float64, float64, error) {
	before, err := versions()
	if err != nil {
		m.Stop()
		return 0, 0, 0, err
	}
	m.Stop()
	m, err = sandbox.StartMaster(dir+"/master", opts)
	if err != nil {
		return 0, 0, 0, err
	}
	defer m.Stop()
	met, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return 0, 0, 0, err
	}
	after, err := versions()
	if err != nil {
		return 0, 0, 0, err
	}
	writes := 0.0
	for name, v := range before {
		if after[name] != v {
			writes++
		}
	}
	return m.ReadyIn, met.Value("ovnkube_nb_transactions_total", nil), writes, nil
}

func print(results []result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "nodes\tcreate Nodes (API)\tnew nodes converge\tNB txns\tNB ops\tplan p50\tplan p99\tcold NB converge\tcold txns\tcold ops\tcold txn time\trestart ready\trestart txns\trestart Node writes\tmaster RSS\tfloor (libovsdb)\tfloor txns\tfloor ops\t")
	for _, r := range results {
		fmt.Fprintf(w, "%d\t%s\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%.0f\t%.0f\t%s\t%s\t%.0f\t%.0f\t%.0f MiB\t%s\t%d\t%d\t\n",
			r.nodes, ms(r.createNodes), ms(r.converge), r.txns, r.ops, sec(r.reconcileP50), sec(r.reconcileP99),
			ms(r.cold), r.coldTxns, r.coldOps, ms(r.coldTxnTime), ms(r.restartReady), r.restartTxns, r.restartPatches, r.rssMB, ms(r.floor), r.floorTxns, r.floorOps)
	}
	w.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func sec(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", s*1e6)
}

// waitProgrammed waits until the master has planned n owners of ownerType
// with their input present (a Node with its subnet) and has nothing pending.
func waitProgrammed(url, ownerType string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		met, err := sandbox.Scrape(url)
		if err != nil {
			return err
		}
		planned := met.Value("ovnkube_reconcile_duration_seconds", map[string]string{"owner_type": ownerType})
		if planned >= float64(n) && met.Value("ovnkube_reconcile_pending_owners", nil) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%v of %d %s owners programmed after %s", planned, n, ownerType, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledMetrics scrapes until the NB operation count stops moving: the
// watcher sees rows land before the master has counted its transaction.
func settledMetrics(url string) (sandbox.Metrics, error) {
	prev := -1.0
	for i := 0; i < 50; i++ {
		met, err := sandbox.Scrape(url)
		if err != nil {
			return nil, err
		}
		ops := met.Value("ovnkube_nb_operations_total", nil)
		if ops == prev && met.Value("ovnkube_reconcile_pending_owners", nil) == 0 {
			return met, nil
		}
		prev = ops
		time.Sleep(200 * time.Millisecond)
	}
	return nil, fmt.Errorf("metrics of %s never settled", url)
}

// env is one scenario's cluster: etcd + kube-apiserver, OVN NB/SB + northd,
// and the options to start the master on them.
type env struct {
	dir    string
	kube   *sandbox.Kube
	ovn    *sandbox.OVN
	client kubernetes.Interface
	opts   sandbox.MasterOptions
	stops  []func()
}

// startEnv starts a scenario's components. etcd keeps its data on tmpfs: on
// this machine's disk every etcd fsync costs tens of milliseconds, which
// would measure the disk instead of ovnkube (see docs/performance.md).
func startEnv(clusterSubnets string) (*env, error) {
	e := &env{}
	var err error
	if e.dir, err = os.MkdirTemp("/tmp", "ovnk-bench-"); err != nil { // short: unix socket paths
		return nil, err
	}
	e.stops = append(e.stops, func() { os.RemoveAll(e.dir) })
	kubeDir, err := os.MkdirTemp("/dev/shm", "ovnk-bench-kube-")
	if err != nil {
		e.stop()
		return nil, err
	}
	e.stops = append(e.stops, func() { os.RemoveAll(kubeDir) })
	if e.kube, err = sandbox.StartKube(kubeDir, sandbox.KubeOptions{}); err != nil {
		e.stop()
		return nil, err
	}
	e.stops = append(e.stops, e.kube.Stop)
	if e.ovn, err = sandbox.StartOVN(e.dir + "/ovn"); err != nil {
		e.stop()
		return nil, err
	}
	e.stops = append(e.stops, e.ovn.Stop)
	if e.client, err = e.kube.Client(); err != nil {
		e.stop()
		return nil, err
	}
	e.opts = sandbox.MasterOptions{
		Kubeconfig: e.kube.Kubeconfig, NBAddress: e.ovn.NBAddress, SBAddress: e.ovn.SBAddress,
		ClusterSubnets: clusterSubnets, ServiceCIDRs: sandbox.DefaultServiceCIDR, // the API server's range
		ExtraArgs: []string{"--kube-api-qps", "1000", "--kube-api-burst", "2000"},
	}
	return e, nil
}

// stop stops everything startEnv started, in reverse order.
func (e *env) stop() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
}

// coldStart runs a master on a new, empty NB with the cluster in place:
// the time from its start until it is ready and the NB holds want's rows
// (and whatever more converged checks), and the master's committed
// transactions and operations. stop stops that NB.
func coldStart(e *env, want map[string]int, timeout time.Duration, converged func(*nbWatch) error) (d time.Duration, txns, ops float64, stop func(), err error) {
	coldOVN, cw, stop, err := watchedOVN(e.dir + "/cold")
	if err != nil {
		return 0, 0, 0, func() {}, err
	}
	opts := e.opts
	opts.NBAddress, opts.SBAddress = coldOVN.NBAddress, coldOVN.SBAddress
	t0 := time.Now()
	m, err := sandbox.StartMaster(e.dir+"/master-cold", opts)
	if err != nil {
		return 0, 0, 0, stop, err
	}
	defer m.Stop()
	if err := cw.waitRows(want, timeout); err != nil {
		return 0, 0, 0, stop, err
	}
	if converged != nil {
		if err := converged(cw); err != nil {
			return 0, 0, 0, stop, err
		}
	}
	d = max(m.ReadyIn, time.Since(t0))
	met, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return 0, 0, 0, stop, err
	}
	return d, met.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"}), met.Value("ovnkube_nb_operations_total", nil), stop, nil
}
