package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
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

	"github.com/ovnkube/ovnkube/pkg/sandbox"
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

	proc *sandbox.Process // the running process (child or adopted)
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
		return fmt.Errorf("node %s: %w", o.node, err)
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
			_ = sandbox.DelNetNS(r.o.netnsPrefix + e.Name())
			_ = os.RemoveAll(filepath.Join(r.o.stateDir, e.Name()))
			continue
		}
		r.mu.Lock()
		r.pods[st.UID] = st
		r.mu.Unlock()
		if st.Pid != 0 && !st.Finished {
			p := sandbox.AdoptProcess(sandbox.ProcessRecord{Name: st.key(), Pid: st.Pid, StartTicks: st.StartTicks, Group: true})
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
	names, err := sandbox.ListNetNS(r.o.netnsPrefix)
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
			sandbox.StopProcessesInNetNS([]string{n}, 5*time.Second)
			_ = sandbox.DelNetNS(n)
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
