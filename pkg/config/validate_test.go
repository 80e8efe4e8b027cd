package config

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// load runs the same sequence as a command: Defaults, AddFlags, parse the
// arguments, Complete. A non-empty file is written to a temporary path
// and passed with --config.
func load(t *testing.T, args []string, file string) (*Config, error) {
	t.Helper()
	c := Defaults()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs, c)
	if file != "" {
		path := filepath.Join(t.TempDir(), "ovnkube.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config=" + path}, args...)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, Complete(fs, c)
}

const (
	dualCluster = "--cluster-subnets=10.244.0.0/16/24,fd00:10:244::/48/64"
	dualService = "--service-cidrs=10.96.0.0/16,fd00:10:96::/112"
	v6Cluster   = "--cluster-subnets=fd00:10:244::/48/64"
	v6Service   = "--service-cidrs=fd00:10:96::/112"
)

func TestValidConfigs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c *Config)
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, c *Config) {
			if !c.IPv4() || c.IPv6() {
				t.Errorf("IPv4() = %v, IPv6() = %v; want an IPv4-only default cluster", c.IPv4(), c.IPv6())
			}
			if c.KubeAPIQPS != 200 || c.KubeAPIBurst != 400 {
				t.Errorf("QPS/burst = %v/%v, want 200/400", c.KubeAPIQPS, c.KubeAPIBurst)
			}
			if !c.MetricsEnabled() {
				t.Error("metrics disabled by default")
			}
			if le := c.LeaderElection; le.Enabled || le.LeaseDuration != 15*time.Second || le.Namespace != "ovn-kubernetes" {
				t.Errorf("leader election %+v, want off, 15s lease in ovn-kubernetes", le)
			}
		}},
		{name: "leader election", args: []string{"--leader-elect", "--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms"}, check: func(t *testing.T, c *Config) {
			want := LeaderElection{Enabled: true, Namespace: "ovn-kubernetes", Name: "ovnkube-master", LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond}
			if c.LeaderElection != want {
				t.Errorf("got %+v, want %+v", c.LeaderElection, want)
			}
		}},
		{name: "dual-stack", args: []string{dualCluster, dualService}, check: func(t *testing.T, c *Config) {
			if !c.IPv4() || !c.IPv6() {
				t.Fatalf("IPv4() = %v, IPv6() = %v; want dual-stack", c.IPv4(), c.IPv6())
			}
			wantPrefix(t, "JoinSubnet(true)", c.JoinSubnet, true, "fd98::/64")
			wantPrefix(t, "TransitSubnet(false)", c.TransitSubnet, false, "100.88.0.0/16")
			wantPrefix(t, "MasqueradeSubnet(true)", c.MasqueradeSubnet, true, "fd69::/125")
			wantPrefix(t, "ServiceCIDR(true)", c.ServiceCIDR, true, "fd00:10:96::/112")
			if got := c.ClusterSubnetsOf(true); len(got) != 1 || got[0].String() != "fd00:10:244::/48/64" {
				t.Errorf("ClusterSubnetsOf(true) = %v", got)
			}
		}},
		{name: "dual-stack with explicit subnets", args: []string{dualCluster, dualService,
			"--join-subnets=100.65.0.0/16,fd99::/64",
			"--transit-subnets=100.89.0.0/16,fd96::/64",
			"--masquerade-subnets=169.254.0.0/17,fd70::/112",
		}, check: func(t *testing.T, c *Config) {
			wantPrefix(t, "JoinSubnet(false)", c.JoinSubnet, false, "100.65.0.0/16")
			wantPrefix(t, "MasqueradeSubnet(true)", c.MasqueradeSubnet, true, "fd70::/112")
		}},
		{name: "several cluster subnets per family", args: []string{"--cluster-subnets=10.244.0.0/16/24,10.245.0.0/16/26"}},
		{name: "repeated list flag appends", args: []string{"--cluster-subnets=10.244.0.0/16/24", "--cluster-subnets=fd00:10:244::/48/64", dualService},
			check: func(t *testing.T, c *Config) {
				if len(c.ClusterSubnets) != 2 {
					t.Errorf("ClusterSubnets = %v, want both entries", c.ClusterSubnets)
				}
			}},
		{name: "ssl with credentials and clustered database", args: []string{
			"--nb-address=ssl:10.0.0.1:6641, ssl:10.0.0.2:6641,ssl:[fd00::3]:6641",
			"--nb-client-cert=/pki/nb.crt", "--nb-client-key=/pki/nb.key", "--nb-client-cacert=/pki/ca.crt",
			"--sb-address=tcp:ovnkube-db.ovn-kubernetes.svc:6642",
		}, check: func(t *testing.T, c *Config) {
			want := []string{"ssl:10.0.0.1:6641", "ssl:10.0.0.2:6641", "ssl:[fd00::3]:6641"}
			if got := c.NBEndpoints(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("NBEndpoints() = %q, want %q", got, want)
			}
		}},
		{name: "metrics disabled with empty string", args: []string{"--metrics-address="}, check: wantMetrics(false)},
		{name: "metrics disabled with 0", args: []string{"--metrics-address=0"}, check: wantMetrics(false)},
		{name: "metrics on all addresses", args: []string{"--metrics-address=:9409"}, check: wantMetrics(true)},
		{name: "metrics on IPv6", args: []string{"--metrics-address=[::1]:9409"}, check: wantMetrics(true)},
		{name: "zero QPS means client-go default", args: []string{"--kube-api-qps=0", "--kube-api-burst=0"}},
		{name: "node name", args: []string{"--node-name=worker-1.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, "")
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestInvalidConfigs checks that each bad setting is rejected with a
// message naming the flag and quoting the offending value.
func TestInvalidConfigs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error
	}{
		// Malformed cluster subnets are rejected by the flag itself.
		{name: "prefix too long", args: []string{"--cluster-subnets=10.244.0.0/33/24"},
			want: []string{`"--cluster-subnets"`, `"10.244.0.0/33/24"`, "prefix length out of range"}},
		{name: "host bits set", args: []string{"--cluster-subnets=10.244.1.0/16/24"},
			want: []string{"--cluster-subnets", `"10.244.1.0/16/24"`, "host bits are set"}},
		{name: "missing host prefix", args: []string{"--cluster-subnets=10.244.0.0/16"},
			want: []string{"--cluster-subnets", `"10.244.0.0/16"`, "missing host prefix"}},
		{name: "host prefix not longer than prefix", args: []string{"--cluster-subnets=10.244.0.0/16/16"},
			want: []string{"--cluster-subnets", `"10.244.0.0/16/16"`, "must be longer"}},
		{name: "IPv4 host prefix over 32", args: []string{"--cluster-subnets=10.0.0.0/8/33"},
			want: []string{"--cluster-subnets", `"10.0.0.0/8/33"`, "IPv4"}},
		{name: "IPv6 host prefix over 128", args: []string{"--cluster-subnets=fd00::/48/129"},
			want: []string{"--cluster-subnets", `"fd00::/48/129"`, "IPv6"}},
		{name: "no cluster subnets", args: []string{"--cluster-subnets="},
			want: []string{"--cluster-subnets must not be empty"}},
		{name: "bad service CIDR", args: []string{"--service-cidrs=10.96.0.0/16/24"},
			want: []string{"--service-cidrs", `"10.96.0.0/16/24"`}},
		{name: "service CIDR host bits", args: []string{"--service-cidrs=10.96.0.1/16"},
			want: []string{"--service-cidrs", `"10.96.0.1/16"`, "host bits are set (did you mean 10.96.0.0/16?)"}},
		{name: "bad join subnet", args: []string{"--join-subnets=100.64.0.0"},
			want: []string{"--join-subnets", `"100.64.0.0"`, "missing prefix length"}},
		{name: "bad transit subnet", args: []string{"--transit-subnets=100.88.0.0/99"},
			want: []string{"--transit-subnets", `"100.88.0.0/99"`}},
		{name: "bad masquerade subnet", args: []string{"--masquerade-subnets=nope"},
			want: []string{"--masquerade-subnets", `"nope"`}},

		// Overlaps, within and across lists.
		{name: "cluster subnets overlap each other", args: []string{"--cluster-subnets=10.244.0.0/16/24,10.244.128.0/17/24"},
			want: []string{`--cluster-subnets "10.244.0.0/16/24" overlaps --cluster-subnets "10.244.128.0/17/24"`}},
		{name: "service overlaps cluster", args: []string{"--service-cidrs=10.128.0.0/16"},
			want: []string{`--cluster-subnets "10.128.0.0/14/23" overlaps --service-cidrs "10.128.0.0/16"`}},
		{name: "join overlaps cluster", args: []string{"--cluster-subnets=100.64.0.0/10/24"},
			want: []string{`--cluster-subnets "100.64.0.0/10/24" overlaps --join-subnets "100.64.0.0/16"`}},
		{name: "transit overlaps join", args: []string{"--transit-subnets=100.64.0.0/16"},
			want: []string{`--join-subnets "100.64.0.0/16" overlaps --transit-subnets "100.64.0.0/16"`}},
		{name: "masquerade overlaps service", args: []string{"--masquerade-subnets=172.30.0.0/29"},
			want: []string{`--service-cidrs "172.30.0.0/16" overlaps --masquerade-subnets "172.30.0.0/29"`}},
		{name: "IPv6 overlap", args: []string{dualCluster, "--service-cidrs=10.96.0.0/16,fd00:10:244:1::/112"},
			want: []string{`--cluster-subnets "fd00:10:244::/48/64" overlaps --service-cidrs "fd00:10:244:1::/112"`}},

		// Families.
		{name: "service missing IPv6", args: []string{dualCluster, "--service-cidrs=10.96.0.0/16"},
			want: []string{`--service-cidrs "10.96.0.0/16" has no IPv6 entry but --cluster-subnets "10.244.0.0/16/24,fd00:10:244::/48/64" does`}},
		{name: "service has IPv4 but v6-only cluster", args: []string{v6Cluster},
			want: []string{`--cluster-subnets "fd00:10:244::/48/64" has no IPv4 entry but --service-cidrs "172.30.0.0/16" does`}},
		{name: "explicit join subnets miss a family", args: []string{dualCluster, dualService, "--join-subnets=100.64.0.0/16"},
			want: []string{`--join-subnets "100.64.0.0/16" has no IPv6 entry but --cluster-subnets`}},
		{name: "explicit transit subnets add a family", args: []string{"--transit-subnets=100.88.0.0/16,fd97::/64"},
			want: []string{`--cluster-subnets "10.128.0.0/14/23" has no IPv6 entry but --transit-subnets "100.88.0.0/16,fd97::/64" does`}},
		{name: "explicitly empty masquerade subnets", args: []string{"--masquerade-subnets="},
			want: []string{`--masquerade-subnets "" has no IPv4 entry`}},
		{name: "two join subnets of a family", args: []string{"--join-subnets=100.64.0.0/16,100.65.0.0/16"},
			want: []string{`invalid --join-subnets "100.64.0.0/16,100.65.0.0/16": more than one IPv4 subnet`}},
		{name: "two service CIDRs of a family", args: []string{"--service-cidrs=10.96.0.0/16,10.97.0.0/16"},
			want: []string{`invalid --service-cidrs "10.96.0.0/16,10.97.0.0/16": more than one IPv4 subnet`}},
		{name: "masquerade subnet too small", args: []string{"--masquerade-subnets=169.254.169.0/30"},
			want: []string{`invalid --masquerade-subnets "169.254.169.0/30": too small`}},

		// OVN database addresses.
		{name: "unknown scheme", args: []string{"--nb-address=http://10.0.0.1:6641"},
			want: []string{`invalid --nb-address "http://10.0.0.1:6641": unsupported scheme "http"`}},
		{name: "passive scheme", args: []string{"--sb-address=ptcp:6642"},
			want: []string{`invalid --sb-address "ptcp:6642": unsupported scheme "ptcp"`}},
		{name: "no scheme", args: []string{"--nb-address=/var/run/ovn/ovnnb_db.sock"},
			want: []string{`invalid --nb-address "/var/run/ovn/ovnnb_db.sock": missing scheme`}},
		{name: "missing port", args: []string{"--sb-address=tcp:10.0.0.1"},
			want: []string{`invalid --sb-address "tcp:10.0.0.1": missing port`}},
		{name: "unbracketed IPv6", args: []string{"--nb-address=tcp:fd00::1:6641"},
			want: []string{`invalid --nb-address "tcp:fd00::1:6641"`, "bracket IPv6"}},
		{name: "bad port", args: []string{"--nb-address=tcp:10.0.0.1:0"},
			want: []string{`invalid --nb-address "tcp:10.0.0.1:0": invalid port "0"`}},
		{name: "bad entry in list", args: []string{"--nb-address=ssl:10.0.0.1:6641,udp:10.0.0.2:6641"},
			want: []string{`invalid --nb-address "udp:10.0.0.2:6641"`}},
		{name: "empty entry in list", args: []string{"--nb-address=unix:/a,,unix:/b"},
			want: []string{`invalid --nb-address "": empty entry`}},
		{name: "empty address", args: []string{"--sb-address="},
			want: []string{"--sb-address must not be empty"}},
		{name: "unix without path", args: []string{"--nb-address=unix:"},
			want: []string{`invalid --nb-address "unix:": missing socket path`}},
		{name: "ssl without credentials", args: []string{"--nb-address=ssl:10.0.0.1:6641"},
			want: []string{`--nb-address "ssl:10.0.0.1:6641" uses ssl: but --nb-client-cert, --nb-client-key, --nb-client-cacert are not set`}},
		{name: "ssl without CA", args: []string{"--sb-address=unix:/x,ssl:10.0.0.1:6642", "--sb-client-cert=c", "--sb-client-key=k"},
			want: []string{`--sb-address "unix:/x,ssl:10.0.0.1:6642" uses ssl: but --sb-client-cacert is not set`}},
		{name: "NB credentials do not cover SB", args: []string{"--sb-address=ssl:10.0.0.1:6642",
			"--nb-client-cert=c", "--nb-client-key=k", "--nb-client-cacert=ca"},
			want: []string{`--sb-address "ssl:10.0.0.1:6642" uses ssl: but --sb-client-cert`}},

		// Scalars.
		{name: "negative QPS", args: []string{"--kube-api-qps=-1"},
			want: []string{`invalid --kube-api-qps "-1": must be a finite number >= 0`}},
		{name: "NaN QPS", args: []string{"--kube-api-qps=NaN"},
			want: []string{`invalid --kube-api-qps "NaN"`}},
		{name: "QPS not a number", args: []string{"--kube-api-qps=fast"},
			want: []string{`invalid argument "fast" for "--kube-api-qps" flag`}},
		{name: "negative burst", args: []string{"--kube-api-burst=-5"},
			want: []string{`invalid --kube-api-burst "-5": must be >= 0`}},
		{name: "burst not an integer", args: []string{"--kube-api-burst=1.5"},
			want: []string{`invalid argument "1.5" for "--kube-api-burst" flag`}},
		{name: "metrics address without port", args: []string{"--metrics-address=9409"},
			want: []string{`invalid --metrics-address "9409"`}},
		{name: "metrics address bad port", args: []string{"--metrics-address=127.0.0.1:http"},
			want: []string{`invalid --metrics-address "127.0.0.1:http": invalid port "http"`}},
		{name: "bad node name", args: []string{"--node-name=Worker_1"},
			want: []string{`invalid --node-name "Worker_1"`}},
		{name: "lease not longer than renew deadline", args: []string{"--leader-elect", "--leader-elect-lease-duration=10s"},
			want: []string{"invalid --leader-elect-lease-duration 10s: must exceed --leader-elect-renew-deadline (10s)"}},
		{name: "renew deadline within a jittered retry", args: []string{"--leader-elect", "--leader-elect-renew-deadline=2s"},
			want: []string{"invalid --leader-elect-renew-deadline 2s: must exceed 1.2 x --leader-elect-retry-period (2s)"}},
		{name: "bad lease duration", args: []string{"--leader-elect-lease-duration=15"},
			want: []string{`"15" is not a duration`}},
		{name: "bad lease name", args: []string{"--leader-elect", "--leader-elect-resource-name=Master_1"},
			want: []string{`invalid --leader-elect-resource-name "Master_1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, "")
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestValidateProgrammatic covers Configs filled in by code rather than
// parsed, which can hold values no parser would produce.
func TestValidateProgrammatic(t *testing.T) {
	base := func() *Config {
		c := Defaults()
		if err := Complete(nil, c); err != nil {
			t.Fatalf("defaults do not validate: %v", err)
		}
		return c
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{name: "defaults", modify: func(*Config) {}},
		{name: "unmasked cluster subnet",
			modify: func(c *Config) { c.ClusterSubnets[0].CIDR = netip.MustParsePrefix("10.129.0.0/14") },
			want:   `invalid --cluster-subnets "10.129.0.0/14/23": host bits are set (did you mean 10.128.0.0/14?)`},
		{name: "zero cluster subnet",
			modify: func(c *Config) { c.ClusterSubnets = []ClusterSubnet{{}} },
			want:   `invalid --cluster-subnets "invalid Prefix/0": not a valid CIDR`},
		{name: "host prefix not set",
			modify: func(c *Config) { c.ClusterSubnets[0].HostPrefix = 0 },
			want:   `invalid --cluster-subnets "10.128.0.0/14/0": host prefix /0 must be longer`},
		{name: "zero join subnet",
			modify: func(c *Config) { c.JoinSubnets = []netip.Prefix{{}} },
			want:   `invalid --join-subnets "invalid Prefix": not a valid CIDR`},
		{name: "negative burst",
			modify: func(c *Config) { c.KubeAPIBurst = -1 },
			want:   `invalid --kube-api-burst "-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.modify(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestValidateDeterministic guards the "first error only" contract: with
// several problems, the same one is reported every time.
func TestValidateDeterministic(t *testing.T) {
	args := []string{
		"--cluster-subnets=10.244.0.0/16/24,10.244.0.0/17/24,10.96.0.0/12/24",
		"--service-cidrs=10.96.0.0/16",
		"--transit-subnets=100.64.0.0/16",
	}
	_, first := load(t, args, "")
	if first == nil {
		t.Fatal("no error")
	}
	for range 20 {
		if _, err := load(t, args, ""); err == nil || err.Error() != first.Error() {
			t.Fatalf("error changed from %q to %v", first, err)
		}
	}
}

func wantPrefix(t *testing.T, what string, get func(bool) (netip.Prefix, bool), ipv6 bool, want string) {
	t.Helper()
	if p, ok := get(ipv6); !ok || p.String() != want {
		t.Errorf("%s = %v, %v; want %s", what, p, ok, want)
	}
}

func wantMetrics(enabled bool) func(*testing.T, *Config) {
	return func(t *testing.T, c *Config) {
		if c.MetricsEnabled() != enabled {
			t.Errorf("MetricsEnabled() = %v, want %v", c.MetricsEnabled(), enabled)
		}
	}
}
