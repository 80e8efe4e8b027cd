package kube

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKeys(t *testing.T) {
	pods := []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p"}}, {ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "q"}}}
	if got, err := Keys(pods, nil); err != nil || !reflect.DeepEqual(got, []string{"a/p", "b/q"}) {
		t.Errorf("Keys = %v, %v", got, err)
	}
	boom := errors.New("boom")
	if got, err := Keys(pods, boom); got != nil || !errors.Is(err, boom) {
		t.Errorf("Keys with an error = %v, %v", got, err)
	}
}
