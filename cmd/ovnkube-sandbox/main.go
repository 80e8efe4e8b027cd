// Command ovnkube-sandbox runs a whole ovnkube cluster on one machine as
// local processes, with no containers: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, OVN NB/SB + northd and
// `ovnkube master`. See docs/sandbox.md.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "ovnkube-sandbox",
		Short:         "Run an ovnkube cluster on this machine as local processes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newUpCommand(), newDownCommand(), newExecCommand(), newRestartCommand(), newPodRunnerCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ovnkube-sandbox:", err)
		os.Exit(1)
	}
}
