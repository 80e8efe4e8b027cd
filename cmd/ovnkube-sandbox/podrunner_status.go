// The pod runner's status reports: pod phase, conditions and IPs, and the
// Node's Ready condition and heartbeat.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

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
