package pod

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

func TestNeedsNetwork(t *testing.T) {
	tests := []struct {
		name string
		pod  corev1.Pod
		want bool
	}{
		{"unscheduled", corev1.Pod{}, false},
		{"scheduled", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}}, true},
		{"running", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}, true},
		{"host network", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n", HostNetwork: true}}, false},
		{"succeeded", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, false},
		{"failed", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodFailed}}, false},
		{"terminating keeps its network", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{}}, Spec: corev1.PodSpec{NodeName: "n"}}, true},
	}
	for _, tt := range tests {
		if got := needsNetwork(&tt.pod); got != tt.want {
			t.Errorf("%s: needsNetwork = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRelevantChange(t *testing.T) {
	base := func() *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1", Annotations: map[string]string{}}, Spec: corev1.PodSpec{NodeName: "n"}}
	}
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   bool
	}{
		{"readiness flip", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}, false},
		{"running", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, false},
		{"finished", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, true},
		{"annotated", func(p *corev1.Pod) { p.Annotations[kube.PodNetworksAnnotation] = "{}" }, true},
		{"recreated", func(p *corev1.Pod) { p.UID = "u2" }, true},
		{"bound", func(p *corev1.Pod) { p.Spec.NodeName = "m" }, true},
	}
	for _, tt := range tests {
		cur := base()
		tt.mutate(cur)
		if got := relevantChange(base(), cur); got != tt.want {
			t.Errorf("%s: relevantChange = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPodAddresses(t *testing.T) {
	got := podAddresses([]netip.Prefix{netip.MustParsePrefix("10.244.1.5/24"), netip.MustParsePrefix("fd00:10:244:1::5/64")})
	if got.MAC.String() != "0a:58:0a:f4:01:05" {
		t.Errorf("mac = %s", got.MAC)
	}
	if len(got.Gateways) != 2 || got.Gateways[0].String() != "10.244.1.1" || got.Gateways[1].String() != "fd00:10:244:1::1" {
		t.Errorf("gateways = %v", got.Gateways)
	}
	v6 := podAddresses([]netip.Prefix{netip.MustParsePrefix("fd00:10:244:1::a:b0c/64")})
	if v6.MAC.String() != "0a:58:00:0a:0b:0c" {
		t.Errorf("IPv6-only mac = %s", v6.MAC)
	}
}
