// Package config holds the settings shared by every ovnkube command.
//
// A Config is built in three layers, each overriding the one before it:
// the built-in Defaults, an optional --config file (YAML or JSON, keyed by
// flag name), and the command-line flags the user explicitly set. The usual
// sequence is:
//
//	c := config.Defaults()
//	config.AddFlags(cmd.Flags(), c)
//	// ... cobra parses the command line ...
//	if err := config.Complete(cmd.Flags(), c); err != nil { ... }
//
// After Complete returns nil the Config is valid and must be treated as
// read-only.
package config

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Default values. They live here, rather than in the flag definitions, so
// that Defaults() is the single source of truth for code and tests that do
// not go through flags.
const (
	// DefaultKubeAPIQPS is far above client-go's default of 5, which makes
	// a control plane serving hundreds of nodes wait on its own rate
	// limiter instead of on the API server.
	DefaultKubeAPIQPS   float32 = 200
	DefaultKubeAPIBurst int     = 400

	DefaultNBAddress      = "unix:/var/run/ovn/ovnnb_db.sock"
	DefaultSBAddress      = "unix:/var/run/ovn/ovnsb_db.sock"
	DefaultMetricsAddress = "127.0.0.1:9409"
)

// TLS names the client certificate, its key and the CA bundle used to
// verify the server, for OVSDB endpoints with the ssl: scheme.
type TLS struct {
	CertFile, KeyFile, CAFile string
	// ServerName is the name the server's certificate must carry (in a
	// SAN or, as ovs-pki issues them, its CN); empty means the host of the
	// address dialed.
	ServerName string
}

// Config is the complete ovnkube configuration. Each field is set by the
// flag named in its comment, or by the same key in the --config file.
type Config struct {
	// Kubeconfig is the kubeconfig path (--kubeconfig); empty means the
	// in-cluster service account.
	Kubeconfig string
	// KubeAPIQPS and KubeAPIBurst rate-limit requests to the Kubernetes
	// API server (--kube-api-qps, --kube-api-burst).
	KubeAPIQPS   float32
	KubeAPIBurst int

	// NBAddress and SBAddress are the OVN northbound and southbound
	// database endpoints (--nb-address, --sb-address): a comma-separated
	// list of unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT. Use NBEndpoints
	// and SBEndpoints to get the list.
	NBAddress string
	SBAddress string
	// NBTLS and SBTLS are the client credentials for ssl: endpoints
	// (--nb-client-cert/-key/-cacert and the sb- equivalents).
	NBTLS, SBTLS TLS

	// ClusterSubnets is the pod network (--cluster-subnets). Its address
	// families are the cluster's families; every other subnet list must
	// match them.
	ClusterSubnets []ClusterSubnet
	// ServiceCIDRs is the Kubernetes service network (--service-cidrs),
	// which must equal the API server's --service-cluster-ip-range.
	ServiceCIDRs []netip.Prefix
	// JoinSubnets connect each node's gateway router to the cluster
	// router (--join-subnets); at most one per family.
	JoinSubnets []netip.Prefix
	// TransitSubnets address the transit switch that joins per-zone
	// cluster routers (--transit-subnets); at most one per family.
	TransitSubnets []netip.Prefix
	// MasqueradeSubnets are host-local addresses used to masquerade
	// traffic between a node and its gateway (--masquerade-subnets); at
	// most one per family.
	MasqueradeSubnets []netip.Prefix

	// ACLLoggingRateLimit is the acl-logging meter's rate, log lines per
	// second (--acl-logging-rate-limit, default 20).
	ACLLoggingRateLimit int

	// LBGroups puts cluster-wide load balancers in load-balancer groups
	// (--lb-groups, default true). false attaches them to every node switch
	// and gateway router instead, as OVN-Kubernetes did before groups: for
	// comparison benchmarks only.
	LBGroups bool

	// NodePortRange is the range of Service node ports (--nodeport-range),
	// which must equal the API server's --service-node-port-range.
	NodePortRange PortRange

	// MetricsAddress is the HOST:PORT of the Prometheus endpoint
	// (--metrics-address); "" or "0" disables it. See MetricsEnabled.
	MetricsAddress string
	// NodeName is the Kubernetes node this process manages (--node-name),
	// used by `ovnkube node`.
	NodeName string
	// ConfigFile is the path of the configuration file (--config).
	ConfigFile string

	// LeaderElection makes several masters safe: only the Lease holder
	// writes (--leader-elect and --leader-elect-*).
	LeaderElection LeaderElection
}

// LeaderElection configures the master's coordination.k8s.io Lease; the
// flag names and defaults are those of kube-controller-manager.
type LeaderElection struct {
	Enabled         bool
	Namespace, Name string
	// LeaseDuration is how long a standby waits from the last renewal;
	// RenewDeadline is how long the leader retries renewing before it
	// stops; RetryPeriod is the interval between attempts.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Defaults returns a new Config holding the built-in defaults; the subnet
// defaults are those of OVN-Kubernetes. The join, transit and masquerade
// defaults are dual-stack so that one set serves every cluster: Complete
// drops the entries of families the cluster does not use. Until then the
// Config is not valid (the default cluster is IPv4-only), so code that
// builds a Config without flags calls Complete(nil, c), not Validate.
func Defaults() *Config {
	return &Config{
		KubeAPIQPS:          DefaultKubeAPIQPS,
		KubeAPIBurst:        DefaultKubeAPIBurst,
		NBAddress:           DefaultNBAddress,
		SBAddress:           DefaultSBAddress,
		ClusterSubnets:      []ClusterSubnet{{CIDR: netip.MustParsePrefix("10.128.0.0/14"), HostPrefix: 23}},
		ServiceCIDRs:        mustPrefixes("172.30.0.0/16"),
		JoinSubnets:         mustPrefixes("100.64.0.0/16", "fd98::/64"),
		TransitSubnets:      mustPrefixes("100.88.0.0/16", "fd97::/64"),
		MasqueradeSubnets:   mustPrefixes("169.254.169.0/29", "fd69::/125"),
		NodePortRange:       DefaultNodePortRange,
		LBGroups:            true,
		ACLLoggingRateLimit: 20,
		MetricsAddress:      DefaultMetricsAddress,
		LeaderElection: LeaderElection{
			Namespace: "ovn-kubernetes", Name: "ovnkube-master",
			LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		},
	}
}

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, v := range s {
		out[i] = netip.MustParsePrefix(v)
	}
	return out
}

// Complete finishes a Config whose flags have been parsed into c by
// AddFlags: it applies c.ConfigFile (if set) for every key whose flag was
// not explicitly set on fs, drops the default join, transit and masquerade
// subnets of families the cluster does not use, and validates the result.
// fs may be nil when no flags were parsed.
func Complete(fs *pflag.FlagSet, c *Config) error {
	userSet := map[string]bool{}
	if fs != nil {
		fs.Visit(func(f *pflag.Flag) { userSet[f.Name] = true })
	}
	if c.ConfigFile != "" {
		fileSet, err := applyFile(c, fs, c.ConfigFile, userSet)
		if err != nil {
			return err
		}
		for name := range fileSet {
			userSet[name] = true
		}
	}
	c.filterDefaultFamilies(userSet)
	return c.Validate()
}

// filterDefaultFamilies lets one set of dual-stack defaults serve v4-only,
// v6-only and dual-stack clusters: lists the user did not set keep only
// the entries of the cluster's families. Lists the user did set are left
// alone so that Validate reports a mismatch rather than hiding it.
func (c *Config) filterDefaultFamilies(userSet map[string]bool) {
	v4, v6 := c.IPv4(), c.IPv6()
	keep := func(p netip.Prefix) bool {
		if isIPv6(p) {
			return v6
		}
		return v4
	}
	for _, l := range []struct {
		flag string
		list *[]netip.Prefix
	}{
		{flagJoinSubnets, &c.JoinSubnets},
		{flagTransitSubnets, &c.TransitSubnets},
		{flagMasqueradeSubnets, &c.MasqueradeSubnets},
	} {
		if !userSet[l.flag] {
			*l.list = slices.DeleteFunc(slices.Clone(*l.list), func(p netip.Prefix) bool { return !keep(p) })
		}
	}
}

// IPv4 reports whether the cluster has an IPv4 pod network.
func (c *Config) IPv4() bool {
	return slices.ContainsFunc(c.ClusterSubnets, func(s ClusterSubnet) bool { return !s.IsIPv6() })
}

// IPv6 reports whether the cluster has an IPv6 pod network.
func (c *Config) IPv6() bool {
	return slices.ContainsFunc(c.ClusterSubnets, ClusterSubnet.IsIPv6)
}

// ClusterSubnetsOf returns the cluster subnets of one family, in
// configuration order.
func (c *Config) ClusterSubnetsOf(ipv6 bool) []ClusterSubnet {
	var out []ClusterSubnet
	for _, s := range c.ClusterSubnets {
		if s.IsIPv6() == ipv6 {
			out = append(out, s)
		}
	}
	return out
}

// ServiceCIDR returns the service CIDR of a family, if the cluster has one.
func (c *Config) ServiceCIDR(ipv6 bool) (netip.Prefix, bool) { return prefixOf(c.ServiceCIDRs, ipv6) }

// JoinSubnet returns the join subnet of a family, if the cluster has one.
func (c *Config) JoinSubnet(ipv6 bool) (netip.Prefix, bool) { return prefixOf(c.JoinSubnets, ipv6) }

// TransitSubnet returns the transit subnet of a family, if the cluster has
// one.
func (c *Config) TransitSubnet(ipv6 bool) (netip.Prefix, bool) {
	return prefixOf(c.TransitSubnets, ipv6)
}

// MasqueradeSubnet returns the masquerade subnet of a family, if the
// cluster has one.
func (c *Config) MasqueradeSubnet(ipv6 bool) (netip.Prefix, bool) {
	return prefixOf(c.MasqueradeSubnets, ipv6)
}

// NBEndpoints returns the northbound database endpoints, one per entry of
// NBAddress, in the form libovsdb's client.WithEndpoint expects.
func (c *Config) NBEndpoints() []string { return splitList([]string{c.NBAddress}) }

// SBEndpoints returns the southbound database endpoints.
func (c *Config) SBEndpoints() []string { return splitList([]string{c.SBAddress}) }

// MetricsEnabled reports whether the metrics endpoint should be served.
func (c *Config) MetricsEnabled() bool {
	a := strings.TrimSpace(c.MetricsAddress)
	return a != "" && a != "0"
}

func prefixOf(list []netip.Prefix, ipv6 bool) (netip.Prefix, bool) {
	for _, p := range list {
		if isIPv6(p) == ipv6 {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
