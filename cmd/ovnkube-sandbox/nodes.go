package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// The underlay: every node's br-ex gets 172.31.0.<i>/24 on the fabric
// bridge. The range exists only inside the sandbox's own namespaces, never
// in the root namespace. The default route of a node points at .254, the
// external host: a namespace on the fabric that is no cluster node and has
// no route anywhere else, so traffic meant for "outside" ends there.
var (
	underlayPrefix  = netip.MustParsePrefix("172.31.0.0/24")
	underlayGateway = netip.MustParseAddr("172.31.0.254")
	// The IPv6 equivalents, on dual-stack clusters: fd31::<i>/64 and a
	// default route via fd31::fe, also inside the sandbox's namespaces only.
	underlayPrefix6  = netip.MustParsePrefix("fd31::/64")
	underlayGateway6 = netip.MustParseAddr("fd31::fe")
)

const (
	// nodeMetricsAddress is `ovnkube node`'s /metrics, /readyz inside each
	// node namespace: every namespace has its own loopback, so one port
	// serves all nodes.
	nodeMetricsAddress = "127.0.0.1:9410"
	// cniNetworkName is the conflist name `ovnkube node` writes.
	cniNetworkName = "ovn-kubernetes"
	// nodeReadyTimeout bounds the wait for all nodes to become Ready.
	nodeReadyTimeout = 90 * time.Second
	maxNodes         = 200
)

func newSandboxID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// underlayIP6 is node i's IPv6 address on the fabric, fd31::<i>/64.
func underlayIP6(i int) netip.Prefix {
	a := underlayPrefix6.Addr().As16()
	a[15] = byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(a), underlayPrefix6.Bits())
}

func underlayIP(i int) netip.Prefix {
	a := underlayPrefix.Addr().As4()
	a[3] = byte(i)
	return netip.PrefixFrom(netip.AddrFrom4(a), underlayPrefix.Bits())
}

func (c *cluster) nodeDir(i int) string {
	return filepath.Join(c.SocketDir, nodeName(i))
}

// agentSupported reports whether the ovnkube binary has the `node` command.
func agentSupported(binDir string) bool {
	bin := filepath.Join(binDir, "ovnkube")
	return exec.Command(bin, "node", "--help").Run() == nil
}

// startNodes brings up the fabric, the API relay and every node.
func startNodes(s *starter, out io.Writer) error {
	c := s.c
	if c.NodeCount == 0 {
		return nil
	}
	t0 := time.Now()
	withAgent := agentSupported(c.BinDir)
	if !withAgent {
		fmt.Fprintf(out, "  WARNING: %s/ovnkube has no `node` command yet: nodes get OVS and ovn-controller but stay NotReady, and no pod gets networking\n", c.BinDir)
	}
	if _, err := sandbox.BuiltBin(c.BinDir, "ovn-k8s-cni-overlay"); err != nil && withAgent {
		return err
	}
	fabric, err := sandbox.CreateFabric(c.fabricNetNS())
	if err != nil {
		return err
	}
	external := []netip.Prefix{netip.PrefixFrom(underlayGateway, underlayPrefix.Bits())}
	if strings.Contains(c.ClusterSubnets, ":") {
		external = append(external, netip.PrefixFrom(underlayGateway6, underlayPrefix6.Bits()))
	}
	if err := fabric.AddHost(c.externalNetNS(), "external", external); err != nil {
		return fmt.Errorf("external host: %w", err)
	}
	port, err := sandbox.PortOf(c.APIServer)
	if err != nil {
		return err
	}
	hubSock := sandbox.RelaySocket(c.SocketDir)
	if _, err := sandbox.StartRelayHub(hubSock, port, c.path("api-relay.log"), s.launch()); err != nil {
		return err
	}
	cs, err := adminClient(c.Kubeconfig)
	if err != nil {
		return err
	}
	for i := 1; i <= c.NodeCount; i++ {
		dir := c.nodeDir(i)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if c.SocketDir != c.Dir {
			if err := os.Symlink(dir, c.path(nodeName(i))); err != nil && !os.IsExist(err) {
				return err
			}
		}
		c.Nodes = append(c.Nodes, nodeInfo{
			Name:       nodeName(i),
			NetNS:      c.netnsPrefix() + nodeName(i),
			Dir:        dir,
			UnderlayIP: underlayIP(i).String(),
			OVSAddress: "unix:" + filepath.Join(dir, "db.sock"),
			CNISocket:  filepath.Join(dir, "cni-server", "cni.sock"),
			CNIBinDir:  filepath.Join(dir, "cni-bin"),
			CNIConfDir: filepath.Join(dir, "cni-conf"),
			MetricsURL: "http://" + nodeMetricsAddress + "/metrics",
		})
		if err := createNode(cs, c.Nodes[i-1]); err != nil {
			return err
		}
	}
	if err := c.save(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, c.NodeCount)
	times := make([]time.Duration, c.NodeCount)
	for i := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			errs[i] = startNode(s, fabric, &c.Nodes[i], i+1, port, hubSock, self, withAgent)
			times[i] = time.Since(t)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", c.Nodes[i].Name, err)
		}
	}
	for i, n := range c.Nodes {
		fmt.Fprintf(out, "  %-26s started in %s (%s, %s)\n", n.Name, round(times[i]), n.NetNS, n.UnderlayIP)
	}
	if !withAgent {
		return nil
	}
	tw := time.Now()
	if err := waitNodesReady(cs, c, s); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %-26s ready in %s (all %d nodes: %s after their start)\n", "nodes", round(time.Since(t0)), c.NodeCount, round(time.Since(tw)))
	primeTunnels(c)
	return nil
}

// primeTunnels has every node ping every other node's underlay address once.
// The userspace datapath drops the first packet it tunnels to a node whose
// MAC it has not resolved yet; the ARP replies to these pings pass through
// br-ex, where OVS learns them (ovs-appctl tnl/arp/show), so the first pod
// packet across nodes is not lost. Best effort: a failure costs one packet.
func primeTunnels(c *cluster) {
	var wg sync.WaitGroup
	for _, from := range c.Nodes {
		for _, to := range c.Nodes {
			if from.Name == to.Name {
				continue
			}
			ip := strings.Split(to.UnderlayIP, "/")[0]
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = sandbox.InNetNS(sandbox.NetNSPath(from.NetNS), func() error {
					return exec.Command("ping", "-c1", "-W1", ip).Run()
				})
			}()
		}
	}
	wg.Wait()
}

// startNode starts one node: namespace, OVS, ovn-controller, the API relay,
// `ovnkube node` and the pod runner, all inside the node's namespace.
func startNode(s *starter, fabric *sandbox.Fabric, n *nodeInfo, i, apiPort int, hubSock, self string, withAgent bool) error {
	c := s.c
	l := s.launch()
	opts := sandbox.NodeOptions{
		Name:       n.Name,
		NetNS:      n.NetNS,
		Dir:        n.Dir,
		UnderlayIP: underlayIP(i),
		Gateway:    underlayGateway,
		Fabric:     fabric,
		FabricPort: n.Name,
		Launch:     l,
	}
	if strings.Contains(c.ClusterSubnets, ":") { // an IPv6 cluster subnet
		opts.UnderlayIP6, opts.Gateway6 = underlayIP6(i), underlayGateway6
	}
	node, err := sandbox.StartNode(opts)
	if err != nil {
		return err
	}
	nsPath := sandbox.NetNSPath(n.NetNS)
	if _, err := sandbox.StartNodeRelay(n.NetNS, hubSock, apiPort, "api-relay-"+n.Name, filepath.Join(n.Dir, "api-relay.log"), l); err != nil {
		return err
	}
	if withAgent {
		// The agent's metrics, on the node namespace's loopback, for
		// Prometheus and curl in the root namespace.
		relay, err := sandbox.StartMetricsRelay(n.NetNS, nodeMetricsAddress, filepath.Join(n.Dir, "metrics.sock"),
			"metrics-relay-"+n.Name, filepath.Join(n.Dir, "metrics-relay.log"), l)
		if err != nil {
			return err
		}
		n.MetricsRelayURL = relay.URL
		args := []string{filepath.Join(c.BinDir, "ovnkube"), "node",
			"--node-name", n.Name,
			// Its own identity, which may edit only its own Node.
			"--kubeconfig", sandbox.NodeKubeconfigPath(c.kubeDir(), n.Name),
			"--sb-address", c.SBAddress,
			"--ovs-address", node.OVSAddress,
			"--datapath-type", "netdev",
			"--cni-socket", n.CNISocket,
			"--cni-bin-dir", n.CNIBinDir,
			"--cni-conf-dir", n.CNIConfDir,
			"--cni-plugin", filepath.Join(c.BinDir, "ovn-k8s-cni-overlay"),
			"--metrics-address", nodeMetricsAddress,
			"--cluster-subnets", c.ClusterSubnets,
			"--service-cidrs", c.ServiceCIDRs,
		}
		args = append(args, c.NodeArgs...)
		if _, err := l.StartIn(nsPath, "ovnkube-node-"+n.Name, filepath.Join(n.Dir, "ovnkube-node.log"), sandbox.NodeEnv(n.Dir), args...); err != nil {
			return err
		}
	}
	_, err = l.StartIn(nsPath, "pod-runner-"+n.Name, filepath.Join(n.Dir, "pod-runner.log"), nil,
		self, "pod-runner",
		"--node", n.Name,
		"--kubeconfig", c.Kubeconfig,
		"--cni-bin-dir", n.CNIBinDir,
		"--cni-conf-dir", n.CNIConfDir,
		"--cni-cache-dir", filepath.Join(n.Dir, "cni-cache"),
		"--state-dir", filepath.Join(n.Dir, "pods"),
		"--netns-prefix", c.podNetNSPrefix(n.Name),
	)
	return err
}

func adminClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = sandbox.ClientQPS, sandbox.ClientBurst
	return kubernetes.NewForConfig(cfg)
}

// nodeCapacity is what each sandbox Node advertises: the scheduler needs a
// pod count; CPU and memory are nominal (no pod gets resource limits
// enforced).
func nodeCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}

// createNode registers the Node with its InternalIP (status subresource).
// The pod runner marks it Ready once the node's CNI config exists.
func createNode(cs kubernetes.Interface, n nodeInfo) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name,
		Labels: map[string]string{
			"kubernetes.io/hostname": n.Name,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
		},
	}}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Node %s: %w", n.Name, err)
	}
	// A merge patch: the master may annotate the Node at the same moment.
	ip := netip.MustParsePrefix(n.UnderlayIP).Addr().String()
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"addresses": []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: ip},
			{Type: corev1.NodeHostName, Address: n.Name},
		},
		"capacity":    nodeCapacity(),
		"allocatable": nodeCapacity(),
	}})
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("set status of Node %s: %w", n.Name, err)
	}
	return nil
}

// waitNodesReady waits until every sandbox Node is Ready and carries
// k8s.ovn.org/node-chassis-id, failing early if a sandbox process exits.
func waitNodesReady(cs kubernetes.Interface, c *cluster, s *starter) error {
	deadline := time.Now().Add(nodeReadyTimeout)
	for {
		var notReady []string
		for _, n := range c.Nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			cancel()
			if err != nil || !nodeReady(node) || node.Annotations["k8s.ovn.org/node-chassis-id"] == "" {
				notReady = append(notReady, n.Name)
			}
		}
		if len(notReady) == 0 {
			return nil
		}
		for _, p := range s.processes() {
			if !p.Running() {
				return fmt.Errorf("%s (pid %d) exited while nodes were starting; last lines of %s:\n%s", p.Name(), p.Pid(), p.LogPath(), p.LogTail(20))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes %v not Ready with a chassis id after %s: see %s/node-*/ovnkube-node.log and pod-runner.log", notReady, nodeReadyTimeout, c.SocketDir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// removeNetNS stops every process left in the sandbox's namespaces (pod
// processes outlive their pod runner by design) and deletes the
// namespaces: pods first, then nodes, then the fabric. Veths go with them.
func removeNetNS(c *cluster, out io.Writer) error {
	if c.ID == "" {
		return nil
	}
	names, err := sandbox.ListNetNS(c.netnsPrefix())
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	if n := sandbox.StopProcessesInNetNS(names, sandbox.StopTimeout); n > 0 {
		fmt.Fprintf(out, "ovnkube-sandbox: stopped %d processes left in the sandbox's network namespaces\n", n)
	}
	var firstErr error
	// Longest names first: pod namespaces before their node's.
	for i := len(names) - 1; i >= 0; i-- {
		if err := sandbox.DelNetNS(names[i]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
