package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/master"
)

// version is stamped by the Makefile (-X main.version=...).
var version = "dev"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "ovnkube",
		Short:         "Kubernetes pod networking on OVN",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	klogFlags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(klogFlags)
	root.PersistentFlags().AddGoFlagSet(klogFlags)
	root.AddCommand(newMasterCommand(), newVersionCommand())
	root.AddCommand(newNodeCommand(), newConfigCommand())
	root.AddCommand(newExplainCommand())
	return root
}

func newMasterCommand() *cobra.Command {
	cfg := config.Defaults()
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Program the OVN Northbound database from Nodes and Pods (later Services and policies)",
		Long: `ovnkube master watches the Kubernetes API and keeps the OVN Northbound database
equal to what the cluster asks for: ovn_cluster_router, the join switch, and per
node a switch, router port, management port and gateway chassis, and per pod a
logical switch port. It allocates each node a subnet per IP family from
--cluster-subnets (k8s.ovn.org/node-subnets) and each pod an address from its
node's subnet (k8s.ovn.org/pod-networks).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Complete(cmd.Flags(), cfg); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			klog.InfoS("Starting ovnkube master", "version", version, "clusterSubnets", fmt.Sprint(cfg.ClusterSubnets), "nb", cfg.NBAddress)
			return exitOnError(master.Run(ctx, cfg), stop)
		},
	}
	config.AddFlags(cmd.Flags(), cfg)
	return cmd
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ovnkube %s (%s)\n", version, goVersion)
		},
	}
}
