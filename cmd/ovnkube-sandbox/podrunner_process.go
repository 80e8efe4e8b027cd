// The pod runner's processes: the first container's command run in the pod's
// namespace, and teardown and final deletion, as the kubelet would.

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

func firstContainer(pod *corev1.Pod) *corev1.Container {
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	return &pod.Spec.Containers[0]
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
func stopWithGrace(p *sandbox.Process, grace time.Duration) {
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
	p := &sandbox.Process{Detached: true, Env: env, NetNS: sandbox.NetNSPath(st.NetNS), WorkDir: c.WorkingDir}
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
func (r *podRunner) watchProcess(st *podState, p *sandbox.Process) {
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
