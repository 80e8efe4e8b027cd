package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// Short Lease timings so a failover fits a test; the production defaults
// (15s/10s/2s) only scale them.
const (
	testLeaseDuration = 4 * time.Second
	testRetryPeriod   = 500 * time.Millisecond
)

func leaderArgs(lease string) []string {
	return []string{"--leader-elect", "--leader-elect-resource-namespace=default", "--leader-elect-resource-name=" + lease,
		"--leader-elect-lease-duration=" + testLeaseDuration.String(), "--leader-elect-renew-deadline=3s",
		"--leader-elect-retry-period=" + testRetryPeriod.String()}
}

// masterMetric scrapes one master (0 when the series is absent).
func masterMetric(t *testing.T, m *sandbox.Master, name string, labels map[string]string) float64 {
	t.Helper()
	s, err := sandbox.Scrape(m.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	return s.Value(name, labels)
}

// waitLeads waits until master m holds the Lease (ovnkube_leader 1).
func waitLeads(t *testing.T, m *sandbox.Master, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() string {
		if masterMetric(t, m, "ovnkube_leader", nil) != 1 {
			return m.Dir + ": ovnkube_leader is not 1"
		}
		return ""
	})
}

func readyz(t *testing.T, m *sandbox.Master) string {
	t.Helper()
	resp, err := http.Get(m.ReadyURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}

// TestLeaderFailoverUnderPodCreation: two masters with --leader-elect
// against one API server and NB. Only the Lease holder writes (the other
// commits no NB transaction and says who leads on /readyz). The leader is
// SIGKILLed while 100 pods are being created: the standby takes over within
// the lease duration (plus the retry period in which it notices), every pod
// gets its port, no address is ever held twice (annotations and NB polled
// the whole time), and the rows the failover had no reason to touch keep
// their _version.
func TestLeaderFailoverUnderPodCreation(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16", leaderArgs("failover-test")...)
	first := e.master
	waitLeads(t, first, 20*time.Second)
	second, err := sandbox.StartMaster(e.dir+"/master2", e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	lease, err := e.client.CoordinationV1().Leases("default").Get(context.Background(), "failover-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	firstID := *lease.Spec.HolderIdentity
	eventually(t, 10*time.Second, func() string {
		if got := readyz(t, second); got != "200 ok: standby, leader is "+firstID {
			return "second master /readyz: " + got
		}
		return ""
	})
	if got := readyz(t, first); got != "200 ok: leader" {
		t.Fatalf("leader /readyz: %s", got)
	}

	for _, n := range []string{"f1", "f2", "f3"} {
		e.createNode(n, map[string]string{kube.NodeChassisIDAnnotation: "chassis-" + n})
	}
	waitSwitches(t, e, "f1", "f2", "f3", "join")
	e.waitIdle()
	committed := map[string]string{"result": "committed"}
	if n := masterMetric(t, second, "ovnkube_nb_transactions_total", committed); n != 0 || masterMetric(t, second, "ovnkube_leader", nil) != 0 {
		t.Fatalf("the standby committed %v NB transactions / leads", n)
	}
	if masterMetric(t, first, "ovnkube_nb_transactions_total", committed) == 0 {
		t.Fatal("the leader committed no NB transaction")
	}

	const ns, pods = "failover", 100
	e.createNamespace(ns)
	stop := make(chan struct{})
	violations := make(chan string, 1)
	go func() {
		defer close(violations)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if d := e.duplicateIPs(ns); d != "" {
				violations <- d
				return
			}
		}
	}()
	var killedAt time.Time
	var atKill map[string]string
	untouched := []string{"Logical_Router", "Logical_Router_Port", "Logical_Switch_Port", "Gateway_Chassis"}
	tick := time.NewTicker(time.Second / 25)
	defer tick.Stop()
	for i := range pods {
		<-tick.C
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p%03d", i)},
			Spec:       corev1.PodSpec{NodeName: fmt.Sprintf("f%d", i%3+1), Containers: []corev1.Container{{Name: "c", Image: "none"}}},
		}
		if _, err := e.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if i == 40 {
			if err := syscall.Kill(first.Process.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-first.Process.Exited()
			killedAt = time.Now()
			// Nobody writes now: the dead leader's Lease has not expired.
			atKill = e.rowVersions(untouched...)
		}
	}
	waitLeads(t, second, 2*testLeaseDuration)
	// When the standby took the Lease, as it wrote it (not when this
	// test's poll noticed).
	lease, err = e.client.CoordinationV1().Leases("default").Get(context.Background(), "failover-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity == firstID || lease.Spec.AcquireTime == nil {
		t.Fatalf("Lease held by %s (acquired %v) after the takeover", *lease.Spec.HolderIdentity, lease.Spec.AcquireTime)
	}
	takeover := lease.Spec.AcquireTime.Sub(killedAt)
	// client-go's standby counts the lease duration from when it last saw
	// the Lease change, and looks every retry period stretched by up to
	// 2.2x (JitterFactor 1.2): it may see the dead leader's last renewal
	// one look late, and the expiry one look late.
	if bound := testLeaseDuration + 2*testRetryPeriod*22/10; takeover > bound {
		t.Errorf("takeover %s after the SIGKILL, want within %s", takeover, bound)
	}
	t.Logf("the standby leads %s after the SIGKILL (lease duration %s)", takeover.Round(time.Millisecond), testLeaseDuration)

	e.master = second // e.get, e.waitIdle and friends now read the new leader
	eventually(t, 60*time.Second, func() string {
		list, err := e.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		if len(list.Items) != pods {
			return fmt.Sprintf("%d pods", len(list.Items))
		}
		for _, p := range list.Items {
			addrs, ok, err := kube.ParsePodNetworks(p.Annotations)
			if !ok || err != nil {
				return p.Name + " has no address"
			}
			if got := e.get("Logical_Switch_Port", ns+"_"+p.Name, "addresses"); !strings.Contains(got, addrs.IPs[0].Addr().String()) {
				return fmt.Sprintf("%s: port addresses %q, want %s", p.Name, got, addrs.IPs[0].Addr())
			}
		}
		return ""
	})
	e.waitIdle()
	close(stop)
	if v, ok := <-violations; ok {
		t.Fatalf("during the failover: %s", v)
	}
	after := e.rowVersions(untouched...)
	for row, v := range atKill {
		if after[row] != v {
			t.Errorf("%s: _version %s at the kill, %s after the takeover", row, v, after[row])
		}
	}
	t.Logf("%d rows written before the kill kept their _version", len(atKill))
}

// TestLeaderReleasesOnStop: a leader stopped cleanly (SIGTERM, a rolling
// upgrade) gives the Lease back, so the standby takes over at once rather
// than after the lease duration.
func TestLeaderReleasesOnStop(t *testing.T) {
	args := append(leaderArgs("release-test"), "--leader-elect-lease-duration=60s", "--leader-elect-renew-deadline=50s")
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16", args...)
	waitLeads(t, e.master, 20*time.Second)
	second, err := sandbox.StartMaster(e.dir+"/master2", e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	stopped := time.Now()
	e.master.Stop() // SIGTERM, waits for the exit
	waitLeads(t, second, 10*time.Second)
	t.Logf("the standby leads %s after the leader's SIGTERM (lease duration 60s)", time.Since(stopped).Round(time.Millisecond))
	if log := e.master.Process.LogTail(20); strings.Contains(log, "Error:") {
		t.Errorf("a clean stop logged an error:\n%s", log)
	}
}

// TestLeaderExitsWhenLeaseLost: a leader that cannot renew its Lease (here
// another holder took it) stops writing by exiting within the renew
// deadline, its last line naming the Lease.
func TestLeaderExitsWhenLeaseLost(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16", leaderArgs("lost-test")...)
	waitLeads(t, e.master, 20*time.Second)
	leases := e.client.CoordinationV1().Leases("default")
	lease, err := leases.Get(context.Background(), "lost-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	thief, long := "thief", int32(3600)
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds = &thief, &long
	if _, err := leases.Update(context.Background(), lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.master.Process.Exited():
	case <-time.After(3*time.Second + 5*time.Second): // the renew deadline, and slack for a busy machine
		t.Fatal("the master still runs after losing its Lease")
	}
	if err := e.master.Process.Wait(); err == nil {
		t.Error("the master exited 0 after losing its Lease")
	}
	lines := strings.Split(strings.TrimSpace(e.master.Process.LogTail(5)), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Error: lost the leader Lease default/lost-test") {
		t.Errorf("last line %q, want the lost Lease", last)
	}
}
