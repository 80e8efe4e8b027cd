package config

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestFlagsBindFields sets every flag and checks it lands in its own
// field, so a copy-paste slip in the options table cannot go unnoticed.
func TestFlagsBindFields(t *testing.T) {
	tests := []struct {
		flag, value string
		get         func(c *Config) string
		want        string // defaults to value
	}{
		{flagConfig, "/etc/ovnkube/config.yaml", func(c *Config) string { return c.ConfigFile }, ""},
		{flagKubeconfig, "/root/.kube/config", func(c *Config) string { return c.Kubeconfig }, ""},
		{flagKubeAPIQPS, "12.5", func(c *Config) string { return fmt.Sprint(c.KubeAPIQPS) }, ""},
		{flagKubeAPIBurst, "25", func(c *Config) string { return fmt.Sprint(c.KubeAPIBurst) }, ""},
		{flagNBAddress, "tcp:10.0.0.1:6641", func(c *Config) string { return c.NBAddress }, ""},
		{flagSBAddress, "tcp:10.0.0.1:6642", func(c *Config) string { return c.SBAddress }, ""},
		{flagNBClientCert, "nb.crt", func(c *Config) string { return c.NBTLS.CertFile }, ""},
		{flagNBClientKey, "nb.key", func(c *Config) string { return c.NBTLS.KeyFile }, ""},
		{flagNBClientCACert, "nb-ca.crt", func(c *Config) string { return c.NBTLS.CAFile }, ""},
		{flagSBClientCert, "sb.crt", func(c *Config) string { return c.SBTLS.CertFile }, ""},
		{flagSBClientKey, "sb.key", func(c *Config) string { return c.SBTLS.KeyFile }, ""},
		{flagSBClientCACert, "sb-ca.crt", func(c *Config) string { return c.SBTLS.CAFile }, ""},
		{flagNBCertCommonName, "ovnnb", func(c *Config) string { return c.NBTLS.ServerName }, ""},
		{flagSBCertCommonName, "ovnsb", func(c *Config) string { return c.SBTLS.ServerName }, ""},
		{flagClusterSubnets, "10.244.0.0/16/24, fd00::/48/64", func(c *Config) string { return fmt.Sprint(c.ClusterSubnets) }, "[10.244.0.0/16/24 fd00::/48/64]"},
		{flagServiceCIDRs, "10.96.0.0/16", func(c *Config) string { return fmt.Sprint(c.ServiceCIDRs) }, "[10.96.0.0/16]"},
		{flagJoinSubnets, "100.65.0.0/16", func(c *Config) string { return fmt.Sprint(c.JoinSubnets) }, "[100.65.0.0/16]"},
		{flagTransitSubnets, "100.89.0.0/16", func(c *Config) string { return fmt.Sprint(c.TransitSubnets) }, "[100.89.0.0/16]"},
		{flagMasqueradeSubnets, "169.254.0.0/17", func(c *Config) string { return fmt.Sprint(c.MasqueradeSubnets) }, "[169.254.0.0/17]"},
		{flagACLLoggingRate, "50", func(c *Config) string { return fmt.Sprint(c.ACLLoggingRateLimit) }, ""},
		{flagLBGroups, "false", func(c *Config) string { return fmt.Sprint(c.LBGroups) }, ""},
		{flagNodePortRange, "31000-31999", func(c *Config) string { return c.NodePortRange.String() }, ""},
		{flagMetricsAddress, ":9000", func(c *Config) string { return c.MetricsAddress }, ""},
		{flagNodeName, "worker-1", func(c *Config) string { return c.NodeName }, ""},
		{flagLeaderElect, "true", func(c *Config) string { return fmt.Sprint(c.LeaderElection.Enabled) }, ""},
		{flagLeaseNamespace, "kube-system", func(c *Config) string { return c.LeaderElection.Namespace }, ""},
		{flagLeaseName, "ovnkube", func(c *Config) string { return c.LeaderElection.Name }, ""},
		{flagLeaseDuration, "30s", func(c *Config) string { return c.LeaderElection.LeaseDuration.String() }, ""},
		{flagRenewDeadline, "20s", func(c *Config) string { return c.LeaderElection.RenewDeadline.String() }, ""},
		{flagRetryPeriod, "1s", func(c *Config) string { return c.LeaderElection.RetryPeriod.String() }, ""},
	}
	if len(tests) != len(options) {
		t.Fatalf("test covers %d flags, options has %d", len(tests), len(options))
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			c := Defaults()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			AddFlags(fs, c)
			if err := fs.Parse([]string{"--" + tt.flag + "=" + tt.value}); err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.value
			}
			if got := tt.get(c); got != want {
				t.Errorf("after --%s=%s field = %q, want %q", tt.flag, tt.value, got, want)
			}
			if !fs.Changed(tt.flag) {
				t.Errorf("fs.Changed(%q) = false", tt.flag)
			}
		})
	}
}

// TestHelp checks that --help shows every flag with its default, in the
// format pflag uses for its own flag types.
func TestHelp(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs, Defaults())
	help := fs.FlagUsages()
	for _, want := range []string{
		`--cluster-subnets strings`,
		`(default [10.128.0.0/14/23])`,
		`(default [172.30.0.0/16])`,
		`(default [100.64.0.0/16,fd98::/64])`,
		`(default [100.88.0.0/16,fd97::/64])`,
		`(default [169.254.169.0/29,fd69::/125])`,
		`--nb-address string`,
		`(default "unix:/var/run/ovn/ovnnb_db.sock")`,
		`(default "unix:/var/run/ovn/ovnsb_db.sock")`,
		`(default "127.0.0.1:9409")`,
		`--kube-api-qps float32`,
		`(default 200)`,
		`(default 400)`,
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help does not contain %q:\n%s", want, help)
		}
	}
	for _, o := range options {
		f := fs.Lookup(o.name)
		if f == nil {
			t.Errorf("flag --%s not registered", o.name)
			continue
		}
		if len(f.Usage) < 20 {
			t.Errorf("flag --%s has no real help text: %q", o.name, f.Usage)
		}
	}
}

// TestListFlagSemantics pins the StringSlice-like behaviour of list
// flags: the first use replaces the default, later uses append.
func TestListFlagSemantics(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "default", args: nil, want: "[100.64.0.0/16 fd98::/64]"},
		{name: "replace", args: []string{"--join-subnets=100.65.0.0/16"}, want: "[100.65.0.0/16]"},
		{name: "append", args: []string{"--join-subnets=100.65.0.0/16", "--join-subnets=fd99::/64"}, want: "[100.65.0.0/16 fd99::/64]"},
		{name: "empty", args: []string{"--join-subnets="}, want: "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			AddFlags(fs, c)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(c.JoinSubnets); got != tt.want {
				t.Errorf("JoinSubnets = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestGet(t *testing.T) {
	c := Defaults()
	c.NBAddress = "ssl:192.0.2.11:6641,ssl:192.0.2.12:6641"
	for _, tt := range []struct{ name, want, err string }{
		{name: flagNBAddress, want: "ssl:192.0.2.11:6641,ssl:192.0.2.12:6641"},
		{name: flagClusterSubnets, want: "10.128.0.0/14/23"},
		{name: flagJoinSubnets, want: "100.64.0.0/16,fd98::/64"},
		{name: flagLeaseDuration, want: "15s"},
		{name: flagLeaderElect, want: "false"},
		{name: "nb-adress", err: `unknown setting "nb-adress"`},
		{name: flagConfig, err: `unknown setting "config"`},
	} {
		got, err := Get(c, tt.name)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Get(%q) error %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Get(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}
