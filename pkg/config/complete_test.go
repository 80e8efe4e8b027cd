package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigFile(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		args  []string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "file sets values, flag overrides one of them",
			file: `
cluster-subnets: ["10.244.0.0/16/24", "fd00:10:244::/48/64"]
service-cidrs: ["10.96.0.0/16", "fd00:10:96::/112"]
kube-api-qps: 50
node-name: worker-1
`,
			args: []string{"--service-cidrs=10.100.0.0/16,fd00:10:100::/112"},
			check: func(t *testing.T, c *Config) {
				wantStrings(t, "ClusterSubnets", c.ClusterSubnets, "10.244.0.0/16/24", "fd00:10:244::/48/64")
				wantStrings(t, "ServiceCIDRs", c.ServiceCIDRs, "10.100.0.0/16", "fd00:10:100::/112")
				if c.KubeAPIQPS != 50 || c.NodeName != "worker-1" {
					t.Errorf("KubeAPIQPS = %v, NodeName = %q; want the file's 50, worker-1", c.KubeAPIQPS, c.NodeName)
				}
				// Defaults of both families, since the file made the
				// cluster dual-stack.
				wantStrings(t, "JoinSubnets", c.JoinSubnets, "100.64.0.0/16", "fd98::/64")
			},
		},
		{
			name: "on/off settings and durations",
			file: "lb-groups: false\nleader-elect: true\nleader-elect-lease-duration: 30s\nleader-elect-renew-deadline: 20s\n",
			check: func(t *testing.T, c *Config) {
				if c.LBGroups || !c.LeaderElection.Enabled || c.LeaderElection.LeaseDuration != 30*time.Second || c.LeaderElection.RenewDeadline != 20*time.Second {
					t.Errorf("LBGroups %v, LeaderElection %+v; want the file's false, true, 30s, 20s", c.LBGroups, c.LeaderElection)
				}
			},
		},
		{
			name: "explicitly set flag beats file even when it equals the default",
			file: "kube-api-burst: 10\nmetrics-address: 0.0.0.0:9000\n",
			args: []string{"--kube-api-burst=400"},
			check: func(t *testing.T, c *Config) {
				if c.KubeAPIBurst != 400 {
					t.Errorf("KubeAPIBurst = %d, want the flag's 400", c.KubeAPIBurst)
				}
				if c.MetricsAddress != "0.0.0.0:9000" {
					t.Errorf("MetricsAddress = %q, want the file's value", c.MetricsAddress)
				}
			},
		},
		{
			name: "JSON",
			file: `{"cluster-subnets": "fd00:10:244::/48/64", "service-cidrs": "fd00:10:96::/112", "kube-api-burst": 800}`,
			check: func(t *testing.T, c *Config) {
				if c.IPv4() || !c.IPv6() || c.KubeAPIBurst != 800 {
					t.Errorf("IPv4=%v IPv6=%v burst=%d; want IPv6-only, 800", c.IPv4(), c.IPv6(), c.KubeAPIBurst)
				}
			},
		},
		{
			name: "address list and TLS",
			file: `
nb-address:
  - ssl:10.0.0.1:6641
  - ssl:10.0.0.2:6641
nb-client-cert: /pki/nb.crt
nb-client-key: /pki/nb.key
nb-client-cacert: /pki/ca.crt
sb-address: tcp:10.0.0.1:6642,tcp:10.0.0.2:6642
`,
			check: func(t *testing.T, c *Config) {
				if c.NBAddress != "ssl:10.0.0.1:6641,ssl:10.0.0.2:6641" {
					t.Errorf("NBAddress = %q", c.NBAddress)
				}
				if got := c.SBEndpoints(); len(got) != 2 {
					t.Errorf("SBEndpoints() = %q, want two", got)
				}
				if c.NBTLS != (TLS{CertFile: "/pki/nb.crt", KeyFile: "/pki/nb.key", CAFile: "/pki/ca.crt"}) {
					t.Errorf("NBTLS = %+v", c.NBTLS)
				}
			},
		},
		{
			name: "metrics disabled by number 0",
			file: "metrics-address: 0\n",
			check: func(t *testing.T, c *Config) {
				if c.MetricsEnabled() {
					t.Error("metrics enabled")
				}
			},
		},
		{name: "empty file", file: "# nothing\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, tt.file)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		args []string
		want []string
	}{
		{name: "unknown key", file: "cluster-subnet: 10.244.0.0/16/24\n",
			want: []string{`unknown key "cluster-subnet"`}},
		{name: "bad cluster subnet", file: "cluster-subnets: [10.244.0.0/33/24]\n",
			want: []string{"--cluster-subnets", `"10.244.0.0/33/24"`, "prefix length out of range"}},
		{name: "bad QPS", file: "kube-api-qps: lots\n",
			want: []string{"--kube-api-qps", `"lots" is not a number`}},
		{name: "negative QPS", file: "kube-api-qps: -3\n",
			want: []string{`invalid --kube-api-qps "-3"`}},
		{name: "boolean for a name", file: "node-name: true\n",
			want: []string{"--node-name", "got a boolean"}},
		{name: "bad duration", file: "leader-elect-lease-duration: 15\n",
			want: []string{"--leader-elect-lease-duration", `"15" is not a duration`}},
		{name: "list for a scalar", file: "node-name: [a, b]\n",
			want: []string{"--node-name", "got a list"}},
		{name: "non-string list entry", file: "service-cidrs: [10.96.0.0/16, 5]\n",
			want: []string{"--service-cidrs", "list entry 1 is a number"}},
		{name: "null", file: "service-cidrs:\n",
			want: []string{"--service-cidrs", "no value"}},
		{name: "nested config", file: "config: other.yaml\n",
			want: []string{`key "config" is only valid as a flag`}},
		{name: "duplicate key", file: "node-name: a\nnode-name: b\n",
			want: []string{"node-name"}},
		{name: "not a mapping", file: "- a\n- b\n",
			want: []string{"got a list, want a mapping of flag names to values"}},
		{name: "file join subnets count as set by the user", file: "join-subnets: 100.64.0.0/16,fd98::/64\n",
			want: []string{`--cluster-subnets "10.128.0.0/14/23" has no IPv6 entry but --join-subnets "100.64.0.0/16,fd98::/64" does`}},
		{name: "flag value is used instead of the file's", file: "service-cidrs: 10.96.0.0/16\n",
			args: []string{"--service-cidrs=10.128.0.0/16"},
			want: []string{`--service-cidrs "10.128.0.0/16"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, tt.file)
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

func TestMissingConfigFile(t *testing.T) {
	c := Defaults()
	c.ConfigFile = filepath.Join(t.TempDir(), "absent.yaml")
	err := Complete(nil, c)
	if err == nil || !strings.Contains(err.Error(), "--config") || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("error = %v, want one naming --config and the path", err)
	}
}

// TestDefaultFamilies checks that the dual-stack defaults of the join,
// transit and masquerade subnets are cut down to the cluster's families.
func TestDefaultFamilies(t *testing.T) {
	tests := []struct {
		name                      string
		args                      []string
		file                      string
		join, transit, masquerade []string
		wantIPv4, wantIPv6        bool
	}{
		{
			name:       "IPv4-only",
			args:       []string{"--cluster-subnets=10.244.0.0/16/24", "--service-cidrs=10.96.0.0/16"},
			join:       []string{"100.64.0.0/16"},
			transit:    []string{"100.88.0.0/16"},
			masquerade: []string{"169.254.169.0/29"},
			wantIPv4:   true,
		},
		{
			name:       "IPv6-only",
			args:       []string{v6Cluster, v6Service},
			join:       []string{"fd98::/64"},
			transit:    []string{"fd97::/64"},
			masquerade: []string{"fd69::/125"},
			wantIPv6:   true,
		},
		{
			name:       "IPv6-only from file",
			file:       "cluster-subnets: fd00:10:244::/48/64\nservice-cidrs: fd00:10:96::/112\n",
			join:       []string{"fd98::/64"},
			transit:    []string{"fd97::/64"},
			masquerade: []string{"fd69::/125"},
			wantIPv6:   true,
		},
		{
			name:       "dual-stack",
			args:       []string{dualCluster, dualService},
			join:       []string{"100.64.0.0/16", "fd98::/64"},
			transit:    []string{"100.88.0.0/16", "fd97::/64"},
			masquerade: []string{"169.254.169.0/29", "fd69::/125"},
			wantIPv4:   true,
			wantIPv6:   true,
		},
		{
			name:       "IPv6-only with one list set explicitly",
			args:       []string{v6Cluster, v6Service, "--transit-subnets=fd96::/64"},
			join:       []string{"fd98::/64"},
			transit:    []string{"fd96::/64"},
			masquerade: []string{"fd69::/125"},
			wantIPv6:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			wantStrings(t, "JoinSubnets", c.JoinSubnets, tt.join...)
			wantStrings(t, "TransitSubnets", c.TransitSubnets, tt.transit...)
			wantStrings(t, "MasqueradeSubnets", c.MasqueradeSubnets, tt.masquerade...)
			if c.IPv4() != tt.wantIPv4 || c.IPv6() != tt.wantIPv6 {
				t.Errorf("IPv4() = %v, IPv6() = %v; want %v, %v", c.IPv4(), c.IPv6(), tt.wantIPv4, tt.wantIPv6)
			}
			for _, v6 := range []bool{false, true} {
				want := v6 && tt.wantIPv6 || !v6 && tt.wantIPv4
				if _, ok := c.JoinSubnet(v6); ok != want {
					t.Errorf("JoinSubnet(%v) found = %v, want %v", v6, ok, want)
				}
				if got := len(c.ClusterSubnetsOf(v6)) > 0; got != want {
					t.Errorf("ClusterSubnetsOf(%v) non-empty = %v, want %v", v6, got, want)
				}
			}
		})
	}
}

// TestCompleteDoesNotAliasDefaults makes sure filtering one Config's
// defaults cannot leak into another's.
func TestCompleteDoesNotAliasDefaults(t *testing.T) {
	a := Defaults()
	joinBefore := slices.Clone(a.JoinSubnets)
	if err := Complete(nil, a); err != nil {
		t.Fatal(err)
	}
	if got := Defaults().JoinSubnets; !slices.Equal(got, joinBefore) {
		t.Errorf("Defaults().JoinSubnets = %v after Complete, want %v", got, joinBefore)
	}
	if len(a.JoinSubnets) != 1 {
		t.Errorf("completed JoinSubnets = %v, want the IPv4 entry only", a.JoinSubnets)
	}
}

func wantStrings[T interface{ String() string }](t *testing.T, what string, got []T, want ...string) {
	t.Helper()
	gotS := make([]string, len(got))
	for i, g := range got {
		gotS[i] = g.String()
	}
	if !slices.Equal(gotS, want) {
		t.Errorf("%s = %q, want %q", what, gotS, want)
	}
}
