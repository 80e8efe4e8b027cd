package node

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

func node(ann map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: ann}}
}

func TestNodeInput(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		invalid string // reason of an InvalidError
		wait    bool
		chassis string
	}{
		{name: "no subnet yet", ann: nil, wait: true},
		{name: "subnet", ann: map[string]string{kube.NodeSubnetsAnnotation: `{"default":["10.244.1.0/24"]}`}},
		{name: "subnet and chassis", ann: map[string]string{kube.NodeSubnetsAnnotation: `{"default":["10.244.1.0/24"]}`, kube.NodeChassisIDAnnotation: "abc"}, chassis: "abc"},
		{name: "bad subnet", ann: map[string]string{kube.NodeSubnetsAnnotation: `{"default":`}, invalid: "bad-node-subnets"},
		{name: "bad chassis", ann: map[string]string{kube.NodeSubnetsAnnotation: `{"default":["10.244.1.0/24"]}`, kube.NodeChassisIDAnnotation: "a b"}, invalid: "bad-chassis-id"},
	}
	for _, tt := range tests {
		in, err := nodeInput(node(tt.ann))
		var inv *reconcile.InvalidError
		switch {
		case tt.invalid != "":
			if !errors.As(err, &inv) || inv.Reason != tt.invalid {
				t.Errorf("%s: err = %v, want invalid %s", tt.name, err, tt.invalid)
			}
		case tt.wait:
			if err == nil || errors.As(err, &inv) {
				t.Errorf("%s: err = %v, want a wait", tt.name, err)
			}
		default:
			if err != nil || in.Name != "n1" || len(in.Subnets) != 1 || in.ChassisID != tt.chassis {
				t.Errorf("%s: %+v, %v", tt.name, in, err)
			}
		}
	}
}

func TestUpdateFilters(t *testing.T) {
	old := node(map[string]string{kube.NodeSubnetsAnnotation: "a"})
	heartbeat := old.DeepCopy()
	heartbeat.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if topologyChanged(old, heartbeat) || allocationChanged(old, heartbeat) {
		t.Error("a status heartbeat must not requeue the node")
	}
	chassis := old.DeepCopy()
	chassis.Annotations[kube.NodeChassisIDAnnotation] = "c"
	if !topologyChanged(old, chassis) || allocationChanged(old, chassis) {
		t.Error("a chassis id change affects the topology, not the allocation")
	}
	subnets := old.DeepCopy()
	subnets.Annotations[kube.NodeSubnetsAnnotation] = "b"
	if !topologyChanged(old, subnets) || !allocationChanged(old, subnets) {
		t.Error("a subnet change affects both")
	}
}
