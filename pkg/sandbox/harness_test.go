package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/test/harness"
)

// TestOVN starts the real NB/SB ovsdb-servers and northd.
func TestOVN(t *testing.T) {
	dir := harness.ShortTempDir(t)
	o, err := StartOVN(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Stop)
	t.Logf("OVN ready in %s", o.ReadyIn)
	if _, err := o.NBCtl("show"); err != nil {
		t.Fatalf("ovn-nbctl show: %v", err)
	}
	uuid, err := o.NBCtl("--bare", "--columns=_uuid", "list", "NB_Global")
	if err != nil || uuid == "" {
		t.Fatalf("NB_Global: %q, %v", uuid, err)
	}
	if uuid, err := o.SBCtl("--bare", "--columns=_uuid", "list", "SB_Global"); err != nil || uuid == "" {
		t.Fatalf("SB_Global: %q, %v", uuid, err)
	}
	// northd translates NB into SB: a switch shows up as a datapath.
	if _, err := o.NBCtl("--wait=sb", "ls-add", "sw0"); err != nil {
		t.Fatal(err)
	}
	if out, err := o.SBCtl("--bare", "--columns=external_ids", "list", "Datapath_Binding"); err != nil || !strings.Contains(out, "sw0") {
		t.Fatalf("datapath for sw0: %q, %v", out, err)
	}
	procs := o.Processes()
	o.Stop()
	o.Stop() // idempotent
	for _, p := range procs {
		if p.Running() || syscall.Kill(p.Pid(), 0) == nil {
			t.Errorf("%s (pid %d) still running after Stop", p.Name(), p.Pid())
		}
	}
}

// TestKube starts etcd and kube-apiserver and round-trips a Namespace.
func TestKube(t *testing.T) {
	dir := harness.ShortTempDir(t)
	k, err := StartKube(dir, KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	t.Logf("etcd ready in %s, kube-apiserver ready in %s", k.EtcdReadyIn, k.APIServerReadyIn)
	cs, err := k.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "harness-test", Labels: map[string]string{"a": "b"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	got, err := cs.CoreV1().Namespaces().Get(ctx, "harness-test", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get namespace: %v", err)
	}
	if got.Labels["a"] != "b" {
		t.Errorf("namespace labels = %v", got.Labels)
	}
	if _, err := os.Stat(k.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
}

// TestMissingBinaryNamesMakeTarget checks the message that tells a user how
// to get a missing binary.
func TestMissingBinaryNamesMakeTarget(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(BinDirEnv, empty)
	_, err := StartKube(harness.ShortTempDir(t), KubeOptions{})
	want := `kube-apiserver not found in ` + empty + `: run "make tools"`
	if err == nil || err.Error() != want {
		t.Errorf("StartKube error = %v, want %q", err, want)
	}
	_, err = StartMaster(harness.ShortTempDir(t), MasterOptions{})
	want = `ovnkube not found in ` + empty + `: run "make build"`
	if err == nil || err.Error() != want {
		t.Errorf("StartMaster error = %v, want %q", err, want)
	}
	t.Setenv("PATH", empty)
	_, err = StartOVN(harness.ShortTempDir(t))
	if err == nil || !strings.Contains(err.Error(), `run "make debs"`) {
		t.Errorf("StartOVN error = %v, want one naming make debs", err)
	}
}

// TestDetachedProcessAdoptAndStop covers the sandbox's detached mode: a
// process recorded in a PidFile is found again by another Process value and
// stopped, group and all; a record whose start time does not match is never
// signalled.
func TestDetachedProcessAdoptAndStop(t *testing.T) {
	dir := harness.ShortTempDir(t)
	p := &Process{Detached: true}
	// The shell ignores SIGTERM, so Stop has to escalate to SIGKILL; its
	// child sleep is in the same group and must go too.
	if err := p.Start("sleeper", filepath.Join(dir, "sleeper.log"), "/bin/sh", "-c", "trap '' TERM; sleep 300 & wait"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-p.Pid(), syscall.SIGKILL); p.Stop() })
	pf := &PidFile{Path: filepath.Join(dir, "pids")}
	if err := pf.Add(p); err != nil {
		t.Fatal(err)
	}
	forged := p.Record()
	forged.StartTicks++
	if err := pf.AddRecord(forged); err != nil {
		t.Fatal(err)
	}
	running, err := pf.Running()
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 1 || running[0].Pid() != p.Pid() {
		t.Fatalf("Running() = %d processes, want only the real one", len(running))
	}
	impostor := AdoptProcess(forged)
	impostor.Stop() // must not signal the real process
	if !p.Running() {
		t.Fatal("stopping a record with a different start time killed the process")
	}
	// sh has set its trap once it has started its sleep (its child).
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p.Pid(), p.Pid()))
		if len(strings.TrimSpace(string(kids))) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sh never started its sleep")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	running[0].Stop()
	if d := time.Since(start); d < StopTimeout {
		t.Errorf("Stop returned after %s, expected the SIGTERM grace period first", d)
	}
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("child not reaped after Stop")
	}
	if pids := liveGroupMembers(p.Pid()); len(pids) > 0 {
		t.Errorf("process group %d still has live members %v after Stop", p.Pid(), pids)
	}
	if running, _ := pf.Running(); len(running) != 0 {
		t.Errorf("Running() after Stop = %d processes", len(running))
	}
	if !strings.Contains(p.LogTail(5), "harness: starting sleeper") {
		t.Errorf("log tail = %q", p.LogTail(5))
	}
}

// liveGroupMembers lists the processes of group pgid that are not zombies
// (orphaned zombies wait for init, which reaps them only now and then).
func liveGroupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.pgrp == pgid && st.state != 'Z' && st.state != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestKubeControlPlane runs the controller-manager and the scheduler too: a
// Deployment becomes a ReplicaSet and a Pod, and the Pod is bound to the only
// Node. No kubelet exists, so the test creates the Node and its capacity.
func TestKubeControlPlane(t *testing.T) {
	dir := harness.ShortTempDir(t)
	k, err := StartKube(dir, KubeOptions{ControllerManager: true, Scheduler: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	t.Logf("etcd %s, kube-apiserver %s, kube-controller-manager %s, kube-scheduler %s",
		k.EtcdReadyIn, k.APIServerReadyIn, k.ControllerManagerReadyIn, k.SchedulerReadyIn)
	cs, err := k.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}
	node.Status.Allocatable = node.Status.Capacity
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	one := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "none"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err == nil && len(pods.Items) == 1 && pods.Items[0].Spec.NodeName == "node1" {
			break
		}
		select {
		case <-ctx.Done():
			n, _ := cs.CoreV1().Nodes().Get(context.Background(), "node1", metav1.GetOptions{})
			t.Fatalf("no pod of the deployment bound to node1 (pods: %v, err %v; node taints %v)", podSummary(pods), err, n.Spec.Taints)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func podSummary(pods *corev1.PodList) []string {
	if pods == nil {
		return nil
	}
	var out []string
	for _, p := range pods.Items {
		s := p.Name + " node=" + p.Spec.NodeName
		for _, c := range p.Status.Conditions {
			s += " " + string(c.Type) + "=" + string(c.Status) + " " + c.Message
		}
		out = append(out, s)
	}
	return out
}

// TestMaster starts `ovnkube master` against real OVN and Kubernetes and
// waits for its /readyz, as the integration tests and the sandbox do.
func TestMaster(t *testing.T) {
	dir := harness.ShortTempDir(t)
	o, err := StartOVN(filepath.Join(dir, "ovn"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Stop)
	k, err := StartKube(filepath.Join(dir, "kube"), KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	m, err := StartMaster(dir, MasterOptions{
		Kubeconfig:     k.Kubeconfig,
		NBAddress:      o.NBAddress,
		SBAddress:      o.SBAddress,
		ClusterSubnets: "10.244.0.0/16/24",
		ServiceCIDRs:   DefaultServiceCIDR,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	rss, err := m.RSSBytes()
	if err != nil || rss <= 0 {
		t.Errorf("RSSBytes = %d, %v", rss, err)
	}
	t.Logf("master ready in %s, pid %d, RSS %d MiB, metrics %s", m.ReadyIn, m.Pid(), rss>>20, m.MetricsURL)
	if !strings.HasPrefix(m.MetricsURL, "http://127.0.0.1:") || !strings.HasSuffix(m.MetricsURL, "/metrics") {
		t.Errorf("MetricsURL = %q", m.MetricsURL)
	}
	if ok, err := httpOK(&http.Client{Timeout: 5 * time.Second}, m.MetricsURL, ""); !ok {
		t.Errorf("GET %s: %v", m.MetricsURL, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ovnkube-master.log")); err != nil {
		t.Errorf("master log: %v", err)
	}
	m.Stop()
	if m.Process.Running() {
		t.Error("master still running after Stop")
	}
}
