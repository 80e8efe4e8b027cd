package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	k8scache "k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// podResult is the pod churn scenario's outcome.
type podResult struct {
	pods, rate             int
	toPort, toAnnotation   []time.Duration // create request -> port in NB / annotation seen
	toPortGone             []time.Duration // delete request -> port gone from NB
	createCall             []time.Duration // create request -> the API server's answer
	churnTxns, churnOps    float64
	restartPods            int
	restartReady           time.Duration
	restartTxns, podWrites float64
	rssMB                  float64
}

// stamps records when the benchmark saw each pod's port and annotation.
type stamps struct {
	mu                    sync.Mutex
	created, deleted      map[string]time.Time
	createAck             map[string]time.Time // the API server answered the create
	port, portGone, annot map[string]time.Time
}

func newStamps() *stamps {
	return &stamps{created: map[string]time.Time{}, deleted: map[string]time.Time{}, createAck: map[string]time.Time{},
		port: map[string]time.Time{}, portGone: map[string]time.Time{}, annot: map[string]time.Time{}}
}

func (s *stamps) set(m map[string]time.Time, k string) {
	s.mu.Lock()
	if _, ok := m[k]; !ok {
		m[k] = time.Now()
	}
	s.mu.Unlock()
}

func (s *stamps) count(m map[string]time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(m)
}

// latencies returns to[k]-from[k] for every k in from.
func (s *stamps) latencies(from, to map[string]time.Time) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for k, t0 := range from {
		if t1, ok := to[k]; ok {
			out = append(out, t1.Sub(t0))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func runPods(n, rate, restartPods int) (podResult, error) {
	res := podResult{pods: n, rate: rate, restartPods: restartPods}
	cluster, err := startEnv("10.128.0.0/14/20")
	if err != nil {
		return res, err
	}
	defer cluster.stop()
	dir, ovn, client, opts := cluster.dir, cluster.ovn, cluster.client, cluster.opts
	m, err := sandbox.StartMaster(dir+"/master", opts)
	if err != nil {
		return res, err
	}
	defer func() { m.Stop() }()

	st := newStamps()
	nb, err := watchPorts(ovn.NBAddress, st)
	if err != nil {
		return res, err
	}
	defer nb.Close()
	stop := make(chan struct{})
	defer close(stop)
	watchAnnotations(client, st, stop)

	if err := createNodes(client, 3); err != nil {
		return res, err
	}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "churn"}}, metav1.CreateOptions{}); err != nil {
		return res, err
	}
	if err := waitProgrammed(m.MetricsURL, "Node", 3, time.Minute); err != nil {
		return res, err
	}
	before, err := sandbox.Scrape(m.MetricsURL)
	if err != nil {
		return res, err
	}

	// Create n pods at rate/s, spread over the 3 nodes, then delete them at
	// the same rate.
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("churn-%05d", i)
	}
	err = paced(names, rate, func(name string, i int) error {
		st.set(st.created, name)
		_, err := client.CoreV1().Pods("churn").Create(context.Background(), benchPod(name, i), metav1.CreateOptions{})
		st.set(st.createAck, name)
		return err
	})
	if err != nil {
		return res, err
	}
	if err := waitCount(st, st.port, n, time.Minute); err != nil {
		return res, fmt.Errorf("ports: %w", err)
	}
	if err := waitCount(st, st.annot, n, time.Minute); err != nil {
		return res, fmt.Errorf("annotations: %w", err)
	}
	zero := int64(0)
	err = paced(names, rate, func(name string, _ int) error {
		st.set(st.deleted, name)
		return client.CoreV1().Pods("churn").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	if err != nil {
		return res, err
	}
	if err := waitCount(st, st.portGone, n, time.Minute); err != nil {
		return res, fmt.Errorf("port deletions: %w", err)
	}
	after, err := settledMetrics(m.MetricsURL)
	if err != nil {
		return res, err
	}
	res.toPort = st.latencies(st.created, st.port)
	res.toAnnotation = st.latencies(st.created, st.annot)
	res.toPortGone = st.latencies(st.deleted, st.portGone)
	res.createCall = st.latencies(st.created, st.createAck)
	res.churnTxns = after.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"}) -
		before.Value("ovnkube_nb_transactions_total", map[string]string{"result": "committed"})
	res.churnOps = after.Value("ovnkube_nb_operations_total", nil) - before.Value("ovnkube_nb_operations_total", nil)

	// Restart over restartPods live pods.
	big := make([]string, restartPods)
	for i := range big {
		big[i] = fmt.Sprintf("live-%05d", i)
	}
	if err := createPods(client, big); err != nil {
		return res, err
	}
	if err := waitPrefixCount(st, "live-", restartPods, 3*time.Minute); err != nil {
		return res, err
	}
	if _, err := settledMetrics(m.MetricsURL); err != nil {
		return res, err
	}
	if rss, err := m.RSSBytes(); err == nil {
		res.rssMB = float64(rss) / (1 << 20)
	}
	res.restartReady, res.restartTxns, res.podWrites, err = measureRestart(m, dir, opts, podVersions(client))
	if err != nil {
		return res, err
	}
	return res, nil
}

func benchPod(name string, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "churn", Name: name},
		Spec: corev1.PodSpec{
			NodeName:   nodeName(i % 3),
			Containers: []corev1.Container{{Name: "c", Image: "none"}},
		},
	}
}

// paced calls fn for every name at rate per second, each call in its own
// goroutine so a slow API call does not delay the next one.
func paced(names []string, rate int, fn func(name string, i int) error) error {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for i, name := range names {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(name, i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func createPods(c kubernetes.Interface, names []string) error {
	work := make(chan int)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := c.CoreV1().Pods("churn").Create(context.Background(), benchPod(names[i], i), metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// watchPorts stamps pod ports appearing in and leaving the NB.
func watchPorts(addr string, st *stamps) (interface{ Close() }, error) {
	m, err := nbdb.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	portName := func(mod model.Model) (string, bool) {
		lsp := mod.(*nbdb.LogicalSwitchPort)
		if lsp.ExternalIDs["pod"] != "true" {
			return "", false
		}
		return lsp.Name[len("churn_"):], len(lsp.Name) > len("churn_")
	}
	c, err := ovsdbclient.Connect(context.Background(), ovsdbclient.Options{
		Endpoints: []string{addr}, Model: m, Tables: []string{nbdb.LogicalSwitchPortTable},
		Handler: &cache.EventHandlerFuncs{
			AddFunc: func(_ string, mod model.Model) {
				if name, ok := portName(mod); ok {
					st.set(st.port, name)
				}
			},
			DeleteFunc: func(_ string, mod model.Model) {
				if name, ok := portName(mod); ok {
					st.set(st.portGone, name)
				}
			},
		},
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// watchAnnotations stamps pods whose k8s.ovn.org/pod-networks appeared.
func watchAnnotations(c kubernetes.Interface, st *stamps, stop chan struct{}) {
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace("churn"))
	seen := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			if _, ok := p.Annotations[kube.PodNetworksAnnotation]; ok {
				st.set(st.annot, p.Name)
			}
		}
	}
	f.Core().V1().Pods().Informer().AddEventHandler(k8scache.ResourceEventHandlerFuncs{
		AddFunc: seen, UpdateFunc: func(_, cur any) { seen(cur) },
	})
	f.Start(stop)
	f.WaitForCacheSync(stop)
}

func waitCount(st *stamps, m map[string]time.Time, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for st.count(m) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d after %s", st.count(m), n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func waitPrefixCount(st *stamps, prefix string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st.mu.Lock()
		got := 0
		for k := range st.port {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				got++
			}
		}
		st.mu.Unlock()
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d %s ports after %s", got, n, prefix, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pct(d []time.Duration, q float64) string {
	if len(d) == 0 {
		return "-"
	}
	i := int(q * float64(len(d)-1))
	return fmt.Sprintf("%.1f ms", float64(d[i].Microseconds())/1000)
}

func (r podResult) print() {
	fmt.Println()
	fmt.Printf("Pod churn: %d pods created then deleted at %d/s on 3 nodes\n", r.pods, r.rate)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "measure\tp50\tp99\tmax\t")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"create request (API server alone)", r.createCall}, {"create -> port in NB", r.toPort}, {"create -> annotation", r.toAnnotation}, {"delete -> port gone", r.toPortGone}} {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", row.name, pct(row.d, 0.5), pct(row.d, 0.99), pct(row.d, 1))
	}
	w.Flush()
	fmt.Printf("churn NB transactions %.0f, operations %.0f\n", r.churnTxns, r.churnOps)
	fmt.Printf("master restart over %d pods: ready in %s, NB transactions %.0f, pod writes %.0f, RSS before restart %.0f MiB\n",
		r.restartPods, ms(r.restartReady), r.restartTxns, r.podWrites, r.rssMB)
}
