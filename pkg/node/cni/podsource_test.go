package cni

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

const ann = `{"default":{"ip_addresses":["10.244.1.5/24"],"mac_address":"0a:58:0a:f4:01:05","gateway_ips":["10.244.1.1"]}}`

func pod(uid, annotation string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: k8stypes.UID("u" + uid)}, Spec: corev1.PodSpec{NodeName: "n1"}}
	if annotation != "" {
		p.Annotations = map[string]string{kube.PodNetworksAnnotation: annotation}
	}
	return p
}

func TestInformerPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := fake.NewClientset(pod("1", ""))
	p := NewInformerPods(c, "n1")
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}

	// Not annotated: waits until ctx ends.
	if _, _, err := p.WaitPodNetwork(expired(ctx), "ns", "p", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("unannotated pod: err = %v", err)
	}

	// Annotated, but another incarnation (UID) than the one CNI asks for:
	// keeps waiting, also once the informer has the annotation.
	if _, err := c.CoreV1().Pods("ns").Update(ctx, pod("1", ann), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.waitSeen(ctx, t, func(q *corev1.Pod) bool { return q.Annotations[kube.PodNetworksAnnotation] == ann })
	if _, _, err := p.WaitPodNetwork(expired(ctx), "ns", "p", "u2"); !errors.Is(err, context.Canceled) {
		t.Fatalf("returned for the old pod UID: err = %v", err)
	}

	// A waiter for the new incarnation returns once it exists.
	type res struct {
		uid string
		err error
	}
	got := make(chan res, 1)
	go func() {
		_, uid, err := p.WaitPodNetwork(ctx, "ns", "p", "u2")
		got <- res{uid, err}
	}()
	if err := c.CoreV1().Pods("ns").Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("ns").Create(ctx, pod("2", ann), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || r.uid != "u2" {
			t.Fatalf("got %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("no result for the annotated pod with the right UID")
	}

	// A malformed annotation fails at once.
	if _, err := c.CoreV1().Pods("ns").Update(ctx, pod("2", `{"default":{}}`), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.waitSeen(ctx, t, func(q *corev1.Pod) bool { return q.Annotations[kube.PodNetworksAnnotation] == `{"default":{}}` })
	_, _, err := p.WaitPodNetwork(ctx, "ns", "p", "")
	if !errors.Is(err, ErrBadAnnotation) || !strings.Contains(err.Error(), "no ip_addresses") {
		t.Fatalf("bad annotation: err = %v", err)
	}
}

// expired returns a context that has already ended: WaitPodNetwork then
// answers from what the informer has now, without waiting.
func expired(ctx context.Context) context.Context {
	c, cancel := context.WithCancel(ctx)
	cancel()
	return c
}

// waitSeen waits until the informer's pod ns/p satisfies cond, woken by the
// informer's own change notifications.
func (p *InformerPods) waitSeen(ctx context.Context, t *testing.T, cond func(*corev1.Pod) bool) {
	t.Helper()
	for {
		ch := p.waitChan()
		if q, err := p.lister.Pods("ns").Get("p"); err == nil && cond(q) {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("the informer never saw the change")
		}
	}
}
