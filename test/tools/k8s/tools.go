//go:build tools

// Package tools pins the Kubernetes control-plane binaries that the test
// harness and the sandbox run. It is a separate module so that k8s.io/kubernetes
// never enters ovnkube's own dependency graph.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
