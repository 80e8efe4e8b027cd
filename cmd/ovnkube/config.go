package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ovnkube/ovnkube/pkg/config"
)

// newConfigCommand reads settings the way the other commands do (defaults,
// --config file, flags), so scripts such as the ovnkube-db image's
// entrypoint read the one configuration file rather than a copy of it.
func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read the configuration (defaults, --config file, flags)",
	}
	cfg := config.Defaults()
	get := &cobra.Command{
		Use:   "get SETTING",
		Short: "Print one setting, e.g. nb-address, as it is written on the command line (lists joined by commas)",
		Example: `  ovnkube config get nb-address --config /etc/ovnkube/config/ovnkube.yaml
  ssl:192.0.2.11:6641,ssl:192.0.2.12:6641,ssl:192.0.2.13:6641`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := config.Complete(cmd.Flags(), cfg); err != nil {
				return err
			}
			v, err := config.Get(cfg, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	}
	config.AddFlags(get.Flags(), cfg)
	cmd.AddCommand(get)
	return cmd
}
