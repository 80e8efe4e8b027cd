package master

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/metrics"
)

// runElected campaigns for the Lease and runs lead while this process holds
// it. A standby is ready (its informers are synced) and says who leads.
//
// Losing the Lease returns an error at once, without waiting for lead to
// wind down: the caller exits, as kube controllers do, so a master that
// can no longer prove it leads stops writing before a standby may start
// (the renew deadline is shorter than the lease duration). A clean stop
// (ctx ends) gives the Lease back so a standby takes over without waiting
// for it to expire: the rolling upgrade path.
func runElected(ctx context.Context, le config.LeaderElection, kc kubernetes.Interface, recorder record.EventRecorder,
	health *metrics.Health, lead func(context.Context) error) error {
	id, err := identity()
	if err != nil {
		return err
	}
	lease := le.Namespace + "/" + le.Name
	electCtx, stopElecting := context.WithCancel(ctx)
	defer stopElecting()
	var led atomic.Bool
	leadDone := make(chan error, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: le.Namespace, Name: le.Name},
			Client:     kc.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id, EventRecorder: recorder},
		},
		LeaseDuration:   le.LeaseDuration,
		RenewDeadline:   le.RenewDeadline,
		RetryPeriod:     le.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            "ovnkube-master",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leadCtx context.Context) {
				led.Store(true)
				klog.InfoS("Acquired the leader Lease: this master now writes", "lease", lease, "identity", id)
				metrics.Leader.Set(1)
				health.SetRole("leader")
				health.SetNotReady("leader: waiting for the first full reconcile")
				leadDone <- lead(leadCtx)
				// A leader that stops on its own (a start-up error) gives
				// the Lease back at once.
				stopElecting()
			},
			OnStoppedLeading: func() { metrics.Leader.Set(0) },
			OnNewLeader: func(current string) {
				// client-go calls this in a goroutine: one reporting an
				// earlier leader must not relabel this one once it leads.
				if current != id && !led.Load() {
					klog.InfoS("Standing by", "lease", lease, "leader", current, "identity", id)
					health.SetRole("standby, leader is " + current)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election on Lease %s: %w", lease, err)
	}
	metrics.Leader.Set(0)
	health.SetRole("standby")
	health.SetReady(true)
	klog.InfoS("Campaigning for the leader Lease", "lease", lease, "identity", id)
	elector.Run(electCtx)
	if electCtx.Err() == nil {
		return fmt.Errorf("lost the leader Lease %s (not renewed within --leader-elect-renew-deadline %s): stopped writing", lease, le.RenewDeadline)
	}
	if led.Load() {
		return <-leadDone
	}
	return nil
}

// identity names this replica in the Lease: the host (the pod name in a
// Deployment) and a random suffix, so a restarted process on the same
// host is a new candidate and two on one host never share a name.
func identity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("leader election identity: %w", err)
	}
	return host + "_" + string(uuid.NewUUID()), nil
}
