package kube

import "encoding/json"

// AnnotationsPatch is the JSON merge patch that sets annotations (and leaves
// every other annotation alone): how every writer of a k8s.ovn.org/*
// annotation updates an object without a read-modify-write race.
func AnnotationsPatch(annotations map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	return b
}
