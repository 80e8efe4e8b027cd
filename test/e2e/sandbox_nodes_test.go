package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// A data-plane sandbox with two nodes, shared by the tests of this file: it
// is started once (ovnkube-sandbox up --detach with its own --dir) by the
// first test that needs it and torn down by TestMain.

var (
	sbOnce sync.Once
	sb     *runningSandbox
	sbErr  error
)

// runningSandbox is what the tests need to know about the running sandbox.
type runningSandbox struct {
	dir    string
	bin    string // ovnkube-sandbox
	binDir string
	env    []string // KUBECONFIG, OVN_NB_DB, ... for child commands
	cs     kubernetes.Interface
	state  sandboxState
	upTime time.Duration
}

// sandboxState is the part of DIR/sandbox.json the tests read.
type sandboxState struct {
	ID         string `json:"id"`
	NBAddress  string `json:"nbAddress"`
	SBAddress  string `json:"sbAddress"`
	MetricsURL string `json:"metricsURL"`
	Nodes      []struct {
		Name       string `json:"name"`
		NetNS      string `json:"netns"`
		Dir        string `json:"dir"`
		CNIBinDir  string `json:"cniBinDir"`
		CNIConfDir string `json:"cniConfDir"`
	} `json:"nodes"`
}

// The dual-stack sandbox, shared the same way by the tests that need both
// families.
var (
	dsOnce sync.Once
	ds     *runningSandbox
	dsErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range []*runningSandbox{sb, ds} {
		if s != nil {
			s.down()
		}
	}
	os.Exit(code)
}

// dualStack returns the shared dual-stack sandbox, starting it on first use.
func dualStack(t *testing.T) *runningSandbox {
	t.Helper()
	dsOnce.Do(func() {
		ds, dsErr = startSandbox("--cluster-subnets", "10.244.0.0/16/24,fd00:10:244::/48/64",
			"--service-cidrs", "10.96.0.0/16,fd00:10:96::/112")
	})
	if dsErr != nil {
		t.Fatal(dsErr)
	}
	return ds
}

// podAnnotationTimeout is the node agents' --pod-annotation-timeout in the
// shared sandbox: short, so the timeout test is quick, and still far above
// the master's annotation latency.
const podAnnotationTimeout = 6 * time.Second

// dataplane returns the shared sandbox, starting it on first use. A missing
// binary fails the test with the make target that builds it.
func dataplane(t *testing.T) *runningSandbox {
	t.Helper()
	sbOnce.Do(func() {
		sb, sbErr = startSandbox("--node-arg=--pod-annotation-timeout=" + podAnnotationTimeout.String())
	})
	if sbErr != nil {
		t.Fatal(sbErr)
	}
	return sb
}

// startSandbox runs `ovnkube-sandbox up --nodes 2 --detach` in a new
// directory with extra arguments. The returned sandbox (non-nil whenever up
// was attempted) must be brought down by the caller.
func startSandbox(extra ...string) (*runningSandbox, error) {
	binDir := sandbox.BinDir()
	for _, b := range []string{"ovnkube-sandbox", "ovn-k8s-cni-overlay"} {
		if _, err := sandbox.BuiltBin(binDir, b); err != nil {
			return nil, err
		}
	}
	if err := exec.Command(filepath.Join(binDir, "ovnkube"), "node", "--help").Run(); err != nil {
		return nil, fmt.Errorf("%s/ovnkube has no working `node` command (%v): run \"make build\"", binDir, err)
	}
	dir, err := os.MkdirTemp("/tmp", "ovnk-e2e-")
	if err != nil {
		return nil, err
	}
	s := &runningSandbox{dir: filepath.Join(dir, "sb"), bin: filepath.Join(binDir, "ovnkube-sandbox"), binDir: binDir}
	t0 := time.Now()
	args := append([]string{"up", "--dir", s.dir, "--bin-dir", binDir, "--nodes", "2", "--detach"}, extra...)
	out, err := exec.Command(s.bin, args...).CombinedOutput()
	s.upTime = time.Since(t0)
	if err != nil {
		return s, fmt.Errorf("ovnkube-sandbox up: %v\n%s", err, out)
	}
	fmt.Printf("e2e: sandbox with 2 nodes up in %s\n%s", s.upTime.Round(time.Millisecond), out)
	data, err := os.ReadFile(filepath.Join(s.dir, "sandbox.json"))
	if err == nil {
		err = json.Unmarshal(data, &s.state)
	}
	if err != nil {
		return s, err
	}
	s.env = []string{"KUBECONFIG=" + filepath.Join(s.dir, "kube", "kubeconfig"), "OVN_NB_DB=" + s.state.NBAddress,
		"OVN_SB_DB=" + s.state.SBAddress, "OVNKUBE_SANDBOX_DIR=" + s.dir}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "kube", "kubeconfig"))
	if err != nil {
		return s, err
	}
	cfg.QPS, cfg.Burst = sandbox.ClientQPS, sandbox.ClientBurst
	s.cs, err = kubernetes.NewForConfig(cfg)
	return s, err
}

func (s *runningSandbox) down() {
	out, err := exec.Command(s.bin, "down", "--dir", s.dir).CombinedOutput()
	if err != nil {
		fmt.Printf("e2e: ovnkube-sandbox down: %v\n%s", err, out)
	}
	_ = os.RemoveAll(filepath.Dir(s.dir))
}

// cmd runs a command with the sandbox's environment and returns its
// combined output.
func (s *runningSandbox) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(os.Environ(), s.env...)
	return c
}

// exec runs argv in the pod's network namespace through
// `ovnkube-sandbox exec`.
func (s *runningSandbox) exec(t *testing.T, timeout time.Duration, pod string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := s.cmd(ctx, s.bin, append([]string{"exec", "--dir", s.dir, pod, "--"}, argv...)...).CombinedOutput()
	return string(out), err
}

// podSpec is a pod pinned to a node running argv, in workDir.
func podSpec(ns, name, node, workDir string, argv ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"e2e": "dataplane"}},
		Spec: corev1.PodSpec{
			NodeSelector:                  map[string]string{"kubernetes.io/hostname": node},
			TerminationGracePeriodSeconds: new(int64),
			Containers: []corev1.Container{{
				Name: "main", Image: "none", Command: argv[:1], Args: argv[1:], WorkingDir: workDir,
			}},
		},
	}
}

// createPods creates the pods and waits until all are Running with an IP.
// It returns each pod's IP and its time from create to Running.
func (s *runningSandbox) createPods(t *testing.T, pods ...*corev1.Pod) (map[string]string, map[string]time.Duration) {
	t.Helper()
	ctx := context.Background()
	created := map[string]time.Time{}
	for _, p := range pods {
		if _, err := s.cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod %s: %v", p.Name, err)
		}
		created[p.Name] = time.Now()
		t.Cleanup(func() {
			_ = s.cs.CoreV1().Pods(p.Namespace).Delete(context.Background(), p.Name, metav1.DeleteOptions{})
		})
	}
	return s.waitRunningSince(t, 60*time.Second, created, pods...)
}

// waitRunning waits until the pods are Running with an IP and returns each
// pod's IP and how long that took from now.
func (s *runningSandbox) waitRunning(t *testing.T, timeout time.Duration, pods ...*corev1.Pod) (map[string]string, map[string]time.Duration) {
	t.Helper()
	created := map[string]time.Time{}
	for _, p := range pods {
		created[p.Name] = time.Now()
	}
	return s.waitRunningSince(t, timeout, created, pods...)
}

func (s *runningSandbox) waitRunningSince(t *testing.T, timeout time.Duration, created map[string]time.Time, pods ...*corev1.Pod) (map[string]string, map[string]time.Duration) {
	t.Helper()
	ctx := context.Background()
	ips := map[string]string{}
	took := map[string]time.Duration{}
	deadline := time.Now().Add(timeout)
	for len(ips) < len(pods) {
		for _, p := range pods {
			if _, ok := ips[p.Name]; ok {
				continue
			}
			got, err := s.cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
			if err == nil && got.Status.Phase == corev1.PodRunning && got.Status.PodIP != "" {
				ips[p.Name], took[p.Name] = got.Status.PodIP, time.Since(created[p.Name])
			}
			if err == nil && (got.Status.Phase == corev1.PodFailed || got.Status.Phase == corev1.PodSucceeded) {
				t.Fatalf("pod %s ended: %s", p.Name, got.Status.Phase)
			}
		}
		if time.Now().After(deadline) {
			s.dumpPods(t)
			t.Fatalf("pods not Running after %s: have %v", timeout, ips)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ips, took
}

func (s *runningSandbox) dumpPods(t *testing.T) {
	out, _ := s.cmd(context.Background(), "kubectl", "get", "pods", "-A", "-o", "wide").CombinedOutput()
	t.Logf("kubectl get pods:\n%s", out)
	for _, n := range s.state.Nodes {
		for _, f := range []string{"pod-runner.log", "ovnkube-node.log"} {
			b, _ := os.ReadFile(filepath.Join(n.Dir, f))
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			t.Logf("%s %s:\n%s", n.Name, f, strings.Join(lines, "\n"))
		}
	}
}

// waitPing returns how long until pod can ping ip once.
func (s *runningSandbox) waitPing(t *testing.T, pod, ip string, timeout time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	for {
		out, err := s.exec(t, 5*time.Second, pod, "ping", "-c1", "-W1", ip)
		if err == nil {
			return time.Since(t0)
		}
		if time.Since(t0) > timeout {
			s.dumpPods(t)
			t.Fatalf("%s cannot ping %s after %s: %v\n%s", pod, ip, timeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpServer is a pod command serving workDir on port 8080 (no
// getfqdn: python's http.server would wait on DNS in a namespace).
func httpServer() []string {
	return []string{"/usr/bin/python3", "-c", `import http.server as h, socketserver as s
s.TCPServer.allow_reuse_address = True
s.TCPServer(("", 8080), h.SimpleHTTPRequestHandler).serve_forever()`}
}

// TestDataplane: pods on one node and across nodes ping each other, and a
// 4 MB HTTP transfer works both ways across Geneve; then restarting
// `ovnkube master` rewrites no NB row and loses no ping, restarting
// `ovnkube node` keeps the chassis id and connectivity.
func TestDataplane(t *testing.T) {
	s := dataplane(t)
	www := t.TempDir()
	const size = 4 << 20
	big := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	if err := os.WriteFile(filepath.Join(www, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(www, 0o755); err != nil {
		t.Fatal(err)
	}
	ns := "default"
	ips, took := s.createPods(t,
		podSpec(ns, "a1", "node-1", www, httpServer()...),
		podSpec(ns, "a2", "node-1", www, "sleep", "3600"),
		podSpec(ns, "b1", "node-2", www, httpServer()...),
	)
	for p, d := range took {
		t.Logf("pod %s: create -> Running in %s (IP %s)", p, d.Round(time.Millisecond), ips[p])
	}
	t.Logf("first ping a1 -> b1 (across nodes) after %s", s.waitPing(t, "a1", ips["b1"], 30*time.Second).Round(time.Millisecond))
	t.Logf("first ping a1 -> a2 (same node) after %s", s.waitPing(t, "a1", ips["a2"], 30*time.Second).Round(time.Millisecond))
	for _, c := range [][2]string{{"a2", "a1"}, {"b1", "a1"}, {"b1", "a2"}, {"a2", "b1"}} {
		if out, err := s.exec(t, 10*time.Second, c[0], "ping", "-c2", "-i0.2", "-W1", ips[c[1]]); err != nil {
			t.Errorf("ping %s -> %s: %v\n%s", c[0], c[1], err, out)
		}
	}
	t.Run("management-port", func(t *testing.T) {
		// The node reaches pods through ovn-k8s-mp0, on its own node and
		// across Geneve, and pods reach the node's management address.
		for _, ip := range []string{ips["a1"], ips["b1"]} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := s.cmd(ctx, s.bin, "exec", "--dir", s.dir, "--node", "node-1", "--", "ping", "-c2", "-i0.2", "-W1", ip).CombinedOutput()
			cancel()
			if err != nil {
				t.Errorf("node-1 -> pod %s through ovn-k8s-mp0: %v\n%s", ip, err, out)
			}
		}
		n1, err := s.cs.CoreV1().Nodes().Get(context.Background(), "node-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		subnets, _, err := kube.ParseNodeSubnets(n1.Annotations)
		if err != nil || len(subnets) == 0 {
			t.Fatalf("node-1 subnets: %v %v", subnets, err)
		}
		mgmt := subnets[0].Addr().Next().Next().String()
		if out, err := s.exec(t, 10*time.Second, "b1", "ping", "-c2", "-i0.2", "-W1", mgmt); err != nil {
			t.Errorf("b1 (node-2) -> node-1's management address %s: %v\n%s", mgmt, err, out)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		for _, c := range [][2]string{{"a2", "b1"}, {"b1", "a1"}, {"a2", "a1"}} {
			deadline := time.Now().Add(20 * time.Second)
			for {
				out, err := s.exec(t, 20*time.Second, c[0], "curl", "-sS", "-m", "15", "-o", "/dev/null", "-w", "%{size_download}",
					"http://"+ips[c[1]]+":8080/big.bin")
				if err == nil && strings.TrimSpace(out) == fmt.Sprint(size) {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("GET 4 MB %s -> %s: %v: %q (want %d bytes)", c[0], c[1], err, out, size)
					break
				}
				time.Sleep(200 * time.Millisecond) // the server may still be starting
			}
		}
	})
	t.Run("master-restart", func(t *testing.T) {
		before := s.nbVersions(t)
		ping := s.startPing(t, "a2", ips["b1"])
		ping.waitReplies(5) // some pings before the restart
		if out, err := s.cmd(context.Background(), s.bin, "restart", "--dir", s.dir, "ovnkube-master").CombinedOutput(); err != nil {
			t.Fatalf("restart master: %v\n%s", err, out)
		}
		s.waitHTTP(t, strings.TrimSuffix(s.state.MetricsURL, "/metrics")+"/readyz", "")
		ping.waitReplies(5) // and some after
		sent, recv := ping.stop()
		if sent < 10 || recv != sent {
			t.Errorf("ping across the master restart: %d sent, %d received", sent, recv)
		}
		after := s.nbVersions(t)
		if len(before) < 10 || fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("NB rows changed across the restart:\nbefore %v\nafter  %v", before, after)
		}
	})
	t.Run("node-restart", func(t *testing.T) {
		id := s.chassisID(t, "node-2")
		if out, err := s.cmd(context.Background(), s.bin, "restart", "--dir", s.dir, "ovnkube-node-node-2").CombinedOutput(); err != nil {
			t.Fatalf("restart ovnkube node: %v\n%s", err, out)
		}
		s.waitHTTP(t, "http://127.0.0.1:9410/readyz", s.state.Nodes[1].NetNS)
		if got := s.chassisID(t, "node-2"); got != id {
			t.Errorf("k8s.ovn.org/node-chassis-id changed across the restart: %q -> %q", id, got)
		}
		s.waitPing(t, "a1", ips["b1"], 10*time.Second)
		s.waitPing(t, "b1", ips["a2"], 10*time.Second)
		// And a new pod on the restarted node gets networking.
		s.createPods(t, podSpec(ns, "b2", "node-2", www, "sleep", "3600"))
		s.waitPing(t, "b2", ips["a1"], 30*time.Second)
	})
}

// startPing runs `ping -i 0.05` from pod to ip; the returned function stops
// it (SIGINT, so it prints its summary) and returns sent and received.
func (s *runningSandbox) startPing(t *testing.T, pod, ip string) *pinger {
	t.Helper()
	c := s.cmd(context.Background(), s.bin, "exec", "--dir", s.dir, pod, "--", "ping", "-i", "0.05", "-W", "1", ip)
	p := &pinger{t: t, c: c, out: lockedWriter{mu: &sync.Mutex{}, buf: &bytes.Buffer{}}}
	c.Stdout, c.Stderr = p.out, p.out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// pinger is a running ping.
type pinger struct {
	t   *testing.T
	c   *exec.Cmd
	out lockedWriter
}

// output is what ping printed so far.
func (p *pinger) output() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.buf.String()
}

// replies counts the echo replies so far.
func (p *pinger) replies() int { return strings.Count(p.output(), "bytes from") }

// waitReplies waits until n more replies than now have arrived.
func (p *pinger) waitReplies(n int) {
	p.t.Helper()
	want := p.replies() + n
	waitFor(p.t, 30*time.Second, func() bool { return p.replies() >= want }, func() string {
		return fmt.Sprintf("%d of %d ping replies:\n%s", p.replies(), want, tail(p.output(), 5))
	})
}

// stop ends the ping and returns its summary: sent and received.
func (p *pinger) stop() (int, int) {
	_ = p.c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.c.Process.Kill()
		<-done
	}
	var sent, recv int
	for _, line := range strings.Split(p.output(), "\n") {
		if strings.Contains(line, "packets transmitted") {
			fmt.Sscanf(line, "%d packets transmitted, %d received", &sent, &recv)
		}
	}
	if sent == 0 {
		p.t.Logf("ping output:\n%s", p.output())
	}
	return sent, recv
}

// waitHTTP waits until url answers 200, from inside netns when given.
func (s *runningSandbox) waitHTTP(t *testing.T, url, netns string) {
	t.Helper()
	hc := harnessClient(netns)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60 s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *runningSandbox) chassisID(t *testing.T, node string) string {
	t.Helper()
	n, err := s.cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := n.Annotations["k8s.ovn.org/node-chassis-id"]
	if id == "" {
		t.Fatalf("node %s has no k8s.ovn.org/node-chassis-id", node)
	}
	return id
}

// nbVersions returns "table:name:_uuid=_version" of every row of the tables
// ovnkube writes, read with ovsdb-client (ovn-nbctl does not show _version).
func (s *runningSandbox) nbVersions(t *testing.T) []string {
	t.Helper()
	var rows []string
	for _, table := range []string{"Logical_Router", "Logical_Router_Port", "Logical_Switch", "Logical_Switch_Port", "Gateway_Chassis"} {
		req := fmt.Sprintf(`["OVN_Northbound",{"op":"select","table":%q,"where":[],"columns":["_uuid","_version","name"]}]`, table)
		out, err := s.cmd(context.Background(), "ovsdb-client", "transact", s.state.NBAddress, req).Output()
		if err != nil {
			t.Fatalf("ovsdb-client transact: %v", err)
		}
		var res []struct {
			Rows []struct {
				UUID    []string `json:"_uuid"`
				Version []string `json:"_version"`
				Name    string   `json:"name"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
			t.Fatalf("ovsdb-client output %s: %v", out, err)
		}
		for _, r := range res[0].Rows {
			rows = append(rows, fmt.Sprintf("%s:%s:%s=%s", table, r.Name, r.UUID[1], r.Version[1]))
		}
	}
	sort.Strings(rows)
	return rows
}

// TestCNIAddWithoutAnnotation calls the real CNI plugin inside node-1 for a
// pod the master never annotates (a hostNetwork pod): ADD fails within the
// node agent's --pod-annotation-timeout with a message naming the
// annotation, and DEL succeeds, twice.
func TestCNIAddWithoutAnnotation(t *testing.T) {
	s := dataplane(t)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "never-annotated"},
		Spec: corev1.PodSpec{
			NodeName:    "node-1",
			HostNetwork: true, // neither the master nor the pod runner touch it
			Containers:  []corev1.Container{{Name: "main", Image: "none"}},
		},
	}
	if _, err := s.cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = s.cs.CoreV1().Pods("default").Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	node := s.state.Nodes[0]
	netns := "ovnk-" + s.state.ID + "-e2e-cni"
	if err := sandbox.AddNetNS(netns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sandbox.DelNetNS(netns) })

	conflist, err := os.ReadFile(filepath.Join(node.CNIConfDir, "10-ovn-kubernetes.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		CNIVersion string           `json:"cniVersion"`
		Name       string           `json:"name"`
		Plugins    []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(conflist, &list); err != nil || len(list.Plugins) == 0 {
		t.Fatalf("conflist %s: %v", conflist, err)
	}
	conf := list.Plugins[0]
	conf["cniVersion"], conf["name"] = list.CNIVersion, list.Name
	stdin, _ := json.Marshal(conf)
	plugin := func(command string) (string, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), podAnnotationTimeout+30*time.Second)
		defer cancel()
		c := s.cmd(ctx, s.bin, "exec", "--dir", s.dir, "--node", node.Name, "--",
			filepath.Join(node.CNIBinDir, "ovn-k8s-cni-overlay"))
		c.Env = append(c.Env, "CNI_COMMAND="+command, "CNI_CONTAINERID=e2e-never-annotated",
			"CNI_NETNS="+sandbox.NetNSPath(netns), "CNI_IFNAME=eth0", "CNI_PATH="+node.CNIBinDir,
			"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=never-annotated;K8S_POD_UID="+string(pod.UID))
		c.Stdin = bytes.NewReader(stdin)
		t0 := time.Now()
		out, err := c.CombinedOutput()
		return string(out), time.Since(t0), err
	}
	out, took, err := plugin("ADD")
	t.Logf("CNI ADD failed after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(out))
	if err == nil {
		t.Fatalf("CNI ADD of a never-annotated pod succeeded: %s", out)
	}
	if took > podAnnotationTimeout+10*time.Second {
		t.Errorf("CNI ADD took %s, want about the %s annotation timeout", took, podAnnotationTimeout)
	}
	if !strings.Contains(out, "k8s.ovn.org/pod-networks") && !strings.Contains(strings.ToLower(out), "annotation") {
		t.Errorf("CNI ADD error does not name the missing annotation: %s", out)
	}
	for i := 0; i < 2; i++ {
		if out, _, err := plugin("DEL"); err != nil {
			t.Errorf("CNI DEL #%d: %v: %s", i+1, err, out)
		}
	}
}

func harnessClient(netns string) *http.Client {
	if netns == "" {
		return &http.Client{Timeout: 2 * time.Second}
	}
	return sandbox.HTTPClientInNetNS(sandbox.NetNSPath(netns), 2*time.Second)
}

// TestDualStackDataplane: in a dual-stack cluster every pod gets an IPv4 and
// an IPv6 address from its node's two subnets, and pods on different nodes
// reach each other over both families across the (IPv4) Geneve underlay.
func TestDualStackDataplane(t *testing.T) {
	s := dualStack(t)
	s.createPods(t,
		podSpec("default", "ds-a", "node-1", "/", "sleep", "3600"),
		podSpec("default", "ds-b", "node-2", "/", "sleep", "3600"),
	)
	podIPs := map[string][2]string{}
	for _, name := range []string{"ds-a", "ds-b"} {
		p, err := s.cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Status.PodIPs) != 2 {
			t.Fatalf("%s podIPs = %v, want one IPv4 and one IPv6", name, p.Status.PodIPs)
		}
		v4, v6 := p.Status.PodIPs[0].IP, p.Status.PodIPs[1].IP
		if !strings.HasPrefix(v4, "10.244.") || !strings.HasPrefix(v6, "fd00:10:244:") {
			t.Fatalf("%s podIPs = %s, %s", name, v4, v6)
		}
		podIPs[name] = [2]string{v4, v6}
	}
	for _, c := range [][2]string{{"ds-a", "ds-b"}, {"ds-b", "ds-a"}} {
		for fam, ip := range podIPs[c[1]] {
			s.waitPing(t, c[0], ip, 30*time.Second)
			t.Logf("%s -> %s (%s) ok", c[0], c[1], []string{"IPv4", "IPv6"}[fam])
		}
	}
}
