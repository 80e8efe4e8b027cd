package cni

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// PodSource yields a pod's addresses once the master has annotated it.
// The server depends on this interface only, so tests feed addresses
// without a Kubernetes API.
type PodSource interface {
	// WaitPodNetwork blocks until pod namespace/name (with UID uid, when
	// uid is not empty) carries a k8s.ovn.org/pod-networks annotation and
	// returns it parsed, with the pod's UID; or until ctx ends.
	WaitPodNetwork(ctx context.Context, namespace, name, uid string) (kube.PodAddresses, string, error)
}

// ErrBadAnnotation wraps an annotation that is present but invalid:
// waiting longer would not help.
var ErrBadAnnotation = errors.New("invalid pod annotation")

// InformerPods is a PodSource over a pod informer restricted to one node
// (field selector spec.nodeName), so the node watches its own pods only
// and a CNI ADD never polls the API server.
type InformerPods struct {
	factory informers.SharedInformerFactory
	lister  listersv1.PodLister
	synced  cache.InformerSynced

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every pod event
}

// NewInformerPods builds the informer; call Start.
func NewInformerPods(c kubernetes.Interface, node string) *InformerPods {
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
	}))
	inf := f.Core().V1().Pods()
	p := &InformerPods{factory: f, lister: inf.Lister(), synced: inf.Informer().HasSynced, changed: make(chan struct{})}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.notify() },
		UpdateFunc: func(any, any) { p.notify() },
		DeleteFunc: func(any) { p.notify() },
	})
	return p
}

// Start runs the informer and waits for its first list.
func (p *InformerPods) Start(ctx context.Context) error {
	p.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), p.synced) {
		return fmt.Errorf("pod informer did not sync: %w", context.Cause(ctx))
	}
	return nil
}

func (p *InformerPods) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *InformerPods) waitChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// WaitPodNetwork implements PodSource.
func (p *InformerPods) WaitPodNetwork(ctx context.Context, namespace, name, uid string) (kube.PodAddresses, string, error) {
	for {
		ch := p.waitChan()
		pod, err := p.lister.Pods(namespace).Get(name)
		switch {
		case err == nil:
			if addrs, ok, err := podNetwork(pod, uid); err != nil || ok {
				return addrs, string(pod.UID), err
			}
		case !apierrors.IsNotFound(err):
			return kube.PodAddresses{}, "", fmt.Errorf("read pod %s/%s from the informer: %w", namespace, name, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return kube.PodAddresses{}, "", ctx.Err()
		}
	}
}

// podNetwork returns the pod's addresses when the pod is the wanted
// incarnation and annotated.
func podNetwork(pod *corev1.Pod, uid string) (kube.PodAddresses, bool, error) {
	if uid != "" && string(pod.UID) != uid {
		return kube.PodAddresses{}, false, nil // an older pod of the same name; wait for ours
	}
	addrs, present, err := kube.ParsePodNetworks(pod.Annotations)
	if err != nil {
		return kube.PodAddresses{}, false, fmt.Errorf("%w: %w", ErrBadAnnotation, err)
	}
	return addrs, present, nil
}
