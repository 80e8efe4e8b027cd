// Command ovnkube is the OVN-Kubernetes control plane: `ovnkube master`
// programs the OVN Northbound from the Kubernetes API.
package main

import (
	"fmt"
	"os"

	"k8s.io/klog/v2"
)

func main() {
	defer klog.Flush()
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
