package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/service"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// serviceResult is the service scenario's outcome for one mode.
type serviceResult struct {
	groups               bool
	services, endpoints  int
	nodes                int
	createAPI            time.Duration // API writes of the Services and EndpointSlices
	converge             time.Duration // first create -> every service's load balancer in the NB
	txns, ops            float64
	rssMB                float64
	churn, churnRate     int
	churnP50, churnP99   time.Duration // slice update sent -> the vip's new backend in the NB
	masterP50, masterP99 float64       // ovnkube_service_programming_latency_seconds
	restartReady         time.Duration
	restartTxns          float64
	cold                 time.Duration // master start on an empty NB -> ready and every row there
	coldTxns, coldOps    float64
	floor                time.Duration
	floorTxns, floorOps  int
}

const benchServiceNS = "svc-bench"

// runServices programs nServices ClusterIP services of `endpoints` ready
// endpoints each over `nodes` nodes, churns endpoints, restarts the master
// and commits the same rows as the floor; with groups=false the master runs
// with --lb-groups=false.
func runServices(nServices, endpoints, nodes, churn, rate int, groups bool) (serviceResult, error) {
	res := serviceResult{groups: groups, services: nServices, endpoints: endpoints, nodes: nodes, churn: churn, churnRate: rate}
	env, err := startEnv("10.128.0.0/14/24")
	if err != nil {
		return res, err
	}
	defer env.stop()
	if !groups {
		env.opts.ExtraArgs = append(env.opts.ExtraArgs, "--lb-groups=false")
	}
	m, err := sandbox.StartMaster(env.dir+"/master", env.opts)
	if err != nil {
		return res, err
	}
	defer func() { m.Stop() }()
	watch, err := newNBWatch(env.ovn.NBAddress)
	if err != nil {
		return res, err
	}
	defer watch.close()

	if err := createNodes(env.client, nodes); err != nil {
		return res, err
	}
	want, err := expectedCounts(nodes)
	if err != nil {
		return res, err
	}
	if err := watch.waitRows(want, 5*time.Minute); err != nil {
		return res, err
	}
	if _, err := env.client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchServiceNS}}, metav1.CreateOptions{}); err != nil {
		return res, err
	}
	before, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return res, err
	}

	// New services: Services and their EndpointSlices from 32 clients.
	start := time.Now()
	err = parallel(nServices, 32, func(i int) error {
		if _, err := env.client.CoreV1().Services(benchServiceNS).Create(context.Background(), benchService(i), metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := env.client.DiscoveryV1().EndpointSlices(benchServiceNS).Create(context.Background(), benchSlice(i, endpoints, nodes, 0), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return res, err
	}
	res.createAPI = time.Since(start)
	if err := waitLBs(watch, nServices, endpoints, 5*time.Minute); err != nil {
		return res, err
	}
	res.converge = time.Since(start)
	after, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return res, err
	}
	res.txns = after.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"}) - before.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"})
	res.ops = after.Value("ovnkube_nb_operations_total", nil) - before.Value("ovnkube_nb_operations_total", nil)
	if rss, err := m.RSSBytes(); err == nil {
		res.rssMB = float64(rss) / (1 << 20)
	}

	// Endpoint churn: one endpoint of a service replaced per change, at
	// `rate` changes per second; latency is until the NB shows the new one.
	seen := newVipWatch(watch)
	var mu sync.Mutex
	var lat []time.Duration
	names := make([]string, churn)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	err = paced(names, rate, func(_ string, i int) error {
		svc := i % nServices
		gen := i/nServices + 1
		sl := benchSlice(svc, endpoints, nodes, gen)
		marker := sl.Endpoints[0].Addresses[0] + ":8080"
		done := seen.expect(benchLBName(svc), marker)
		t0 := time.Now()
		if _, err := env.client.DiscoveryV1().EndpointSlices(benchServiceNS).Update(context.Background(), sl, metav1.UpdateOptions{}); err != nil {
			return err
		}
		select {
		case <-done:
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
			return nil
		case <-time.After(time.Minute):
			return fmt.Errorf("service %d: %s not in the NB after a minute", svc, marker)
		}
	})
	if err != nil {
		return res, err
	}
	slices.Sort(lat)
	res.churnP50, res.churnP99 = lat[len(lat)/2], lat[len(lat)*99/100]
	met, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return res, err
	}
	res.masterP50, res.masterP99 = histQuantiles(met, "ovnkube_service_programming_latency_seconds")

	// Restart over the same cluster.
	nodesBefore, err := listNodes(env.client)
	if err != nil {
		return res, err
	}
	res.restartReady, res.restartTxns, _, err = measureRestart(m, env.dir, env.opts, nodeVersions(env.client))
	if err != nil {
		return res, err
	}

	// Cold NB: the cluster exists, the NB is new and empty.
	var stopCold func()
	res.cold, res.coldTxns, res.coldOps, stopCold, err = coldStart(env, want, 5*time.Minute, func(cw *nbWatch) error {
		return waitLBs(cw, nServices, endpoints, 5*time.Minute)
	})
	defer stopCold()
	if err != nil {
		return res, err
	}

	// Floor: the same rows straight with libovsdb into a fresh NB.
	floorOVN, _, stopFloor, err := watchedOVN(env.dir + "/floor")
	if err != nil {
		return res, err
	}
	defer stopFloor()
	extra, err := serviceRows(env.client, nodesBefore, !groups)
	if err != nil {
		return res, err
	}
	res.floor, res.floorTxns, res.floorOps, err = floor(floorOVN.NBAddress, nodesBefore, extra...)
	return res, err
}

func benchLBName(i int) string {
	return service.LoadBalancerName(benchServiceNS+"/"+benchServiceName(i), corev1.ProtocolTCP, "cluster")
}

func benchServiceName(i int) string { return fmt.Sprintf("svc-%05d", i) }

// benchService is a ClusterIP service without selector (its slice is the
// benchmark's own).
func benchService(i int) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: benchServiceName(i)},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
}

// benchSlice is service i's EndpointSlice: n ready endpoints on the
// nodes' pod subnets; gen shifts the first endpoint so each update changes
// exactly one backend.
func benchSlice(i, n, nodes, gen int) *discoveryv1.EndpointSlice {
	port, proto, name := int32(8080), corev1.ProtocolTCP, "http"
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: benchServiceName(i), Labels: map[string]string{
			discoveryv1.LabelServiceName: benchServiceName(i), discoveryv1.LabelManagedBy: "ovnkube-bench"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	for e := range n {
		k := i*n + e
		node := k % nodes
		ip := netip.AddrFrom4([4]byte{10, byte(128 + node>>8), byte(node), byte(10 + k/nodes%240)})
		if e == 0 && gen > 0 {
			// A fresh address per generation, in 10.130.0.0/15 where no
			// other endpoint lives.
			v := uint32(10)<<24 | uint32(130)<<16 | uint32(i*64+gen%64)
			ip = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		}
		nodeName := nodeName(node)
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip.String()}, NodeName: &nodeName})
	}
	return sl
}

// parallel runs fn(0..n-1) on `workers` goroutines and returns the first error.
func parallel(n, workers int, fn func(int) error) error {
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// waitLBs waits until n of the benchmark's services have their cluster
// load balancer with `backends` backends.
func waitLBs(w *nbWatch, n, backends int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		full := 0
		for _, r := range w.c.Cache().Table(nbdb.LoadBalancerTable).RowsShallow() {
			lb := r.(*nbdb.LoadBalancer)
			if !strings.HasPrefix(lb.Name, "Service_"+benchServiceNS+"/") {
				continue
			}
			for _, v := range lb.Vips {
				if v != "" && strings.Count(v, ",")+1 == backends {
					full++
				}
			}
		}
		if full >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %d of %d services programmed", timeout, full, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vipWatch tells when a load balancer's vips first contain a backend.
type vipWatch struct {
	mu      sync.Mutex
	waiters map[string][]waiter // lb name
}

type waiter struct {
	backend string
	done    chan struct{}
}

func newVipWatch(w *nbWatch) *vipWatch {
	v := &vipWatch{waiters: map[string][]waiter{}}
	check := func(m model.Model) {
		lb, ok := m.(*nbdb.LoadBalancer)
		if !ok {
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		kept := v.waiters[lb.Name][:0]
		for _, wt := range v.waiters[lb.Name] {
			if lbHas(lb, wt.backend) {
				close(wt.done)
				continue
			}
			kept = append(kept, wt)
		}
		v.waiters[lb.Name] = kept
	}
	w.c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(_ string, m model.Model) { check(m) },
		UpdateFunc: func(_ string, _, m model.Model) { check(m) },
	})
	return v
}

func lbHas(lb *nbdb.LoadBalancer, backend string) bool {
	for _, v := range lb.Vips {
		if slices.Contains(strings.Split(v, ","), backend) {
			return true
		}
	}
	return false
}

// expect returns a channel closed once lb's vips contain backend.
func (v *vipWatch) expect(lb, backend string) <-chan struct{} {
	done := make(chan struct{})
	v.mu.Lock()
	v.waiters[lb] = append(v.waiters[lb], waiter{backend, done})
	v.mu.Unlock()
	return done
}

// histQuantiles is quantiles for a histogram without labels.
func histQuantiles(m sandbox.Metrics, name string) (p50, p99 float64) {
	fam, ok := m[name]
	if !ok || len(fam.Metric) == 0 || fam.Metric[0].Histogram == nil {
		return 0, 0
	}
	h := fam.Metric[0].Histogram
	return bucketQuantile(h, 0.5), bucketQuantile(h, 0.99)
}

// serviceRows translates the benchmark's services as the master does.
func serviceRows(c kubernetes.Interface, nodes []corev1.Node, noGroups bool) ([]ownedRow, error) {
	svcs, err := c.CoreV1().Services(benchServiceNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	sls, err := c.DiscoveryV1().EndpointSlices(benchServiceNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	byService := map[string][]*discoveryv1.EndpointSlice{}
	for i := range sls.Items {
		byService[sls.Items[i].Labels[discoveryv1.LabelServiceName]] = append(byService[sls.Items[i].Labels[discoveryv1.LabelServiceName]], &sls.Items[i])
	}
	var gw []service.Node
	for i := range nodes {
		gw = append(gw, service.Node{Name: nodes[i].Name})
	}
	slices.SortFunc(gw, func(a, b service.Node) int { return strings.Compare(a.Name, b.Name) })
	var out []ownedRow
	for i := range svcs.Items {
		s := &svcs.Items[i]
		rows, _ := service.Rows(service.Input{Service: s, Slices: byService[s.Name], ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix(sandbox.DefaultServiceCIDR)},
			Nodes: gw, NoLBGroups: noGroups})
		for _, r := range rows {
			out = append(out, ownedRow{topology.ServiceOwner(s.Namespace + "/" + s.Name), r})
		}
	}
	return out, nil
}

func printServices(results []serviceResult) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "LB groups\tservices×endpoints\tnodes\tcreate (API)\tnew services converge\tNB txns\tNB ops\tmaster RSS\tchurn\tchurn p50\tchurn p99\tmaster p50\tmaster p99\trestart ready\trestart txns\tcold NB converge\tcold txns\tcold ops\tfloor (libovsdb)\tfloor txns\tfloor ops\t")
	for _, r := range results {
		fmt.Fprintf(w, "%v\t%d×%d\t%d\t%s\t%s\t%.0f\t%.0f\t%.0f MiB\t%d at %d/s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%.0f\t%.0f\t%s\t%d\t%d\t\n",
			r.groups, r.services, r.endpoints, r.nodes, ms(r.createAPI), ms(r.converge), r.txns, r.ops, r.rssMB, r.churn, r.churnRate,
			ms(r.churnP50), ms(r.churnP99), bucket(r.masterP50), bucket(r.masterP99), ms(r.restartReady), r.restartTxns,
			ms(r.cold), r.coldTxns, r.coldOps, ms(r.floor), r.floorTxns, r.floorOps)
	}
	w.Flush()
}

func bucket(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("≤%.1f ms", s*1000)
}
