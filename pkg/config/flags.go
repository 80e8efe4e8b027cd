package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"
)

// Flag names. They double as the keys of the --config file and appear in
// every validation error, so they are spelled once here.
const (
	flagKubeconfig        = "kubeconfig"
	flagKubeAPIQPS        = "kube-api-qps"
	flagKubeAPIBurst      = "kube-api-burst"
	flagNBAddress         = "nb-address"
	flagSBAddress         = "sb-address"
	flagNBClientCert      = "nb-client-cert"
	flagNBClientKey       = "nb-client-key"
	flagNBClientCACert    = "nb-client-cacert"
	flagSBClientCert      = "sb-client-cert"
	flagSBClientKey       = "sb-client-key"
	flagSBClientCACert    = "sb-client-cacert"
	flagNBCertCommonName  = "nb-cert-common-name"
	flagSBCertCommonName  = "sb-cert-common-name"
	flagClusterSubnets    = "cluster-subnets"
	flagServiceCIDRs      = "service-cidrs"
	flagJoinSubnets       = "join-subnets"
	flagTransitSubnets    = "transit-subnets"
	flagMasqueradeSubnets = "masquerade-subnets"
	flagNodePortRange     = "nodeport-range"
	flagLBGroups          = "lb-groups"
	flagACLLoggingRate    = "acl-logging-rate-limit"
	flagMetricsAddress    = "metrics-address"
	flagNodeName          = "node-name"
	flagLeaderElect       = "leader-elect"
	flagLeaseNamespace    = "leader-elect-resource-namespace"
	flagLeaseName         = "leader-elect-resource-name"
	flagLeaseDuration     = "leader-elect-lease-duration"
	flagRenewDeadline     = "leader-elect-renew-deadline"
	flagRetryPeriod       = "leader-elect-retry-period"
	flagConfig            = "config"
)

// option is one setting. The same table drives flag registration and the
// config file, which guarantees that file keys and flag names never drift
// apart.
type option struct {
	name  string
	usage string
	// bind returns a pflag.Value that reads and writes the option's field
	// in c.
	bind func(c *Config) pflag.Value
	// fileList marks a plain string option that also accepts a list in
	// the config file; the entries are joined with commas.
	fileList bool
}

// options lists every setting in the order of the Config struct. The help
// texts state the format and what the default means; pflag appends the
// default value itself.
var options = []option{
	{
		name:  flagConfig,
		usage: "Path of a YAML or JSON configuration file whose keys are these flag names, e.g. \"cluster-subnets: [10.244.0.0/16/24]\". Flags set on the command line override the file. Empty (the default) reads no file.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.ConfigFile) },
	},
	{
		name:  flagKubeconfig,
		usage: "Path of the kubeconfig file used to reach the Kubernetes API server. Empty (the default) uses the in-cluster service account.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.Kubeconfig) },
	},
	{
		name:  flagKubeAPIQPS,
		usage: "Sustained requests per second to the Kubernetes API server. The default is sized for clusters of hundreds of nodes; client-go's own default of 5 is far too low. 0 means client-go's default.",
		bind:  func(c *Config) pflag.Value { return (*float32Value)(&c.KubeAPIQPS) },
	},
	{
		name:  flagKubeAPIBurst,
		usage: "Requests that may be sent to the Kubernetes API server in a burst above --kube-api-qps. 0 means client-go's default.",
		bind:  func(c *Config) pflag.Value { return (*intValue)(&c.KubeAPIBurst) },
	},
	{
		name:     flagNBAddress,
		usage:    "OVN northbound database: comma-separated list of unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT (bracket IPv6 hosts, e.g. ssl:[fd00::1]:6641). Several entries name the members of a clustered database. ssl: requires --nb-client-cert, --nb-client-key and --nb-client-cacert.",
		bind:     func(c *Config) pflag.Value { return (*stringValue)(&c.NBAddress) },
		fileList: true,
	},
	{
		name:     flagSBAddress,
		usage:    "OVN southbound database, in the same format as --nb-address. ssl: requires --sb-client-cert, --sb-client-key and --sb-client-cacert.",
		bind:     func(c *Config) pflag.Value { return (*stringValue)(&c.SBAddress) },
		fileList: true,
	},
	{
		name:  flagNBClientCert,
		usage: "Path of the PEM client certificate presented to ssl: northbound endpoints. Required when --nb-address has an ssl: entry; empty by default.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.NBTLS.CertFile) },
	},
	{
		name:  flagNBClientKey,
		usage: "Path of the PEM private key of --nb-client-cert. Required with ssl:; empty by default.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.NBTLS.KeyFile) },
	},
	{
		name:  flagNBClientCACert,
		usage: "Path of the PEM CA bundle that verifies ssl: northbound endpoints. Required with ssl:; empty by default.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.NBTLS.CAFile) },
	},
	{
		name:  flagNBCertCommonName,
		usage: "Name the ssl: northbound server's certificate must carry (a SAN, or its CN as ovs-pki issues them). Empty by default: the host of the address dialed.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.NBTLS.ServerName) },
	},
	{
		name:  flagSBClientCert,
		usage: "Path of the PEM client certificate presented to ssl: southbound endpoints. Required when --sb-address has an ssl: entry; empty by default.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.SBTLS.CertFile) },
	},
	{
		name:  flagSBClientKey,
		usage: "Path of the PEM private key of --sb-client-cert. Required with ssl:; empty by default.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.SBTLS.KeyFile) },
	},
	{
		name:  flagSBClientCACert,
		usage: "Path of the PEM CA bundle that verifies ssl: southbound endpoints. Required with ssl:; empty by default.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.SBTLS.CAFile) },
	},
	{
		name:  flagSBCertCommonName,
		usage: "Name the ssl: southbound server's certificate must carry (a SAN, or its CN as ovs-pki issues them). Empty by default: the host of the address dialed.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.SBTLS.ServerName) },
	},
	{
		name:  flagClusterSubnets,
		usage: "Pod network: comma-separated list of CIDR/HOSTPREFIX, e.g. 10.244.0.0/16/24 gives each node a /24 out of 10.244.0.0/16. The families listed (IPv4, IPv6 or both) are the cluster's families.",
		bind: func(c *Config) pflag.Value {
			return &listValue[ClusterSubnet]{list: &c.ClusterSubnets, parse: ParseClusterSubnets}
		},
	},
	{
		name:  flagServiceCIDRs,
		usage: "Service network: comma-separated list of CIDRs, one per cluster family. Must equal the API server's --service-cluster-ip-range.",
		bind:  func(c *Config) pflag.Value { return prefixList(&c.ServiceCIDRs) },
	},
	{
		name:  flagJoinSubnets,
		usage: "Subnets linking each node's gateway router to the cluster router: comma-separated CIDRs, at most one per family. Unless set, only the defaults of the cluster's families are used.",
		bind:  func(c *Config) pflag.Value { return prefixList(&c.JoinSubnets) },
	},
	{
		name:  flagTransitSubnets,
		usage: "Subnets of the transit switch that connects the zones' cluster routers: comma-separated CIDRs, at most one per family. Unless set, only the defaults of the cluster's families are used.",
		bind:  func(c *Config) pflag.Value { return prefixList(&c.TransitSubnets) },
	},
	{
		name:  flagNodePortRange,
		usage: "Range of Service node ports, FIRST-LAST. Must equal the API server's --service-node-port-range; node ports outside it are reported and not programmed.",
		bind:  func(c *Config) pflag.Value { return &c.NodePortRange },
	},
	{
		name:  flagACLLoggingRate,
		usage: "Log lines per second, cluster-wide per ACL action, of network policy ACLs with logging on (k8s.ovn.org/acl-logging): the rate of the acl-logging meter. At least 1.",
		bind:  func(c *Config) pflag.Value { return (*intValue)(&c.ACLLoggingRateLimit) },
	},
	{
		name:  flagLBGroups,
		usage: "Put cluster-wide service load balancers in the load-balancer groups every node switch and gateway router references (one row per service whatever the node count). false attaches each to every node instead; for comparison only.",
		bind:  func(c *Config) pflag.Value { return (*boolValue)(&c.LBGroups) },
	},
	{
		name:  flagMasqueradeSubnets,
		usage: "Host-local subnets used to masquerade traffic between a node and its gateway router: comma-separated CIDRs, at most one per family, at least /29 (IPv4) or /125 (IPv6). Unless set, only the defaults of the cluster's families are used.",
		bind:  func(c *Config) pflag.Value { return prefixList(&c.MasqueradeSubnets) },
	},
	{
		name:  flagMetricsAddress,
		usage: `HOST:PORT on which Prometheus metrics are served; an empty host listens on all addresses. "" or "0" disables metrics.`,
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.MetricsAddress) },
	},
	{
		name:  flagNodeName,
		usage: "Name of the Kubernetes node this process manages, used by ovnkube node; usually set from the pod's spec.nodeName. Empty by default.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.NodeName) },
	},
	{
		name:  flagLeaderElect,
		usage: "ovnkube master only: run as one of several replicas, of which only the holder of a coordination.k8s.io Lease allocates, annotates and writes the NB; the others keep their caches warm and take over within --leader-elect-lease-duration. Off by default (a single master); on in dist/.",
		bind:  func(c *Config) pflag.Value { return (*boolValue)(&c.LeaderElection.Enabled) },
	},
	{
		name:  flagLeaseNamespace,
		usage: "Namespace of the leader election Lease.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.LeaderElection.Namespace) },
	},
	{
		name:  flagLeaseName,
		usage: "Name of the leader election Lease.",
		bind:  func(c *Config) pflag.Value { return (*stringValue)(&c.LeaderElection.Name) },
	},
	{
		name:  flagLeaseDuration,
		usage: "How long standbys wait after the leader's last renewal before taking the Lease: the longest a dead leader leaves the cluster without a master.",
		bind:  func(c *Config) pflag.Value { return (*durationValue)(&c.LeaderElection.LeaseDuration) },
	},
	{
		name:  flagRenewDeadline,
		usage: "How long the leader keeps trying to renew the Lease before it gives up leading and exits; less than --leader-elect-lease-duration, so it stops writing before a standby may start.",
		bind:  func(c *Config) pflag.Value { return (*durationValue)(&c.LeaderElection.RenewDeadline) },
	},
	{
		name:  flagRetryPeriod,
		usage: "Interval between attempts to acquire or renew the Lease.",
		bind:  func(c *Config) pflag.Value { return (*durationValue)(&c.LeaderElection.RetryPeriod) },
	},
}

// AddFlags registers every configuration flag on fs, bound to c. The
// current values of c, normally Defaults(), become the defaults shown by
// --help. Call Complete after parsing.
func AddFlags(fs *pflag.FlagSet, c *Config) {
	for _, o := range options {
		fs.Var(o.bind(c), o.name, o.usage)
	}
}

func prefixList(p *[]netip.Prefix) pflag.Value {
	return &listValue[netip.Prefix]{list: p, parse: ParsePrefixes}
}

// lookupOption returns the option named name.
func lookupOption(name string) (option, bool) {
	for _, o := range options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

// Get returns the setting name (a flag name) of c as it is written on the
// command line: lists joined by commas. Scripts use it, through `ovnkube
// config get`, to read the one configuration file instead of a copy.
func Get(c *Config, name string) (string, error) {
	o, ok := lookupOption(name)
	if !ok || name == flagConfig {
		return "", fmt.Errorf("unknown setting %q (settings are flag names without the leading --)", name)
	}
	v := o.bind(c)
	if sv, ok := v.(pflag.SliceValue); ok {
		return strings.Join(sv.GetSlice(), ","), nil
	}
	return v.String(), nil
}
