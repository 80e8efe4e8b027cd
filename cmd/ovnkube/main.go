// Command ovnkube is the OVN-Kubernetes control plane: `ovnkube master`
// programs the OVN Northbound from the Kubernetes API.
package main

import (
	"fmt"
	"os"

	"k8s.io/klog/v2"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fail(err)
	}
	klog.Flush()
}

// fail ends the process with err as its last line.
func fail(err error) {
	klog.Flush()
	fmt.Fprintln(os.Stderr, "Error:", err)
	os.Exit(1)
}

// exitOnError ends a component that failed right away, while everything it
// started still runs: cancelling first would have its informers and
// clients log their teardown ("Failed to watch ... context canceled")
// after the error, which must be the last line and the only error line.
// A clean return (a signal) stops the context as usual.
func exitOnError(err error, stop func()) error {
	if err != nil {
		fail(err)
	}
	stop()
	return nil
}
