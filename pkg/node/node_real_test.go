package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
	"github.com/ovnkube/ovnkube/pkg/node/cniinstall"
	"github.com/ovnkube/ovnkube/pkg/node/internal/ovstest"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// TestNodeAgentReal runs the agent against a real kube-apiserver and a
// private userspace OVS in a namespace of the test's own: chassis
// settings and annotation, the wait for node subnets (not ready meanwhile),
// the management port, the plugin and conflist, a pod ADD through the
// informer, shutdown (socket removed) and a silent restart (no Node write,
// same chassis id).
func TestNodeAgentReal(t *testing.T) {
	kdir, err := os.MkdirTemp("/tmp", "ovnkk-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(kdir)
	k, err := sandbox.StartKube(kdir, sandbox.KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	kc, err := k.Client()
	if err != nil {
		t.Fatal(err)
	}
	o := ovstest.Start(t)
	// The underlay address the Node reports, on a link of the node namespace.
	ovstest.Exec(t, o.NetNS, "ip", "link", "add", "uplink", "mtu", "1500", "type", "veth", "peer", "name", "uplink-peer")
	ovstest.Exec(t, o.NetNS, "ip", "addr", "add", "172.31.255.1/24", "dev", "uplink")
	ovstest.Exec(t, o.NetNS, "ip", "link", "set", "uplink", "up")
	ovstest.Exec(t, o.NetNS, "ip", "link", "set", "uplink-peer", "up")
	// The agent checks the host's way out first (no packet is sent to it).
	ovstest.Exec(t, o.NetNS, "ip", "route", "add", "default", "via", "172.31.255.254", "dev", "uplink")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const name = "node1"
	n, err := kc.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.31.255.1"}}
	if _, err := kc.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	cfg := config.Defaults()
	cfg.Kubeconfig = k.Kubeconfig
	cfg.NodeName = name
	cfg.SBAddress = "unix:" + o.Dir + "/sb.sock"
	cfg.ClusterSubnets = []config.ClusterSubnet{{CIDR: netip.MustParsePrefix("10.244.0.0/16"), HostPrefix: 24}}
	cfg.ServiceCIDRs = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16")}
	cfg.MetricsAddress = freePort(t)
	if err := config.Complete(nil, cfg); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(o.Dir, "plugin-src")
	if err := os.WriteFile(plugin, []byte("plugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	ncfg := config.NodeDefaults()
	ncfg.OVSAddress = o.Address
	ncfg.DatapathType = "netdev"
	ncfg.CNISocket = o.Dir + "/cni/cni.sock"
	ncfg.CNIBinDir = o.Dir + "/bin"
	ncfg.CNIConfDir = o.Dir + "/net.d"
	ncfg.CNIPlugin = plugin
	ncfg.PodAnnotationTimeout = 5 * time.Second
	ncfg.OVSInstalledTimeout = 5 * time.Second
	if err := ncfg.Validate(); err != nil {
		t.Fatal(err)
	}

	start := func() (context.CancelFunc, chan error) {
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(rctx, cfg, ncfg, o.NS) }()
		return stop, done
	}
	stop, done := start()

	// b: the chassis id on the Node equals the OVS system-id.
	var chassis string
	waitFor(t, 20*time.Second, "node-chassis-id annotation", func() bool {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		chassis = n.Annotations[kube.NodeChassisIDAnnotation]
		return err == nil && chassis != ""
	})
	if got := strings.Trim(o.Vsctl(t, "get", "Open_vSwitch", ".", "external_ids:system-id"), `"`); got != chassis {
		t.Fatalf("annotation %s=%s, OVS system-id %s", kube.NodeChassisIDAnnotation, chassis, got)
	}
	if ip := strings.Trim(o.Vsctl(t, "get", "Open_vSwitch", ".", "external_ids:ovn-encap-ip"), `"`); ip != "172.31.255.1" {
		t.Fatalf("ovn-encap-ip %s, want the Node's InternalIP", ip)
	}
	if code := httpGet(t, cfg.MetricsAddress, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d before node subnets, want 503", code)
	}
	// c: the master assigns the subnet.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kube.NodeSubnetsAnnotation, kube.FormatNodeSubnets([]netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}))
	if _, err := kc.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	waitFor(t, 20*time.Second, "/readyz 200", func() bool { return httpGet(t, cfg.MetricsAddress, "/readyz") == http.StatusOK })
	t.Logf("ready %s after the node-subnets annotation", time.Since(t0))
	mp := ovstest.Exec(t, o.NetNS, "ip", "addr", "show", "dev", "ovn-k8s-mp0")
	for _, want := range []string{"inet 10.244.1.2/24", "mtu 1400", "0a:58:0a:f4:01:02"} {
		if !strings.Contains(mp, want) {
			t.Fatalf("ovn-k8s-mp0 lacks %q (MTU must be uplink 1500 - 100):\n%s", want, mp)
		}
	}
	conf, err := os.ReadFile(filepath.Join(ncfg.CNIConfDir, cniinstall.ConfListName))
	if err != nil || !strings.Contains(string(conf), `"serverSocket": "`+ncfg.CNISocket+`"`) {
		t.Fatalf("conflist: %v\n%s", err, conf)
	}
	if b, err := os.ReadFile(filepath.Join(ncfg.CNIBinDir, cniinstall.PluginType)); err != nil || string(b) != "plugin" {
		t.Fatalf("plugin not installed: %v", err)
	}
	if st, err := os.Stat(ncfg.CNISocket); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CNI socket: %v %v", err, st)
	}
	if st, _ := os.Stat(filepath.Dir(ncfg.CNISocket)); st.Mode().Perm() != 0o700 {
		t.Fatalf("CNI socket dir mode %v", st.Mode())
	}

	// d: a pod ADD through the informer, annotated after the ADD started.
	podTime := addPod(ctx, t, kc, o, ncfg.CNISocket)
	t.Logf("pod ADD (annotation written 300ms after ADD began; ovn-installed set by the test) took %s", podTime)

	// Shutdown removes the socket and leaves OVS alone.
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
	if _, err := os.Stat(ncfg.CNISocket); !os.IsNotExist(err) {
		t.Fatalf("socket left after shutdown: %v", err)
	}
	if ports := o.Vsctl(t, "list-ports", "br-int"); !strings.Contains(ports, "ovn-k8s-mp0") || !strings.Contains(ports, "c0ffeec0ffeec0f") {
		t.Fatalf("ports after shutdown: %s", ports)
	}

	// Restart: same chassis, no Node write.
	before, _ := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	stop, done = start()
	waitFor(t, 20*time.Second, "/readyz 200 after restart", func() bool { return httpGet(t, cfg.MetricsAddress, "/readyz") == http.StatusOK })
	after, _ := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("restart wrote the Node (resourceVersion %s -> %s)", before.ResourceVersion, after.ResourceVersion)
	}
	if got := after.Annotations[kube.NodeChassisIDAnnotation]; got != chassis {
		t.Errorf("chassis id changed on restart: %s -> %s", chassis, got)
	}
	body := httpBody(t, cfg.MetricsAddress, "/metrics")
	if !strings.Contains(body, `ovnkube_cni_requests_total{command="ADD",result="success"}`) {
		t.Errorf("metrics lack ovnkube_cni_requests_total")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
}

func addPod(ctx context.Context, t *testing.T, kc kubernetes.Interface, o *ovstest.OVS, socket string) time.Duration {
	t.Helper()
	pod, err := kc.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod1"},
		Spec:       corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "c", Image: "none"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	podNS, podNetns := ovstest.NewNetNS(t, "pod")
	const cid = "c0ffeec0ffeec0ffeec0ffee"
	go func() {
		time.Sleep(300 * time.Millisecond)
		ann := `{"default":{"ip_addresses":["10.244.1.5/24"],"mac_address":"0a:58:0a:f4:01:05","gateway_ips":["10.244.1.1"]}}`
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kube.PodNetworksAnnotation, ann)
		if _, err := kc.CoreV1().Pods("default").Patch(ctx, "pod1", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Errorf("annotate pod: %v", err)
		}
		// Play ovn-controller.
		for ctx.Err() == nil {
			if out, _ := ovstestTry(o, "get", "Interface", cid[:15], "external_ids:iface-id"); strings.Contains(out, "default_pod1") {
				o.Vsctl(t, "--no-wait", "set", "Interface", cid[:15], "external_ids:ovn-installed=true")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	raw, err := api.Do(ctx, socket, api.Request{Command: api.CommandAdd, PodNamespace: "default", PodName: "pod1", PodUID: string(pod.UID),
		ContainerID: cid, Netns: podNetns, IfName: "eth0", CNIVersion: "1.0.0"})
	el := time.Since(t0)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	var res map[string]any
	if err := json.Unmarshal(raw, &res); err != nil || !strings.Contains(string(raw), "10.244.1.5/24") {
		t.Fatalf("ADD result %s", raw)
	}
	if out := ovstest.Exec(t, podNS, "ip", "addr", "show", "dev", "eth0"); !strings.Contains(out, "10.244.1.5/24") || !strings.Contains(out, "mtu 1400") {
		t.Fatalf("pod eth0: %s", out)
	}
	if ver := strings.Trim(o.Vsctl(t, "get", "Interface", cid[:15], "external_ids:iface-id-ver"), `"`); ver != string(pod.UID) {
		t.Fatalf("iface-id-ver %s, want pod UID %s", ver, pod.UID)
	}
	return el
}

func ovstestTry(o *ovstest.OVS, args ...string) (string, error) {
	out, err := execOut("ovs-vsctl", append([]string{"--db=" + o.Address, "--no-wait"}, args...)...)
	return out, err
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func httpGet(t *testing.T, addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func httpBody(t *testing.T, addr, path string) string {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
