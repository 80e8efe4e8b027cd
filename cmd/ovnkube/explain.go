package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/explain"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// explainFlags are the flags explain and explain trace share: the master's
// configuration (flags and --config file), the output format and a bound
// on the whole run.
type explainFlags struct {
	cfg     *config.Config
	output  string
	timeout time.Duration
}

func newExplainCommand() *cobra.Command { return explainCommand(newExplainFlags()) }

// newExplainFlags starts from the built-in defaults, with the environment
// of ovn-nbctl, ovn-sbctl and kubectl in place of theirs (envDefaults).
func newExplainFlags() *explainFlags {
	f := &explainFlags{cfg: config.Defaults()}
	envDefaults(f.cfg)
	return f
}

func explainCommand(f *explainFlags) *cobra.Command {
	var kinds []string
	for _, k := range explain.Kinds {
		kinds = append(kinds, k.Aliases[0])
	}
	cmd := &cobra.Command{
		Use:   "explain KIND [NAMESPACE/]NAME",
		Short: "Show what ovnkube programmed for an object, and what is missing",
		Long: `ovnkube explain reads the Kubernetes API, the OVN Northbound and the Southbound
(read-only, with the master's flags or --config file) and prints, for one object,
the NB rows that carry its owner tags, grouped by table. For a pod it also shows
its address (k8s.ovn.org/pod-networks), its logical switch port, the router path
out of its node switch and its SB Port_Binding with the chassis that bound it; for
a node its subnets, switch, router and management ports, gateway router and SB
chassis. Then, one line each, what is not programmed yet and why.

KIND is one of: ` + strings.Join(kinds, ", ") + `.
NAME is NAMESPACE/NAME for namespaced kinds (a bare name means the default
namespace).

OVN_NB_DB, OVN_SB_DB and KUBECONFIG, as ovn-nbctl, ovn-sbctl and kubectl read them,
replace the built-in defaults of --nb-address, --sb-address and --kubeconfig; the
--config file and flags override them.`,
		Example: `  ovnkube explain pod default/web-0
  ovnkube explain node node-1 -o json
  ovnkube explain trace default/web-0 default/db-0:5432/tcp`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			owner, err := explain.ParseOwner(args[0], name)
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, s *explain.Sources) error {
				rep, err := s.Explain(ctx, owner)
				if err != nil {
					return err
				}
				return write(cmd.OutOrStdout(), f.output, rep, explain.WriteText)
			})
		},
	}
	config.AddFlags(cmd.PersistentFlags(), f.cfg)
	cmd.PersistentFlags().StringVarP(&f.output, "output", "o", "text", "Output format: text or json (a stable structure for scripts).")
	cmd.PersistentFlags().DurationVar(&f.timeout, "timeout", 30*time.Second, "Bound on the whole run: connecting, reading and ovn-trace.")
	cmd.AddCommand(newExplainTraceCommand(f))
	return cmd
}

func newExplainTraceCommand(f *explainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "trace [NAMESPACE/]POD DEST[:PORT/PROTO]",
		Short: "Trace a pod's first packet to a pod or an address with ovn-trace",
		Long: `ovnkube explain trace builds the packet the pod would send (from its port, MAC
and address to its gateway's MAC, or to the destination pod's MAC on the same
subnet; TTL 64; the first packet of a connection for every conntrack pass), runs
ovn-trace against the SB on it and prints the pipelines it crossed and where it
ended: output to a port, named by the pod that owns it, or a drop with the stage
and logical flow that dropped it.

DEST is NAMESPACE/POD or an IP address; PORT/PROTO is e.g. 80/tcp, 53/udp or
9999/sctp. Without it the packet is an ICMP echo request. ovn-trace (Debian
package ovn-common) must be in PATH.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := explain.ParseOwner(topology.OwnerTypePod, args[0])
			if err != nil {
				return err
			}
			dest, err := explain.ParseDest(args[1])
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, s *explain.Sources) error {
				rep, err := s.Trace(ctx, src.Name, dest)
				if err != nil {
					return err
				}
				return write(cmd.OutOrStdout(), f.output, rep, explain.WriteTraceText)
			})
		},
	}
}

// run completes the configuration, connects and calls do, within the
// timeout and until a signal.
func (f *explainFlags) run(cmd *cobra.Command, do func(context.Context, *explain.Sources) error) error {
	if err := f.complete(cmd); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	s, err := explain.Connect(ctx, f.cfg, f.timeout)
	if err != nil {
		return err
	}
	defer s.Close()
	return do(ctx, s)
}

// complete checks the output format and layers the --config file and the
// flags over the defaults, as the master does.
func (f *explainFlags) complete(cmd *cobra.Command) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: want text or json", f.output)
	}
	return config.Complete(cmd.Flags(), f.cfg)
}

// envDefaults lets explain run where ovn-nbctl, ovn-sbctl and kubectl run:
// their environment variables replace the built-in defaults, and the
// --config file and flags still override them. A KUBECONFIG list (a:b) is
// left to --kubeconfig.
func envDefaults(c *config.Config) {
	if v := os.Getenv("OVN_NB_DB"); v != "" {
		c.NBAddress = v
	}
	if v := os.Getenv("OVN_SB_DB"); v != "" {
		c.SBAddress = v
	}
	if v := os.Getenv("KUBECONFIG"); v != "" && !strings.ContainsRune(v, os.PathListSeparator) {
		c.Kubeconfig = v
	}
}

func write[T any](w io.Writer, format string, v T, text func(io.Writer, T) error) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // microflows are full of &&
		return enc.Encode(v)
	}
	return text(w, v)
}
