package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// readyz returns the master's /readyz status and body.
func (e *env) readyz() (int, string) {
	resp, err := http.Get(e.master.ReadyURL)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// nbContent lists the names of the rows of the tables the master writes,
// one sorted list per table.
func (e *env) nbContent() map[string][]string {
	out := map[string][]string{}
	for _, t := range []string{"Logical_Switch", "Logical_Switch_Port", "Logical_Router", "Logical_Router_Port",
		"Port_Group", "ACL", "Address_Set", "Load_Balancer_Group", "Meter"} {
		out[t] = e.names(t)
	}
	return out
}

// TestNBOutage: with the NB down the master stays up and /readyz turns 503
// (naming the NB) within 10 s; a pod created meanwhile gets its port once
// the NB is back and /readyz is 200 again; then the NB is replaced by an
// empty database under the running master and every row comes back, with
// no restart.
func TestNBOutage(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	for _, n := range []string{"out1", "out2", "out3"} {
		e.createNode(n, map[string]string{kube.NodeChassisIDAnnotation: "chassis-" + n})
	}
	e.createNamespace("outage")
	for i := range 20 {
		e.createPod("outage", fmt.Sprintf("p%d", i), fmt.Sprintf("out%d", i%3+1))
	}
	eventually(t, 30*time.Second, func() string {
		if n := len(e.names("Logical_Switch_Port")); n < 20+3*2 {
			return fmt.Sprintf("%d ports", n)
		}
		return ""
	})
	e.waitIdle()
	pid := e.master.Process.Pid()

	// Outage.
	e.ovn.StopNB()
	down := time.Now()
	eventually(t, 10*time.Second, func() string {
		if code, body := e.readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "NB") {
			return fmt.Sprintf("/readyz %d %q with the NB down", code, body)
		}
		return ""
	})
	t.Logf("/readyz 503 %s after the NB stopped", time.Since(down).Round(time.Millisecond))
	if v := e.metric("ovnkube_ovsdb_connected", map[string]string{"database": "OVN_Northbound"}); v != 0 {
		t.Errorf("ovnkube_ovsdb_connected = %v with the NB down", v)
	}
	e.createPod("outage", "during", "out1")
	// The master rides out the outage: it is alive and answering for 20 s
	// of reconnect attempts (the backoff itself never stops:
	// TestReconnectBackoffNeverStops).
	eventually(t, 40*time.Second, func() string {
		select {
		case <-e.master.Process.Exited():
			t.Fatalf("the master exited during the NB outage:\n%s", e.master.Process.LogTail(20))
		default:
		}
		if code, _ := e.readyz(); code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz %d during the outage", code)
		}
		if time.Since(down) < 20*time.Second {
			return "outage continues"
		}
		return ""
	})
	if err := e.ovn.StartNB(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string {
		if code, body := e.readyz(); code != http.StatusOK {
			return fmt.Sprintf("/readyz %d %q with the NB back", code, body)
		}
		if e.get("Logical_Switch_Port", "outage_during", "name") == "" {
			return "the pod created during the outage has no port"
		}
		return ""
	})
	e.waitIdle()

	// The NB replaced by an empty one: everything comes back, same process.
	before := e.nbContent()
	if err := e.ovn.ReplaceNB(); err != nil {
		t.Fatal(err)
	}
	replaced := time.Now()
	eventually(t, 30*time.Second, func() string {
		after := e.nbContent()
		for table, names := range before {
			if !slices.Equal(after[table], names) {
				return fmt.Sprintf("%s: %d rows, want %d", table, len(after[table]), len(names))
			}
		}
		return ""
	})
	t.Logf("every row back %s after the NB was replaced", time.Since(replaced).Round(time.Millisecond))
	if e.master.Process.Pid() != pid || !e.master.Process.Running() {
		t.Errorf("the master restarted")
	}
	e.waitIdle()
	if code, body := e.readyz(); code != http.StatusOK {
		t.Errorf("/readyz %d %q after the NB was replaced", code, body)
	}
}

// duplicateIPs reports an address two live pods' annotations share, or
// two pod ports of the NB carry.
func (e *env) duplicateIPs(ns string) string {
	pods, err := e.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return ""
	}
	seen := map[string]string{}
	for _, p := range pods.Items {
		addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
		if !ok || err != nil {
			continue
		}
		for _, ip := range addrs.IPs {
			if other, dup := seen[ip.Addr().String()]; dup {
				return fmt.Sprintf("pods %s and %s both hold %s", other, p.Name, ip.Addr())
			}
			seen[ip.Addr().String()] = p.Name
		}
	}
	out, err := e.ovn.NBCtl("--bare", "--columns=name,addresses", "--format=csv", "--no-headings", "find", "Logical_Switch_Port", `external_ids:pod="true"`)
	if err != nil {
		return ""
	}
	ports := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, addrs, _ := strings.Cut(l, ",")
		fields := strings.Fields(strings.Trim(addrs, `"`))
		if len(fields) < 2 {
			continue
		}
		for _, a := range fields[1:] { // after the MAC
			if other, dup := ports[a]; dup {
				return fmt.Sprintf("ports %s and %s both carry %s", other, name, a)
			}
			ports[a] = name
		}
	}
	return ""
}

// TestKill9UnderChurn: 200 pods created and deleted at 50/s while the
// master is killed with SIGKILL twice and relaunched: polled the whole
// time, no two live pods ever hold the same address and no two ports carry
// one; in the end every live pod has its port with its address and no port
// of a deleted pod is left.
func TestKill9UnderChurn(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	for _, n := range []string{"k1", "k2", "k3"} {
		e.createNode(n, map[string]string{kube.NodeChassisIDAnnotation: "chassis-" + n})
	}
	waitSwitches(t, e, "join", "k1", "k2", "k3")
	const ns = "churn9"
	e.createNamespace(ns)

	stop := make(chan struct{})
	violations := make(chan string, 1)
	polls := 0
	go func() {
		defer close(violations)
		for {
			select {
			case <-stop:
				return
			default:
			}
			polls++
			if d := e.duplicateIPs(ns); d != "" {
				violations <- d
				return
			}
		}
	}()

	const n, live = 200, 20 // each new pod past the 20th deletes the oldest
	tick := time.NewTicker(time.Second / 50)
	defer tick.Stop()
	// kill SIGKILLs the master and relaunches it (ready once its first full
	// reconcile is committed); the churn goes on meanwhile.
	restarted := make(chan error, 2)
	killNow := make(chan struct{}, 2)
	go func() { // one killer, so the second kill waits for the first relaunch
		m := e.master
		for range 2 {
			<-killNow
			if err := syscall.Kill(m.Process.Pid(), syscall.SIGKILL); err != nil {
				restarted <- err
				return
			}
			<-m.Process.Exited()
			next, err := sandbox.StartMaster(e.dir+"/master", e.opts)
			if err != nil {
				restarted <- err
				return
			}
			t.Cleanup(next.Stop)
			m = next
			restarted <- nil
		}
	}()
	zero := int64(0)
	for i := range n {
		<-tick.C
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p%03d", i)},
			Spec:       corev1.PodSpec{NodeName: fmt.Sprintf("k%d", i%3+1), Containers: []corev1.Container{{Name: "c", Image: "none"}}},
		}
		if _, err := e.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if i >= live {
			if err := e.client.CoreV1().Pods(ns).Delete(context.Background(), fmt.Sprintf("p%03d", i-live), metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 60 || i == 130 {
			killNow <- struct{}{}
		}
	}
	for range 2 {
		if err := <-restarted; err != nil {
			t.Fatalf("relaunch after SIGKILL: %v", err)
		}
	}
	// Converged: the live pods (the last 20) have their ports with their
	// annotated addresses, nothing else of the namespace is in the NB.
	eventually(t, 60*time.Second, func() string {
		pods, err := e.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		want := map[string]bool{}
		for _, p := range pods.Items {
			addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
			if !ok || err != nil {
				return p.Name + " has no address"
			}
			port := ns + "_" + p.Name
			want[port] = true
			if got := e.get("Logical_Switch_Port", port, "addresses"); !strings.Contains(got, addrs.IPs[0].Addr().String()) {
				return fmt.Sprintf("%s: port addresses %s, want %s", p.Name, got, addrs.IPs[0].Addr())
			}
		}
		if len(want) != live {
			return fmt.Sprintf("%d live pods, want %d", len(want), live)
		}
		for _, port := range e.podPorts() {
			if !want[port] {
				return "port of a deleted pod left: " + port
			}
		}
		return ""
	})
	close(stop)
	if v, ok := <-violations; ok {
		t.Fatalf("during the churn: %s", v)
	}
	t.Logf("%d polls of the annotations and the NB, no address held twice", polls)
}

// TestNodeReRegistration: a node deleted while its pods keep running, then
// registered again, gets its subnet back; the running pods keep their
// addresses and get their ports back; a node created meanwhile is not
// given that subnet, and a new pod on the returned node gets no live
// pod's address.
func TestNodeReRegistration(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	e.createNode("rr1", map[string]string{kube.NodeChassisIDAnnotation: "chassis-rr1"})
	e.createNode("rr2", map[string]string{kube.NodeChassisIDAnnotation: "chassis-rr2"})
	waitSwitches(t, e, "join", "rr1", "rr2")
	const ns = "rereg"
	e.createNamespace(ns)
	ips := map[string]string{}
	for i := range 4 {
		name := fmt.Sprintf("p%d", i)
		e.createPod(ns, name, "rr1")
		ips[name] = e.podIP(ns, name)
		// Running, as a kubelet would report it.
		p := e.pod(ns, name)
		p.Status.Phase = corev1.PodRunning
		if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	subnet := e.node("rr1").Annotations[kube.NodeSubnetsAnnotation]

	if err := e.client.CoreV1().Nodes().Delete(context.Background(), "rr1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSwitches(t, e, "join", "rr2")
	e.createNode("rr3", map[string]string{kube.NodeChassisIDAnnotation: "chassis-rr3"})
	waitSwitches(t, e, "join", "rr2", "rr3")
	if got := e.node("rr3").Annotations[kube.NodeSubnetsAnnotation]; got == subnet {
		t.Fatalf("a new node got the subnet %s of the deleted node whose pods still run", got)
	}

	// rr1 registers again (as its kubelet would: a new Node object).
	e.createNode("rr1", map[string]string{kube.NodeChassisIDAnnotation: "chassis-rr1"})
	waitSwitches(t, e, "join", "rr1", "rr2", "rr3")
	eventually(t, 20*time.Second, func() string {
		if got := e.node("rr1").Annotations[kube.NodeSubnetsAnnotation]; got != subnet {
			return fmt.Sprintf("rr1 subnet %s, want its own %s back", got, subnet)
		}
		for name, ip := range ips {
			if got := e.podIP(ns, name); got != ip {
				t.Fatalf("running pod %s re-addressed: %s -> %s", name, ip, got)
			}
			if got := e.get("Logical_Switch_Port", ns+"_"+name, "addresses"); !strings.Contains(got, ip) {
				return fmt.Sprintf("%s port addresses %q, want %s", name, got, ip)
			}
		}
		return ""
	})
	e.createPod(ns, "fresh", "rr1")
	fresh := e.podIP(ns, "fresh")
	for name, ip := range ips {
		if ip == fresh {
			t.Errorf("the new pod got %s, the address of running pod %s", fresh, name)
		}
	}
	if d := e.duplicateIPs(ns); d != "" {
		t.Error(d)
	}
}
