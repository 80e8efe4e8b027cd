package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

type upOptions struct {
	dir            string
	binDir         string
	detach         bool
	clusterSubnets string
	serviceCIDRs   string
	nodePortRange  string
	masterArgs     []string
	nodes          int
	nodeArgs       []string
	dbClusterSize  int
	prometheus     bool
}

func newUpCommand() *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the sandbox cluster (foreground until Ctrl-C, or --detach)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runUp(o, cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "_output/sandbox", "directory for all sandbox state and logs")
	f.StringVar(&o.binDir, "bin-dir", defaultBinDir(), "directory with ovnkube, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl")
	f.BoolVar(&o.detach, "detach", false, "return once the cluster is ready and leave it running (stop it with `down`)")
	f.StringVar(&o.clusterSubnets, "cluster-subnets", "10.244.0.0/16/24", "pod network CIDR/host prefix, passed to ovnkube master")
	f.StringVar(&o.serviceCIDRs, "service-cidrs", sandbox.DefaultServiceCIDR, "service CIDR(s), passed to kube-apiserver and ovnkube master")
	f.StringVar(&o.nodePortRange, "nodeport-range", "30000-32767", "Service node-port range, passed to kube-apiserver (--service-node-port-range) and ovnkube master (--nodeport-range)")
	f.StringArrayVar(&o.masterArgs, "master-arg", nil, "extra argument for ovnkube master (repeatable)")
	f.IntVar(&o.nodes, "nodes", 2, "number of nodes (network namespaces with OVS, ovn-controller, ovnkube node and a pod runner); 0 for none")
	f.StringArrayVar(&o.nodeArgs, "node-arg", nil, "extra argument for every ovnkube node (repeatable)")
	f.BoolVar(&o.prometheus, "prometheus", true, "run Prometheus on 127.0.0.1, scraping the master and every node agent every 2 s and evaluating "+sandbox.PrometheusRulesFile)
	f.IntVar(&o.dbClusterSize, "db-cluster-size", 1, "members of the NB and of the SB database: 1 runs standalone servers, 3 runs each as an OVSDB RAFT cluster (members on loopback, clients given every member)")
	return cmd
}

// defaultBinDir is the directory of this executable: `make build` puts
// ovnkube-sandbox beside the binaries it runs.
func defaultBinDir() string {
	if exe, err := os.Executable(); err == nil {
		return filepath.Dir(exe)
	}
	return sandbox.BinDir()
}

// starter starts the sandbox's processes and records each in the pid file
// before waiting on it. After cancel, starting anything fails (and what was
// just started is stopped), so a Ctrl-C during start-up cannot race with
// the teardown that follows it.
type starter struct {
	c         *cluster
	mu        sync.Mutex
	cancelled bool
	procs     []*sandbox.Process
}

var errInterrupted = errors.New("interrupted")

func (s *starter) launch() sandbox.Launch {
	return sandbox.Launch{
		BinDir:   s.c.BinDir,
		Detached: s.c.Detached,
		OnStart: func(p *sandbox.Process) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.cancelled {
				return errInterrupted
			}
			s.procs = append(s.procs, p)
			return s.c.pidFile().Add(p)
		},
	}
}

func (s *starter) cancel() {
	s.mu.Lock()
	s.cancelled = true
	s.mu.Unlock()
}

func (s *starter) processes() []*sandbox.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sandbox.Process(nil), s.procs...)
}

func runUp(o *upOptions, out io.Writer) error {
	t0 := time.Now()
	if o.nodes < 0 || o.nodes > maxNodes {
		return fmt.Errorf("--nodes %d: must be 0..%d", o.nodes, maxNodes)
	}
	c, err := prepare(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ovnkube-sandbox: starting in %s\n", c.Dir)
	s := &starter{c: c}

	// Ctrl-C at the terminal reaches only us (every component runs in its
	// own process group), `down` sends us SIGTERM, closing the terminal
	// sends SIGHUP: in every case we tear the whole sandbox down in order.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	started := make(chan error, 1)
	go func() { started <- startAll(s, out) }()
	select {
	case err = <-started:
	case sig := <-sigs:
		fmt.Fprintf(out, "%s during start-up: tearing down\n", sig)
		s.cancel()
		sandbox.StopInReverse(s.processes()...)
		<-started
		if terr := teardown(c.Dir, false, out); terr != nil {
			return terr
		}
		return errInterrupted
	}
	if err != nil {
		s.cancel()
		fmt.Fprintf(out, "start-up failed: stopping what was started\n")
		if terr := teardown(c.Dir, true, out); terr != nil {
			fmt.Fprintf(out, "teardown: %v\n", terr)
		}
		return err
	}
	if err := c.writeEnv(); err != nil {
		return err
	}
	if err := c.save(); err != nil {
		return err
	}
	printReady(c, time.Since(t0), out)
	if c.Detached {
		fmt.Fprintf(out, "Running detached; stop with: ovnkube-sandbox down --dir %s   (or: make stop)\n", c.Dir)
		return nil
	}
	fmt.Fprintf(out, "Running in the foreground; Ctrl-C (or make stop) tears it down.\n")
	return watch(s, sigs, out)
}

// prepare checks that nothing runs in the dir, clears stale state, picks
// the socket dir and writes the initial cluster description.
func prepare(o *upOptions) (*cluster, error) {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, err
	}
	binDir, err := filepath.Abs(o.binDir)
	if err != nil {
		return nil, err
	}
	if o.dbClusterSize < 1 || o.dbClusterSize%2 == 0 {
		return nil, fmt.Errorf("invalid --db-cluster-size %d: 1 (standalone) or an odd member count such as 3", o.dbClusterSize)
	}
	// Every binary up front: a missing one should not cost a 5 s apiserver
	// start before it is noticed.
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "ovnkube"} {
		if _, err := sandbox.BuiltBin(binDir, b); err != nil {
			return nil, err
		}
	}
	for _, b := range []string{"etcd", "ovsdb-tool", "ovsdb-server", "ovs-appctl", "ovn-northd", "ovn-nbctl", "ovn-sbctl"} {
		if _, err := sandbox.DebianBin(b); err != nil {
			return nil, err
		}
	}
	if o.prometheus {
		if _, err := sandbox.DebianBin("prometheus"); err != nil {
			return nil, fmt.Errorf("%w (or start without it: --prometheus=false)", err)
		}
	}
	if old, err := loadCluster(dir); err == nil {
		running, _ := old.pidFile().Running()
		if len(running) > 0 {
			return nil, fmt.Errorf("a sandbox is already running in %s (%d processes, e.g. %s pid %d): stop it first with `ovnkube-sandbox down --dir %s` (make stop)",
				dir, len(running), running[0].Name(), running[0].Pid(), dir)
		}
		fmt.Printf("ovnkube-sandbox: removing the stale state of a sandbox that is no longer running in %s\n", dir)
		if err := removeState(old); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, errNoSandbox) {
		return nil, err
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not a sandbox directory (no %s): refusing to use it", dir, stateFile)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &cluster{
		Dir:            dir,
		BinDir:         binDir,
		ClusterSubnets: o.clusterSubnets,
		ServiceCIDRs:   o.serviceCIDRs,
		NodePortRange:  o.nodePortRange,
		MasterArgs:     o.masterArgs,
		NodeArgs:       o.nodeArgs,
		NodeCount:      o.nodes,
		DBClusterSize:  o.dbClusterSize,
		Detached:       o.detach,
		Prometheus:     o.prometheus,
		ID:             newSandboxID(),
	}
	if c.SocketDir, err = chooseSocketDir(dir); err != nil {
		return nil, err
	}
	// Saved before anything starts, so `down` can always find the socket dir.
	if err := c.save(); err != nil {
		return nil, err
	}
	if c.SocketDir != dir {
		if err := os.MkdirAll(c.ovnDir(), 0o755); err != nil {
			return nil, err
		}
		// Logs and databases stay reachable at DIR/ovn.
		if err := os.Symlink(c.ovnDir(), c.path(ovnSubdir)); err != nil {
			return nil, err
		}
	}
	self, err := sandbox.SelfRecord("ovnkube-sandbox-up")
	if err != nil {
		return nil, err
	}
	// `down` stops us too: a foreground `up` then tears down and exits 0.
	if err := c.pidFile().AddRecord(self); err != nil {
		return nil, err
	}
	return c, nil
}

// startAll starts the components in dependency order.
func startAll(s *starter, out io.Writer) error {
	c := s.c
	ovn, err := sandbox.StartOVNWith(c.ovnDir(), sandbox.OVNOptions{Launch: s.launch(), ClusterSize: c.DBClusterSize})
	if err != nil {
		return err
	}
	c.NBAddress, c.SBAddress = ovn.NBAddress, ovn.SBAddress
	what := "OVN NB, SB, northd"
	if c.DBClusterSize > 1 {
		what = fmt.Sprintf("OVN NB, SB (%d-member RAFT), northd", c.DBClusterSize)
	}
	fmt.Fprintf(out, "  %-26s ready in %s\n", what, round(ovn.ReadyIn))

	var agents []string
	for i := 1; i <= c.NodeCount; i++ {
		agents = append(agents, nodeName(i))
	}
	kube, err := sandbox.StartKube(c.kubeDir(), sandbox.KubeOptions{
		ControllerManager: true,
		Scheduler:         true,
		ServiceCIDR:       c.ServiceCIDRs,
		NodePortRange:     c.NodePortRange,
		NodeAgents:        agents,
		Launch:            s.launch(),
	})
	if err != nil {
		return err
	}
	c.Kubeconfig, c.APIServer = kube.Kubeconfig, kube.Server
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"etcd", kube.EtcdReadyIn}, {"kube-apiserver", kube.APIServerReadyIn}, {"kube-controller-manager", kube.ControllerManagerReadyIn}, {"kube-scheduler", kube.SchedulerReadyIn}} {
		fmt.Fprintf(out, "  %-26s ready in %s\n", t.name, round(t.d))
	}

	// dist/'s RBAC and admission policies, in force before the master, the
	// agents or anything else creates a pod.
	root, err := sandbox.RepoRoot()
	if err != nil {
		return fmt.Errorf("find dist/ for the RBAC and admission policies (run from the repository): %w", err)
	}
	cs, err := kube.Client()
	if err != nil {
		return err
	}
	restCfg, err := kube.RestConfig()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := sandbox.InstallRBAC(context.Background(), restCfg, cs, root); err != nil {
		return err
	}
	if err := sandbox.InstallManifests(context.Background(), restCfg, filepath.Join(root, sandbox.AdmissionPoliciesFile)); err != nil {
		return err
	}
	if err := sandbox.WaitPodNetworksEnforced(context.Background(), cs, 30*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %-26s enforced in %s\n", "RBAC, admission policies", round(time.Since(t0)))

	master, err := sandbox.StartMaster(c.Dir, sandbox.MasterOptions{
		Kubeconfig:     kube.MasterKubeconfig,
		NBAddress:      c.NBAddress,
		SBAddress:      c.SBAddress,
		ClusterSubnets: c.ClusterSubnets,
		ServiceCIDRs:   c.ServiceCIDRs,
		NodePortRange:  c.NodePortRange,
		ExtraArgs:      append([]string{"--leader-elect"}, c.MasterArgs...),
		Launch:         s.launch(),
	})
	if err != nil {
		return err
	}
	c.MetricsURL = master.MetricsURL
	fmt.Fprintf(out, "  %-26s ready in %s\n", "ovnkube master", round(master.ReadyIn))
	if err := startNodes(s, out); err != nil {
		return err
	}
	if c.Prometheus {
		return startPrometheus(s, out)
	}
	return nil
}

func printReady(c *cluster, d time.Duration, out io.Writer) {
	fmt.Fprintf(out, "\nSandbox ready in %.1f s. Use it with:\n\n", d.Seconds())
	fmt.Fprintf(out, "  source %s\n", c.path(envFile))
	fmt.Fprintf(out, "  kubectl get nodes; ovn-nbctl show; curl -s $OVNKUBE_MASTER_METRICS\n")
	if len(c.Nodes) > 0 {
		fmt.Fprintf(out, "  kubectl create deployment web --image=none --replicas=2 -- sleep infinity\n")
		fmt.Fprintf(out, "  ovnkube-sandbox exec default/<pod> -- ping -c3 <other pod IP>\n")
	}
	if c.PrometheusURL != "" {
		fmt.Fprintf(out, "\nPrometheus: %s (targets: %s/targets, alerts: %s/alerts); in the env file as $OVNKUBE_PROMETHEUS:\n", c.PrometheusURL, c.PrometheusURL, c.PrometheusURL)
		fmt.Fprintf(out, "  curl -s $OVNKUBE_PROMETHEUS/api/v1/query --data-urlencode 'query=up'\n")
		fmt.Fprintf(out, "  curl -s $OVNKUBE_PROMETHEUS/api/v1/query --data-urlencode 'query=histogram_quantile(0.99, sum by (le) (rate(ovnkube_reconcile_duration_seconds_bucket[1m])))'\n")
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Logs: %s/ovnkube-master.log, %s/*.log, %s/*.log", c.Dir, c.kubeDir(), c.path(ovnSubdir))
	if len(c.Nodes) > 0 {
		fmt.Fprintf(out, ", %s/node-*/*.log", c.Dir)
	}
	if c.PrometheusURL != "" {
		fmt.Fprintf(out, ", %s/prometheus.log", c.path(prometheusSubdir))
	}
	fmt.Fprintf(out, "\n\n")
}

// watch keeps a foreground sandbox up until a signal arrives or a component
// dies, then tears everything down. When `down` runs in another terminal it
// signals us and stops the processes itself; we then only wait for our
// children and leave the removal to it.
func watch(s *starter, sigs <-chan os.Signal, out io.Writer) error {
	died := make(chan *sandbox.Process, 1)
	for _, p := range s.processes() {
		go func() {
			<-p.Exited()
			select {
			case died <- p:
			default:
			}
		}()
	}
	byDown := func() error {
		fmt.Fprintf(out, "sandbox stopped by `down`\n")
		for _, p := range s.processes() {
			<-p.Exited()
		}
		return nil
	}
	select {
	case sig := <-sigs:
		if stoppedByOther(s.c.Dir) {
			return byDown()
		}
		fmt.Fprintf(out, "\n%s: tearing the sandbox down\n", sig)
		return teardown(s.c.Dir, false, out)
	case p := <-died:
		if stoppedByOther(s.c.Dir) {
			return byDown()
		}
		if restartedByOther(s.c.Dir, p.Name()) {
			// `ovnkube-sandbox restart` replaced it; keep watching the rest.
			fmt.Fprintf(out, "%s (pid %d) restarted by `ovnkube-sandbox restart`; it is no longer watched\n", p.Name(), p.Pid())
			return watch(&starter{c: s.c, procs: without(s.processes(), p)}, sigs, out)
		}
		fmt.Fprintf(out, "%s (pid %d) exited unexpectedly: %v\nlast lines of %s:\n%s\nstopping the sandbox\n",
			p.Name(), p.Pid(), p.Wait(), p.LogPath(), p.LogTail(20))
		if err := teardown(s.c.Dir, true, out); err != nil {
			return err
		}
		return fmt.Errorf("%s exited unexpectedly", p.Name())
	}
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func without(ps []*sandbox.Process, drop *sandbox.Process) []*sandbox.Process {
	var out []*sandbox.Process
	for _, p := range ps {
		if p != drop {
			out = append(out, p)
		}
	}
	return out
}
