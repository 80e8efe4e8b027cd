package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// whoServer is a backend: on TCP 8080 it answers an HTTP request with
// "<client address> <pod name>", on UDP 5353 a datagram with its pod name.
// One IPv6 socket per protocol serves both families; the sandbox's pod
// runner sets POD_NAME.
const whoServer = `import socket, socketserver as s, threading, os
name = os.environ.get("POD_NAME") or socket.gethostname()
class H(s.BaseRequestHandler):
    def handle(self):
        self.request.recv(4096)
        body = (self.client_address[0].removeprefix("::ffff:") + " " + name + "\n").encode()
        self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
class T(s.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True
def udp():
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind(("::", 5353))
    while True:
        _, addr = u.recvfrom(2048)
        u.sendto((name + "\n").encode(), addr)
threading.Thread(target=udp, daemon=True).start()
T(("::", 8080), H).serve_forever()
`

// serviceWorld is the shared setup of the service tests: a backend
// deployment on node-2, a client pod on node-1, the script directory.
type serviceWorld struct {
	s    *runningSandbox
	ns   string
	work string
}

func newServiceWorld(t *testing.T, s *runningSandbox, ns string) *serviceWorld {
	t.Helper()
	ctx := context.Background()
	if _, err := s.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	work := t.TempDir()
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "who.py"), []byte(whoServer), 0o644); err != nil {
		t.Fatal(err)
	}
	return &serviceWorld{s: s, ns: ns, work: work}
}

// deployment creates a Deployment of whoServer pods labelled app=name on node.
func (w *serviceWorld) deployment(t *testing.T, name, node string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{"kubernetes.io/hostname": node},
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{
						Name: "who", Image: "none", Command: []string{"python3", filepath.Join(w.work, "who.py")},
					}},
				},
			},
		},
	}
	if _, err := w.s.cs.AppsV1().Deployments(w.ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// scale sets a deployment's replicas.
func (w *serviceWorld) scale(t *testing.T, name string, replicas int32) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	if _, err := w.s.cs.AppsV1().Deployments(w.ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// service creates a Service selecting app=app with TCP 80→8080 and UDP
// 53→5353, shaped by mut, and returns it as the API server completed it.
func (w *serviceWorld) service(t *testing.T, name, app string, mut func(*corev1.Service)) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(5353)},
			},
		},
	}
	if mut != nil {
		mut(svc)
	}
	got, err := w.s.cs.CoreV1().Services(w.ns).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// backends returns the number of backends of every vip of a service's
// cluster-wide TCP load balancer, from the NB.
func (w *serviceWorld) backends(t *testing.T, svc string) map[string]int {
	t.Helper()
	out, err := w.s.cmd(context.Background(), "ovn-nbctl", "--if-exists", "get", "Load_Balancer", "Service_"+w.ns+"/"+svc+"_TCP_cluster", "vips").CombinedOutput()
	if err != nil {
		t.Fatalf("ovn-nbctl: %v: %s", err, out)
	}
	got := map[string]int{}
	for _, kv := range strings.Split(strings.Trim(strings.TrimSpace(string(out)), "{}"), ", ") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		got[strings.Trim(k, `"`)] = len(strings.FieldsFunc(v, func(r rune) bool { return r == ',' }))
	}
	return got
}

// waitBackends waits until every vip of svc's cluster load balancer has n backends.
func (w *serviceWorld) waitBackends(t *testing.T, svc string, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, func() bool {
		b := w.backends(t, svc)
		if len(b) == 0 {
			return false
		}
		for _, c := range b {
			if c != n {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%s vips %v, want %d backends each", svc, w.backends(t, svc), n) })
}

// run runs argv in a pod ("", node: in node's namespace; "external": on the
// external host) and returns its trimmed output and error.
func (w *serviceWorld) run(pod, node string, timeout time.Duration, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"exec", "--dir", w.s.dir}
	switch {
	case node != "":
		args = append(args, "--node", node, "--")
	case pod == "external":
		args = append(args, pod, "--")
	default:
		args = append(args, w.ns+"/"+pod, "--")
	}
	out, err := w.s.cmd(ctx, w.s.bin, append(args, argv...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// get does an HTTP GET of url from where and returns "<client> <pod>".
func (w *serviceWorld) get(pod, node, url string) (string, error) {
	return w.run(pod, node, 10*time.Second, "curl", "-sS", "-m", "3", url)
}

// udp sends one datagram to host:port from pod and returns the answer.
func (w *serviceWorld) udp(pod, target string) (string, error) {
	return w.run(pod, "", 10*time.Second, "sh", "-c", "echo ping | socat -T2 - "+target)
}

// eventuallyOK retries f until it succeeds (a backend starting, flows
// arriving) and returns its output.
func eventuallyOK(t *testing.T, what string, f func() (string, error)) string {
	t.Helper()
	var out string
	var err error
	waitFor(t, 30*time.Second, func() bool {
		out, err = f()
		return err == nil && out != ""
	}, func() string { return fmt.Sprintf("%s: %v: %s", what, err, out) })
	return out
}

func nodeIPv4(i int) string { return fmt.Sprintf("172.31.0.%d", i) }

// TestServices: ClusterIP over TCP and UDP from a pod on another node and
// from a node's host; node ports from the external host on every node;
// an external IP; externalTrafficPolicy=Local with a load-balancer ingress
// IP (client address kept, a node without a local endpoint silent); load
// spread without affinity and stickiness with it; a pod reaching itself
// through its service; scaling to zero (refused at once) and back.
func TestServices(t *testing.T) {
	s := dataplane(t)
	w := newServiceWorld(t, s, "svc-e2e")
	w.deployment(t, "web", "node-2", 3)
	s.createPods(t, podSpec(w.ns, "client", "node-1", w.work, "sleep", "3600"))
	web := w.service(t, "web", "web", func(svc *corev1.Service) {
		svc.Spec.Type = corev1.ServiceTypeNodePort
		svc.Spec.ExternalIPs = []string{"192.0.2.11"}
	})
	w.waitBackends(t, "web", 3)
	vip := web.Spec.ClusterIP
	nodePort := web.Spec.Ports[0].NodePort

	t.Run("cluster-ip", func(t *testing.T) {
		out := eventuallyOK(t, "client -> ClusterIP TCP", func() (string, error) { return w.get("client", "", "http://"+vip+"/") })
		if !strings.Contains(out, "web-") {
			t.Errorf("TCP answer %q", out)
		}
		out = eventuallyOK(t, "client -> ClusterIP UDP", func() (string, error) { return w.udp("client", "UDP:"+vip+":53") })
		if !strings.HasPrefix(out, "web-") {
			t.Errorf("UDP answer %q", out)
		}
		out = eventuallyOK(t, "node-1 host -> ClusterIP", func() (string, error) { return w.get("", "node-1", "http://"+vip+"/") })
		if !strings.Contains(out, "web-") {
			t.Errorf("host answer %q", out)
		}
	})
	t.Run("node-ports-and-external-ip", func(t *testing.T) {
		for i := 1; i <= 2; i++ {
			url := fmt.Sprintf("http://%s:%d/", nodeIPv4(i), nodePort)
			out := eventuallyOK(t, "external -> "+url, func() (string, error) { return w.get("external", "", url) })
			if !strings.Contains(out, "web-") {
				t.Errorf("%s answered %q", url, out)
			}
		}
		// The external host routes the external IP to node-1, whose gateway
		// router balances it to node-2's pods.
		if out, err := w.run("external", "", 10*time.Second, "ip", "route", "replace", "192.0.2.11", "via", nodeIPv4(1)); err != nil {
			t.Fatalf("route on the external host: %v: %s", err, out)
		}
		if out := eventuallyOK(t, "external -> external IP", func() (string, error) { return w.get("external", "", "http://192.0.2.11/") }); !strings.Contains(out, "web-") {
			t.Errorf("external IP answered %q", out)
		}
	})
	t.Run("spread-without-affinity", func(t *testing.T) {
		seen := map[string]bool{}
		for range 20 {
			out, err := w.get("client", "", "http://"+vip+"/")
			if f := strings.Fields(out); err == nil && len(f) == 2 {
				seen[f[1]] = true
			}
		}
		if len(seen) < 2 {
			t.Errorf("20 requests reached %v, want at least 2 backends", seen)
		}
	})
	t.Run("hairpin", func(t *testing.T) {
		self := podSpec(w.ns, "self", "node-1", w.work, "python3", filepath.Join(w.work, "who.py"))
		self.Labels = map[string]string{"app": "self"}
		s.createPods(t, self)
		svc := w.service(t, "self", "self", nil)
		w.waitBackends(t, "self", 1)
		out := eventuallyOK(t, "self -> own service", func() (string, error) { return w.get("self", "", "http://"+svc.Spec.ClusterIP+"/") })
		if !strings.HasSuffix(out, " self") {
			t.Errorf("hairpin answer %q, want the pod itself", out)
		}
	})
	t.Run("external-traffic-policy-local", func(t *testing.T) {
		local := w.service(t, "local", "web", func(svc *corev1.Service) {
			svc.Spec.Type = corev1.ServiceTypeLoadBalancer
			svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		})
		local.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.20"}}
		if _, err := s.cs.CoreV1().Services(w.ns).UpdateStatus(context.Background(), local, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if out, err := w.run("external", "", 10*time.Second, "ip", "route", "replace", "192.0.2.20", "via", nodeIPv4(2)); err != nil {
			t.Fatalf("route on the external host: %v: %s", err, out)
		}
		np := local.Spec.Ports[0].NodePort
		for _, url := range []string{fmt.Sprintf("http://%s:%d/", nodeIPv4(2), np), "http://192.0.2.20/"} {
			out := eventuallyOK(t, "external -> "+url, func() (string, error) { return w.get("external", "", url) })
			if f := strings.Fields(out); len(f) != 2 || f[0] != "172.31.0.254" {
				t.Errorf("%s: backend saw %q, want the external host's 172.31.0.254 as the client", url, out)
			}
		}
		// node-1 has no local endpoint: its node port does not answer.
		out, err := w.get("external", "", fmt.Sprintf("http://%s:%d/", nodeIPv4(1), np))
		if err == nil {
			t.Errorf("node-1 (no local endpoint) answered %q", out)
		}
	})
	t.Run("internal-traffic-policy-local", func(t *testing.T) {
		local := corev1.ServiceInternalTrafficPolicyLocal
		itp := w.service(t, "itp", "web", func(svc *corev1.Service) { svc.Spec.InternalTrafficPolicy = &local })
		s.createPods(t, podSpec(w.ns, "client2", "node-2", w.work, "sleep", "3600"))
		url := "http://" + itp.Spec.ClusterIP + "/"
		// node-2 has the endpoints: its pod is served by one of them.
		if out := eventuallyOK(t, "node-2 pod -> ITP=Local service", func() (string, error) { return w.get("client2", "", url) }); !strings.Contains(out, "web-") {
			t.Errorf("node-2 pod got %q", out)
		}
		// node-1 has none: its pod is refused, not sent to node-2.
		waitFor(t, 20*time.Second, func() bool {
			_, err := w.get("client", "", url)
			return err != nil
		}, func() string { return "node-1's pod still reaches the ITP=Local service" })
		if out, _ := w.get("client", "", url); !strings.Contains(out, "Couldn't connect") {
			t.Errorf("node-1 pod: %q, want a refused connection", out)
		}
	})
	t.Run("client-ip-affinity", func(t *testing.T) {
		timeout := int32(10)
		sticky := w.service(t, "sticky", "web", func(svc *corev1.Service) {
			svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			svc.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		})
		w.waitBackends(t, "sticky", 3)
		url := "http://" + sticky.Spec.ClusterIP + "/"
		first := eventuallyOK(t, "client -> sticky", func() (string, error) { return w.get("client", "", url) })
		// A request every 3 s for 25 s, as the issue prescribes: the gaps
		// are the test's input (the 10 s timer restarts with each packet),
		// not a wait for a condition.
		tick := time.NewTicker(3 * time.Second)
		defer tick.Stop()
		for end := time.Now().Add(25 * time.Second); time.Now().Before(end); <-tick.C {
			if out, err := w.get("client", "", url); err != nil || out != first {
				t.Fatalf("sticky request landed on %q (%v), first on %q", out, err, first)
			}
		}
	})
	t.Run("scale-to-zero-and-back", func(t *testing.T) {
		w.scale(t, "web", 0)
		w.waitBackends(t, "web", 0)
		start := time.Now()
		out, err := w.get("client", "", "http://"+vip+"/")
		if took := time.Since(start); err == nil || took > time.Second+500*time.Millisecond {
			t.Errorf("with no endpoints: %q, %v after %s; want refused within 1 s", out, err, took)
		}
		if !strings.Contains(out, "Couldn't connect") && !strings.Contains(out, "refused") {
			t.Errorf("with no endpoints curl said %q, want a refused connection", out)
		}
		w.scale(t, "web", 3)
		w.waitBackends(t, "web", 3)
		eventuallyOK(t, "client -> ClusterIP after scaling back", func() (string, error) { return w.get("client", "", "http://"+vip+"/") })
	})
}

// TestDualStackServices: a dual-stack ClusterIP answers over IPv6 too, TCP
// and UDP, from a pod on another node than the backends and from that
// node's host.
func TestDualStackServices(t *testing.T) {
	s := dualStack(t)
	w := newServiceWorld(t, s, "svc-ds")
	w.deployment(t, "web", "node-2", 2)
	s.createPods(t, podSpec(w.ns, "client", "node-1", w.work, "sleep", "3600"))
	policy := corev1.IPFamilyPolicyRequireDualStack
	web := w.service(t, "web", "web", func(svc *corev1.Service) { svc.Spec.IPFamilyPolicy = &policy })
	w.waitBackends(t, "web", 2)
	if len(web.Spec.ClusterIPs) != 2 {
		t.Fatalf("cluster IPs %v, want one per family", web.Spec.ClusterIPs)
	}
	for _, ip := range web.Spec.ClusterIPs {
		host := ip
		udp := "UDP:" + ip + ":53"
		if strings.Contains(ip, ":") {
			host, udp = "["+ip+"]", "UDP6:["+ip+"]:53"
		}
		if out := eventuallyOK(t, "client -> "+ip+" TCP", func() (string, error) { return w.get("client", "", "http://"+host+"/") }); !strings.Contains(out, "web-") {
			t.Errorf("%s TCP answered %q", ip, out)
		}
		if out := eventuallyOK(t, "client -> "+ip+" UDP", func() (string, error) { return w.udp("client", udp) }); !strings.HasPrefix(out, "web-") {
			t.Errorf("%s UDP answered %q", ip, out)
		}
		// The host of node-1 through its gateway router, over each family.
		if out := eventuallyOK(t, "node-1 host -> "+ip, func() (string, error) { return w.get("", "node-1", "http://"+host+"/") }); !strings.Contains(out, "web-") {
			t.Errorf("node-1 host -> %s answered %q", ip, out)
		}
	}
}
