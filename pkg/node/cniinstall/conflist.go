// Package cniinstall puts the ovn-k8s-cni-overlay plugin where the
// container runtime looks for it: the binary into the CNI bin directory and
// 10-ovn-kubernetes.conflist into the CNI config directory.
package cniinstall

import "encoding/json"

// Names the runtime sees.
const (
	PluginType   = "ovn-k8s-cni-overlay"
	NetworkName  = "ovn-kubernetes"
	ConfListName = "10-ovn-kubernetes.conflist"
	cniVersion   = "1.0.0"
)

type plugin struct {
	Type         string `json:"type"`
	ServerSocket string `json:"serverSocket"`
}

type confList struct {
	CNIVersion string   `json:"cniVersion"`
	Name       string   `json:"name"`
	Plugins    []plugin `json:"plugins"`
}

// ConfList renders the conflist. serverSocket is how the plugin finds the
// CNI server of its own node; it matters when several nodes share one
// file system (the sandbox), where a fixed default path would be shared.
func ConfList(serverSocket string) []byte {
	b, _ := json.MarshalIndent(confList{
		CNIVersion: cniVersion,
		Name:       NetworkName,
		Plugins:    []plugin{{Type: PluginType, ServerSocket: serverSocket}},
	}, "", "  ")
	return append(b, '\n')
}
