// Package cni is the node side of pod networking: the CNI server that the
// ovn-k8s-cni-overlay plugin calls, and the plumbing it does for each pod
// (veth pair, addresses, routes, the OVS port ovn-controller binds to the
// pod's logical switch port).
package cni

import (
	"errors"
	"strings"
)

// maxIfName is IFNAMSIZ minus the terminating NUL.
const maxIfName = 15

// HostVethName derives the host end of a pod's veth from the container id.
// It must be a pure function of the id: DEL arrives with nothing else to
// find the interface by (no pod name, possibly not even a netns). Runtimes
// use 64-hex-digit ids, whose first 15 digits are unique on one node in
// practice; characters Linux forbids in names are dropped.
func HostVethName(containerID string) (string, error) {
	var b strings.Builder
	for _, r := range containerID {
		if b.Len() == maxIfName {
			break
		}
		if r > ' ' && r < 0x7f && r != '/' && r != ':' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "", errors.New("container id is empty or has no usable characters for an interface name")
	}
	return b.String(), nil
}

// IfaceID is the logical switch port a pod's OVS interface binds to,
// "<namespace>_<pod>", the name the master gives the pod's port.
func IfaceID(namespace, pod string) string { return namespace + "_" + pod }
