package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/node"
)

func newNodeCommand() *cobra.Command {
	cfg := config.Defaults()
	// A node agent and a master may share a host: give the node its own
	// default metrics port.
	cfg.MetricsAddress = config.DefaultNodeMetricsAddress
	ncfg := config.NodeDefaults()
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the per-node agent: OVS chassis bootstrap, management port and the CNI server",
		Long: `ovnkube node makes this host a chassis of the cluster's OVN and serves pod
networking on it. In order: it writes the chassis settings (system-id, hostname,
ovn-remote, ovn-encap-type/ip, ovn-bridge-datapath-type) into the local
Open_vSwitch database, annotates the Node with k8s.ovn.org/node-chassis-id,
waits for the master's k8s.ovn.org/node-subnets and sets up the management port
ovn-k8s-mp0, starts the CNI server on --cni-socket, installs the
ovn-k8s-cni-overlay plugin and 10-ovn-kubernetes.conflist, and turns /readyz
ready. Its only contact with OVS is --ovs-address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Complete(cmd.Flags(), cfg); err != nil {
				return err
			}
			if cfg.NodeName == "" {
				return errors.New("--node-name is required")
			}
			if err := ncfg.Validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			klog.InfoS("Starting ovnkube node", "version", version, "node", cfg.NodeName)
			return exitOnError(node.Run(ctx, cfg, ncfg), stop)
		},
	}
	config.AddFlags(cmd.Flags(), cfg)
	config.AddNodeFlags(cmd.Flags(), ncfg)
	return cmd
}
