package kube

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
)

// UserAgent is what ovnkube's requests carry: the API server's audit log
// tells them from those of other clients of the same identity.
const UserAgent = "ovnkube"

// NewClient builds a clientset from a kubeconfig path ("" means in-cluster)
// with explicit QPS and burst: client-go's default of 5 QPS would make 500
// node annotations take 100 s.
func NewClient(kubeconfig string, qps float32, burst int) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("load --kubeconfig %q: %w", kubeconfig, err)
	}
	cfg.QPS = qps
	cfg.Burst = burst
	cfg.UserAgent = UserAgent
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build Kubernetes client: %w", err)
	}
	return c, nil
}

// NewRecorder returns an Event recorder writing as component, and a stop
// function that flushes and stops the broadcaster.
func NewRecorder(c kubernetes.Interface, component string) (record.EventRecorder, func()) {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.CoreV1().Events("")})
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}), b.Shutdown
}
