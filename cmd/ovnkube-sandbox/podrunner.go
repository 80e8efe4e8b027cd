package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	cni100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/test/harness"
)

// The pod runner plays the kubelet's networking role on one sandbox node,
// and nothing more: it keeps the Node Ready, gives every non-hostNetwork
// pod bound to the node a network namespace wired by the real CNI plugin,
// runs the first container's command in it (no images, no volumes, no
// probes, no restarts), reports pod status, and finishes pod deletion.
//
// It is level-driven: one workqueue keyed by "namespace/name", one sync
// function that compares the pod with what exists on the node (namespace,
// CNI attachment, process; remembered in <state-dir>/<uid>/state.json) and
// does the difference. Start, retries, restarts and deletes are that one
// path. Pod processes run in their own session and outlive the runner, so a
// restarted runner adopts them.

type podRunnerOptions struct {
	node        string
	kubeconfig  string
	cniBinDir   string
	cniConfDir  string
	cniCacheDir string
	stateDir    string
	netnsPrefix string
	workers     int
}

func newPodRunnerCommand() *cobra.Command {
	o := &podRunnerOptions{}
	cmd := &cobra.Command{
		Use:    "pod-runner",
		Short:  "Run pods of one sandbox node (the kubelet's networking role); started by up inside the node's namespace",
		Args:   cobra.NoArgs,
		Hidden: false,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runPodRunner(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.node, "node", "", "Node name")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig")
	f.StringVar(&o.cniBinDir, "cni-bin-dir", "", "directory of CNI plugin binaries")
	f.StringVar(&o.cniConfDir, "cni-conf-dir", "", "directory of the CNI conflist (written by ovnkube node)")
	f.StringVar(&o.cniCacheDir, "cni-cache-dir", "", "libcni result cache")
	f.StringVar(&o.stateDir, "state-dir", "", "per-pod state and logs: <state-dir>/<pod uid>/")
	f.StringVar(&o.netnsPrefix, "netns-prefix", "", "pod network namespaces are named <prefix><pod uid>")
	f.IntVar(&o.workers, "workers", 4, "pods synced in parallel")
	for _, n := range []string{"node", "kubeconfig", "cni-bin-dir", "cni-conf-dir", "cni-cache-dir", "state-dir", "netns-prefix"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// podState is what the runner made for one pod, persisted across restarts.
type podState struct {
	UID       types.UID `json:"uid"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	NetNS     string    `json:"netns"`
	// Attached is set once CNI ADD succeeded; IPs are its result.
	Attached bool     `json:"attached"`
	IPs      []string `json:"ips,omitempty"`
	// The first container's process, if it has a command.
	Pid        int       `json:"pid,omitempty"`
	StartTicks uint64    `json:"startTicks,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	// Finished is set when the process exited; ExitCode is its status.
	Finished   bool      `json:"finished,omitempty"`
	ExitCode   int       `json:"exitCode,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
	// NetworkDown is set once a finished pod's network was torn down.
	NetworkDown bool `json:"networkDown,omitempty"`

	proc *harness.Process // the running process (child or adopted)
}

func (s *podState) key() string { return s.Namespace + "/" + s.Name }

type podRunner struct {
	o       *podRunnerOptions
	cs      kubernetes.Interface
	lister  corelisters.PodLister
	queue   workqueue.TypedRateLimitingInterface[string]
	cni     *libcni.CNIConfig
	hostIPs []string

	mu   sync.Mutex
	pods map[types.UID]*podState

	readyMu   sync.Mutex
	netReady  bool
	readySent time.Time
}

func runPodRunner(ctx context.Context, o *podRunnerOptions) error {
	klog.InfoS("pod runner starting", "node", o.node, "cniConfDir", o.cniConfDir, "netnsPrefix", o.netnsPrefix)
	cs, err := adminClient(o.kubeconfig)
	if err != nil {
		return err
	}
	for _, d := range []string{o.stateDir, o.cniCacheDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	r := &podRunner{
		o:    o,
		cs:   cs,
		cni:  libcni.NewCNIConfigWithCacheDir([]string{o.cniBinDir}, o.cniCacheDir, nil),
		pods: map[types.UID]*podState{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pods"}),
	}
	defer r.queue.ShutDown()
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		node, err := cs.CoreV1().Nodes().Get(ctx, o.node, metav1.GetOptions{})
		if err != nil {
			klog.InfoS("waiting for the Node", "node", o.node, "err", err)
			return false, nil
		}
		for _, a := range node.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				r.hostIPs = append(r.hostIPs, a.Address)
			}
		}
		return true, nil
	}); err != nil {
		return fmt.Errorf("Node %s: %w", o.node, err)
	}

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
		lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", o.node).String()
	}))
	inf := factory.Core().V1().Pods()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			r.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	r.lister = inf.Lister()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return fmt.Errorf("pod informer did not sync")
	}
	if err := r.restore(); err != nil {
		return err
	}
	go r.keepNodeReady(ctx)
	for i := 0; i < o.workers; i++ {
		go func() {
			for r.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	klog.InfoS("pod runner stopping; pod processes keep running", "node", o.node)
	return nil
}

// restore reconciles what a previous runner left: it adopts the processes
// of pods that still exist, and removes the namespaces, attachments and
// processes of pods that are gone.
func (r *podRunner) restore() error {
	entries, err := os.ReadDir(r.o.stateDir)
	if err != nil {
		return err
	}
	existing := map[types.UID]*corev1.Pod{}
	pods, _ := r.lister.List(labels.Everything())
	for _, p := range pods {
		existing[p.UID] = p
	}
	for _, e := range entries {
		st, err := r.loadState(types.UID(e.Name()))
		if err != nil {
			klog.ErrorS(err, "unreadable pod state; removing its namespace", "uid", e.Name())
			_ = harness.DelNetNS(r.o.netnsPrefix + e.Name())
			_ = os.RemoveAll(filepath.Join(r.o.stateDir, e.Name()))
			continue
		}
		r.mu.Lock()
		r.pods[st.UID] = st
		r.mu.Unlock()
		if st.Pid != 0 && !st.Finished {
			p := harness.AdoptProcess(harness.ProcessRecord{Name: st.key(), Pid: st.Pid, StartTicks: st.StartTicks, Group: true})
			st.proc = p
			go r.watchProcess(st, p)
		}
		if _, ok := existing[st.UID]; ok {
			klog.InfoS("adopted pod from a previous runner", "pod", st.key(), "uid", st.UID, "netns", st.NetNS, "pid", st.Pid)
			continue
		}
		klog.InfoS("pod no longer exists: cleaning up", "pod", st.key(), "uid", st.UID)
		if err := r.teardown(st, 0); err != nil {
			klog.ErrorS(err, "cleanup of a vanished pod failed; will retry on the next start", "pod", st.key())
		}
	}
	// Namespaces without state: made by a runner that died before saving.
	names, err := harness.ListNetNS(r.o.netnsPrefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		uid := types.UID(strings.TrimPrefix(n, r.o.netnsPrefix))
		r.mu.Lock()
		_, known := r.pods[uid]
		r.mu.Unlock()
		if !known {
			klog.InfoS("removing a pod namespace nobody owns", "netns", n)
			harness.StopProcessesInNetNS([]string{n}, 5*time.Second)
			_ = harness.DelNetNS(n)
		}
	}
	for _, p := range pods {
		r.queue.Add(p.Namespace + "/" + p.Name)
	}
	return nil
}

func (r *podRunner) processNext(ctx context.Context) bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(key)
	if err := r.sync(ctx, key); err != nil {
		n := r.queue.NumRequeues(key)
		klog.ErrorS(err, "sync failed; retrying", "pod", key, "attempt", n+1)
		r.queue.AddRateLimited(key)
		return true
	}
	r.queue.Forget(key)
	return true
}

// statesFor returns the states of the pods called key (an old UID may still
// be there when a pod was replaced by one of the same name).
func (r *podRunner) statesFor(key string) []*podState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*podState
	for _, st := range r.pods {
		if st.key() == key {
			out = append(out, st)
		}
	}
	return out
}

func (r *podRunner) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := r.lister.Pods(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if pod != nil && pod.Spec.HostNetwork {
		return nil // hostNetwork pods are not ours to network
	}
	// Whatever we have for another incarnation of this name goes.
	for _, st := range r.statesFor(key) {
		if pod == nil || st.UID != pod.UID {
			klog.InfoS("pod is gone: tearing down", "pod", key, "uid", st.UID)
			if err := r.teardown(st, 0); err != nil {
				return err
			}
		}
	}
	if pod == nil {
		return nil
	}
	if pod.DeletionTimestamp != nil {
		return r.finishDeletion(ctx, pod)
	}
	r.mu.Lock()
	st := r.pods[pod.UID]
	r.mu.Unlock()
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		if st != nil && st.Finished && !st.NetworkDown {
			// Like the kubelet: a finished pod's sandbox is torn down.
			if err := r.detach(st); err != nil {
				return err
			}
			st.NetworkDown = true
			return r.saveState(st)
		}
		return nil
	}
	if st == nil {
		st = &podState{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, NetNS: r.o.netnsPrefix + string(pod.UID)}
		r.mu.Lock()
		r.pods[pod.UID] = st
		r.mu.Unlock()
		if err := r.saveState(st); err != nil {
			return err
		}
	}
	if !st.Attached {
		if err := r.attach(ctx, pod, st); err != nil {
			return err
		}
	}
	if c := firstContainer(pod); c != nil && len(c.Command)+len(c.Args) > 0 && st.Pid == 0 && !st.Finished {
		if err := r.startProcess(pod, c, st); err != nil {
			return err
		}
	}
	return r.updateStatus(ctx, pod, st)
}

func firstContainer(pod *corev1.Pod) *corev1.Container {
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	return &pod.Spec.Containers[0]
}

func (r *podRunner) runtimeConf(st *podState, netns string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: string(st.UID),
		NetNS:       netns,
		IfName:      "eth0",
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", st.Namespace},
			{"K8S_POD_NAME", st.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", string(st.UID)},
			{"K8S_POD_UID", string(st.UID)},
		},
	}
}

func (r *podRunner) confList() (*libcni.NetworkConfigList, error) {
	return libcni.LoadConfList(r.o.cniConfDir, cniNetworkName)
}

// attach creates the pod's namespace and runs CNI ADD through the conflist.
func (r *podRunner) attach(ctx context.Context, pod *corev1.Pod, st *podState) error {
	list, err := r.confList()
	if err != nil {
		return fmt.Errorf("network not ready: no CNI config %q in %s yet (written by ovnkube node): %w", cniNetworkName, r.o.cniConfDir, err)
	}
	if _, err := os.Stat(harness.NetNSPath(st.NetNS)); errors.Is(err, fs.ErrNotExist) {
		if err := harness.AddNetNS(st.NetNS); err != nil {
			return err
		}
	}
	t0 := time.Now()
	// The plugin has its own timeouts (pod annotation, ovn-installed); this
	// only guards against a hung plugin.
	actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := r.cni.AddNetworkList(actx, list, r.runtimeConf(st, harness.NetNSPath(st.NetNS)))
	if err != nil {
		return fmt.Errorf("CNI ADD: %w", err)
	}
	ips, err := resultIPs(res)
	if err != nil {
		return fmt.Errorf("CNI ADD result: %w", err)
	}
	st.Attached, st.IPs = true, ips
	klog.InfoS("pod network attached", "pod", st.key(), "uid", st.UID, "netns", st.NetNS, "ips", ips, "took", time.Since(t0).Round(time.Millisecond))
	return r.saveState(st)
}

func resultIPs(res cnitypes.Result) ([]string, error) {
	r, err := cni100.NewResultFromResult(res)
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, ip := range r.IPs {
		ips = append(ips, ip.Address.IP.String())
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no IPs in the result (%d interfaces)", len(r.Interfaces))
	}
	return ips, nil
}

// detach runs CNI DEL and removes the pod's namespace. Both are safe to
// repeat.
func (r *podRunner) detach(st *podState) error {
	netns := harness.NetNSPath(st.NetNS)
	if _, err := os.Stat(netns); err != nil {
		netns = "" // CNI DEL must succeed without a namespace too
	}
	if list, err := r.confList(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := r.cni.DelNetworkList(ctx, list, r.runtimeConf(st, netns))
		cancel()
		if err != nil {
			return fmt.Errorf("CNI DEL: %w", err)
		}
	} else {
		klog.InfoS("no CNI config: skipping CNI DEL", "pod", st.key(), "err", err)
	}
	harness.StopProcessesInNetNS([]string{st.NetNS}, 5*time.Second)
	if err := harness.DelNetNS(st.NetNS); err != nil {
		return err
	}
	klog.InfoS("pod network detached", "pod", st.key(), "uid", st.UID)
	return nil
}

// teardown stops the pod's process, detaches its network and forgets it.
func (r *podRunner) teardown(st *podState, grace time.Duration) error {
	if st.proc != nil && st.proc.Running() {
		stopWithGrace(st.proc, grace)
	}
	if !st.NetworkDown {
		if err := r.detach(st); err != nil {
			return err
		}
		st.NetworkDown = true
	}
	r.mu.Lock()
	delete(r.pods, st.UID)
	r.mu.Unlock()
	return os.RemoveAll(filepath.Join(r.o.stateDir, string(st.UID)))
}

// stopWithGrace sends SIGTERM to the process group, SIGKILL after grace
// (at least 1 s, at most 10 s).
func stopWithGrace(p *harness.Process, grace time.Duration) {
	grace = min(max(grace, time.Second), 10*time.Second)
	pgid := p.Pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.Exited():
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
	}
}

// finishDeletion does what the kubelet does for a pod being deleted, then
// removes the object (grace period 0, preconditioned on the UID).
func (r *podRunner) finishDeletion(ctx context.Context, pod *corev1.Pod) error {
	r.mu.Lock()
	st := r.pods[pod.UID]
	r.mu.Unlock()
	if st == nil {
		st = &podState{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, NetNS: r.o.netnsPrefix + string(pod.UID)}
	}
	grace := 5 * time.Second
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	if err := r.teardown(st, grace); err != nil {
		return err
	}
	zero := int64(0)
	uid := pod.UID
	err := r.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete: %w", err)
	}
	klog.InfoS("pod deleted", "pod", st.key(), "uid", pod.UID)
	return nil
}

// startProcess runs the first container's command+args in the pod's
// namespace, in a session of its own (it outlives the runner), with output
// in <state-dir>/<uid>/<container>.log. A small shell wrapper records the
// exit status, which a restarted runner cannot get from wait().
func (r *podRunner) startProcess(pod *corev1.Pod, c *corev1.Container, st *podState) error {
	dir := filepath.Join(r.o.stateDir, string(st.UID))
	argv := append(append([]string{}, c.Command...), c.Args...)
	// Without images every container is like an image with no ENTRYPOINT
	// and no CMD: args alone are the command (`kubectl run p --image=x --
	// sleep 1`), as a container runtime would run them.
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
		"HOSTNAME=" + pod.Name, "POD_NAME=" + pod.Name, "POD_NAMESPACE=" + pod.Namespace}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	exitFile := filepath.Join(dir, "exit-code")
	_ = os.Remove(exitFile)
	p := &harness.Process{Detached: true, Env: env, NetNS: harness.NetNSPath(st.NetNS), WorkDir: c.WorkingDir}
	if p.WorkDir == "" {
		p.WorkDir = dir
	}
	wrapped := append([]string{"/bin/sh", "-c", `"$@"; echo $? > "$0.tmp" && mv "$0.tmp" "$0"`, exitFile}, argv...)
	if err := p.Start(st.key(), filepath.Join(dir, c.Name+".log"), wrapped...); err != nil {
		return err
	}
	rec := p.Record()
	st.proc, st.Pid, st.StartTicks, st.StartedAt = p, rec.Pid, rec.StartTicks, time.Now()
	klog.InfoS("container started", "pod", st.key(), "container", c.Name, "pid", st.Pid, "command", strings.Join(argv, " "))
	go r.watchProcess(st, p)
	return r.saveState(st)
}

// watchProcess records the exit of the pod's process and requeues the pod.
func (r *podRunner) watchProcess(st *podState, p *harness.Process) {
	<-p.Exited()
	code := 137 // killed: no exit file
	if data, err := os.ReadFile(filepath.Join(r.o.stateDir, string(st.UID), "exit-code")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			code = n
		}
	}
	r.mu.Lock()
	if r.pods[st.UID] != st {
		r.mu.Unlock()
		return // torn down meanwhile
	}
	st.Finished, st.ExitCode, st.FinishedAt = true, code, time.Now()
	r.mu.Unlock()
	klog.InfoS("container exited", "pod", st.key(), "pid", st.Pid, "exitCode", code)
	_ = r.saveState(st)
	r.queue.Add(st.key())
}

// updateStatus writes the pod status the kubelet would write, if it
// differs from what the API server has.
func (r *podRunner) updateStatus(ctx context.Context, pod *corev1.Pod, st *podState) error {
	r.mu.Lock()
	finished, code, finishedAt := st.Finished, st.ExitCode, st.FinishedAt
	r.mu.Unlock()
	want := pod.Status.DeepCopy()
	now := metav1.Now()
	phase := corev1.PodRunning
	if finished {
		phase = corev1.PodSucceeded
		if code != 0 {
			phase = corev1.PodFailed
		}
	}
	want.Phase = phase
	ready := corev1.ConditionTrue
	if finished {
		ready = corev1.ConditionFalse
	}
	for _, c := range []struct {
		t      corev1.PodConditionType
		status corev1.ConditionStatus
	}{{corev1.PodScheduled, corev1.ConditionTrue}, {corev1.PodInitialized, corev1.ConditionTrue},
		{corev1.ContainersReady, ready}, {corev1.PodReady, ready}} {
		setPodCondition(want, c.t, c.status, now)
	}
	if len(r.hostIPs) > 0 {
		want.HostIP = r.hostIPs[0]
		want.HostIPs = nil
		for _, ip := range r.hostIPs {
			want.HostIPs = append(want.HostIPs, corev1.HostIP{IP: ip})
		}
	}
	if len(st.IPs) > 0 {
		want.PodIP = st.IPs[0]
		want.PodIPs = nil
		for _, ip := range st.IPs {
			want.PodIPs = append(want.PodIPs, corev1.PodIP{IP: ip})
		}
	}
	if want.StartTime == nil {
		want.StartTime = &now
	}
	var statuses []corev1.ContainerStatus
	for i, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "", ContainerID: "sandbox://" + string(st.UID) + "/" + c.Name}
		// Keep the recorded start time: status must not churn.
		var old *corev1.ContainerStatus
		for j := range pod.Status.ContainerStatuses {
			if pod.Status.ContainerStatuses[j].Name == c.Name {
				old = &pod.Status.ContainerStatuses[j]
			}
		}
		started := metav1.NewTime(st.StartedAt)
		if st.StartedAt.IsZero() {
			started = now
		}
		if old != nil && old.State.Running != nil {
			started = old.State.Running.StartedAt
		} else if old != nil && old.State.Terminated != nil {
			started = old.State.Terminated.StartedAt
		}
		if i == 0 && finished {
			reason := "Completed"
			if code != 0 {
				reason = "Error"
			}
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, StartedAt: started, FinishedAt: metav1.NewTime(finishedAt)}
			if old != nil && old.State.Terminated != nil {
				cs.State.Terminated.FinishedAt = old.State.Terminated.FinishedAt
			}
		} else {
			t := true
			cs.Ready, cs.Started = true, &t
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: started}
		}
		if finished {
			f := false
			cs.Ready, cs.Started = false, &f
		}
		statuses = append(statuses, cs)
	}
	want.ContainerStatuses = statuses
	if equality.Semantic.DeepEqual(want, &pod.Status) {
		return nil
	}
	// A merge patch of the whole status (lists are replaced) with the UID
	// as precondition: no conflicts with writers of other fields (the
	// master's annotation), never applied to another pod of that name.
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   want,
	})
	if err != nil {
		return err
	}
	if _, err := r.cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update status: %w", err)
	}
	if pod.Status.Phase != phase {
		klog.InfoS("pod status", "pod", st.key(), "phase", phase, "podIPs", st.IPs)
	}
	return nil
}

// setPodCondition sets a condition, keeping its transition time when the
// status does not change.
func setPodCondition(s *corev1.PodStatus, t corev1.PodConditionType, status corev1.ConditionStatus, now metav1.Time) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			if s.Conditions[i].Status != status {
				s.Conditions[i].Status = status
				s.Conditions[i].LastTransitionTime = now
			}
			return
		}
	}
	s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: now})
}

func (r *podRunner) statePath(uid types.UID) string {
	return filepath.Join(r.o.stateDir, string(uid), "state.json")
}

func (r *podRunner) saveState(st *podState) error {
	r.mu.Lock()
	data, err := json.MarshalIndent(st, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return err
	}
	path := r.statePath(st.UID)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func (r *podRunner) loadState(uid types.UID) (*podState, error) {
	data, err := os.ReadFile(r.statePath(uid))
	if err != nil {
		return nil, err
	}
	st := &podState{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	return st, nil
}

// keepNodeReady reports the Node Ready once the CNI config exists (the
// kubelet's "network plugin ready" rule) and sends a heartbeat every 10 s.
func (r *podRunner) keepNodeReady(ctx context.Context) {
	for {
		_, err := r.confList()
		ready := err == nil
		r.readyMu.Lock()
		changed := ready != r.netReady
		due := time.Since(r.readySent) > 10*time.Second
		r.readyMu.Unlock()
		if changed || due {
			if perr := r.patchNodeReady(ctx, ready, changed); perr != nil {
				klog.ErrorS(perr, "node status heartbeat failed", "node", r.o.node)
			} else {
				r.readyMu.Lock()
				r.netReady, r.readySent = ready, time.Now()
				r.readyMu.Unlock()
				if changed {
					klog.InfoS("node readiness", "node", r.o.node, "ready", ready)
					if ready {
						// Pods that waited for the network go now.
						pods, _ := r.lister.List(labels.Everything())
						for _, p := range pods {
							r.queue.Add(p.Namespace + "/" + p.Name)
						}
					}
				}
			}
		}
		interval := time.Second
		if !ready {
			interval = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (r *podRunner) patchNodeReady(ctx context.Context, ready, transition bool) error {
	status, reason, msg := "True", "KubeletReady", "sandbox pod runner is posting ready status"
	if !ready {
		status, reason, msg = "False", "KubeletNotReady", "network plugin not ready: no CNI config "+cniNetworkName+" in "+r.o.cniConfDir
	}
	now := time.Now().UTC().Format(time.RFC3339)
	cond := map[string]any{"type": "Ready", "status": status, "reason": reason, "message": msg, "lastHeartbeatTime": now}
	if transition {
		cond["lastTransitionTime"] = now
	}
	patch := map[string]any{"status": map[string]any{
		"conditions":  []any{cond},
		"capacity":    nodeCapacity(),
		"allocatable": nodeCapacity(),
	}}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = r.cs.CoreV1().Nodes().Patch(pctx, r.o.node, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	return err
}

// podNetNS finds the network namespace of the pod with this UID in a
// sandbox (used by exec, from the root namespace).
func podNetNS(c *cluster, uid types.UID) (string, error) {
	names, err := harness.ListNetNS(c.netnsPrefix())
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "-pod-"+string(uid)) {
			return n, nil
		}
	}
	return "", fmt.Errorf("no network namespace for pod UID %s (is the pod Running on a sandbox node?)", uid)
}
