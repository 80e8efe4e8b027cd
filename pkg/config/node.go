package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Defaults of the settings only `ovnkube node` uses.
const (
	DefaultOVSAddress           = "unix:/var/run/openvswitch/db.sock"
	DefaultDatapathType         = "system"
	DefaultCNISocket            = "/var/run/ovn-kubernetes/cni/ovn-cni-server.sock"
	DefaultCNIBinDir            = "/opt/cni/bin"
	DefaultCNIConfDir           = "/etc/cni/net.d"
	DefaultPodAnnotationTimeout = 30 * time.Second
	DefaultOVSInstalledTimeout  = 30 * time.Second
	DefaultNodeMetricsAddress   = "127.0.0.1:9410"

	// maxUnixSocketPath is the room sockaddr_un leaves for a path (108
	// bytes including the terminating NUL); longer paths fail at bind or
	// dial with a confusing "invalid argument".
	maxUnixSocketPath = 107
)

// Node flag names, spelled once: they appear in every validation error.
const (
	flagOVSAddress           = "ovs-address"
	flagEncapIP              = "encap-ip"
	flagDatapathType         = "datapath-type"
	flagMTU                  = "mtu"
	flagCNISocket            = "cni-socket"
	flagCNIBinDir            = "cni-bin-dir"
	flagCNIConfDir           = "cni-conf-dir"
	flagCNIPlugin            = "cni-plugin"
	flagPodAnnotationTimeout = "pod-annotation-timeout"
	flagOVSInstalledTimeout  = "ovs-installed-timeout"
	flagGatewayInterface     = "gateway-interface"
	flagGatewayNextHop       = "gateway-nexthop"
)

// isNodeFlag reports whether name is one of the node-only settings, which
// the --config file may hold for `ovnkube node`.
func isNodeFlag(name string) bool {
	switch name {
	case flagOVSAddress, flagEncapIP, flagDatapathType, flagMTU, flagCNISocket, flagCNIBinDir,
		flagCNIConfDir, flagCNIPlugin, flagPodAnnotationTimeout, flagOVSInstalledTimeout,
		flagGatewayInterface, flagGatewayNextHop:
		return true
	}
	return false
}

// NodeConfig holds the settings of `ovnkube node` that no other command
// needs. They are kept apart from Config so the master's --help does not
// list node-local paths. Empty or zero values that have a "default from
// the environment" (EncapIP, MTU, CNIPlugin) are resolved at start by the
// node agent, which can see the Node object and the host's interfaces.
type NodeConfig struct {
	// OVSAddress is the local Open_vSwitch database (--ovs-address).
	OVSAddress string
	// EncapIP is the Geneve tunnel endpoint (--encap-ip); invalid (zero)
	// means the Node's InternalIP.
	EncapIP netip.Addr
	// DatapathType is br-int's datapath (--datapath-type): system
	// (kernel) or netdev (userspace).
	DatapathType string
	// MTU of pod interfaces and the management port (--mtu); 0 means the
	// MTU of the interface holding the encap IP minus the Geneve overhead.
	MTU int
	// CNISocket is the unix socket the CNI server listens on (--cni-socket).
	CNISocket string
	// CNIBinDir and CNIConfDir are where the plugin binary and its
	// conflist are installed (--cni-bin-dir, --cni-conf-dir).
	CNIBinDir, CNIConfDir string
	// CNIPlugin is the ovn-k8s-cni-overlay binary to install
	// (--cni-plugin); empty means beside the running executable.
	CNIPlugin string
	// PodAnnotationTimeout bounds a CNI ADD's wait for the master's
	// k8s.ovn.org/pod-networks (--pod-annotation-timeout).
	PodAnnotationTimeout time.Duration
	// OVSInstalledTimeout bounds a CNI ADD's wait for ovn-controller to
	// mark the pod's interface ovn-installed (--ovs-installed-timeout).
	OVSInstalledTimeout time.Duration
	// GatewayInterface is the interface every family leaves the node
	// through (--gateway-interface); empty means the default routes' one.
	GatewayInterface string
	// GatewayNextHops are the routers on it, at most one per family
	// (--gateway-nexthop); empty means the default routes' next hops.
	GatewayNextHops []netip.Addr
}

// NodeDefaults returns a NodeConfig holding the built-in defaults.
func NodeDefaults() *NodeConfig {
	return &NodeConfig{
		OVSAddress:           DefaultOVSAddress,
		DatapathType:         DefaultDatapathType,
		CNISocket:            DefaultCNISocket,
		CNIBinDir:            DefaultCNIBinDir,
		CNIConfDir:           DefaultCNIConfDir,
		PodAnnotationTimeout: DefaultPodAnnotationTimeout,
		OVSInstalledTimeout:  DefaultOVSInstalledTimeout,
	}
}

// AddNodeFlags registers the node-only flags on fs, bound to n. The current
// values of n, normally NodeDefaults(), become the defaults --help shows.
func AddNodeFlags(fs *pflag.FlagSet, n *NodeConfig) {
	fs.StringVar(&n.OVSAddress, flagOVSAddress, n.OVSAddress,
		"Local Open_vSwitch database: unix:PATH or tcp:HOST:PORT. This is the agent's only contact with OVS, so a node with its own OVS_RUNDIR just points it at its db.sock.")
	fs.Var(&addrValue{&n.EncapIP}, flagEncapIP,
		"IP address of this node's Geneve tunnel endpoint (external_ids:ovn-encap-ip). Empty (the default) uses the Node's InternalIP from the Kubernetes API.")
	fs.StringVar(&n.DatapathType, flagDatapathType, n.DatapathType,
		"Datapath of br-int and of the bridges ovn-controller creates: system (kernel module) or netdev (userspace; pods then get TX checksum offload turned off).")
	fs.IntVar(&n.MTU, flagMTU, n.MTU,
		"MTU of pod interfaces and the management port. 0 (the default) means the MTU of the interface holding the encap IP minus 100 bytes for the Geneve header.")
	fs.StringVar(&n.CNISocket, flagCNISocket, n.CNISocket,
		"Unix socket of the CNI server (directory 0700, socket 0600). Written into the conflist as serverSocket, so the plugin finds this node's server.")
	fs.StringVar(&n.CNIBinDir, flagCNIBinDir, n.CNIBinDir,
		"Directory the ovn-k8s-cni-overlay plugin binary is installed into.")
	fs.StringVar(&n.CNIConfDir, flagCNIConfDir, n.CNIConfDir,
		"Directory 10-ovn-kubernetes.conflist is written into.")
	fs.StringVar(&n.CNIPlugin, flagCNIPlugin, n.CNIPlugin,
		"Path of the ovn-k8s-cni-overlay binary to install into --cni-bin-dir. Empty (the default) means ovn-k8s-cni-overlay beside the running ovnkube executable.")
	fs.DurationVar(&n.PodAnnotationTimeout, flagPodAnnotationTimeout, n.PodAnnotationTimeout,
		"How long a CNI ADD waits for the master to write the pod's k8s.ovn.org/pod-networks annotation before failing.")
	fs.DurationVar(&n.OVSInstalledTimeout, flagOVSInstalledTimeout, n.OVSInstalledTimeout,
		"How long a CNI ADD waits for ovn-controller to set external_ids:ovn-installed=true on the pod's OVS interface before failing.")
	fs.StringVar(&n.GatewayInterface, flagGatewayInterface, n.GatewayInterface,
		"Interface the node's traffic leaves through for every IP family (br-ex will own it). Empty (the default) means the interface of the default routes in the main routing table, which must be the same for IPv4 and IPv6.")
	fs.Var(&addrListValue{&n.GatewayNextHops}, flagGatewayNextHop,
		"Next hop(s) of the gateway interface, comma-separated, at most one per IP family. Empty (the default) means the default routes' next hops.")
}

// Validate checks n and returns the first problem found, naming the flag.
func (n *NodeConfig) Validate() error {
	if _, err := checkOVSDBAddress(flagOVSAddress, n.OVSAddress); err != nil {
		return err
	}
	if strings.HasPrefix(n.OVSAddress, "ssl:") {
		return fmt.Errorf("invalid --%s %q: ssl: is not supported for the local Open_vSwitch database (use unix: or tcp:)", flagOVSAddress, n.OVSAddress)
	}
	if strings.Contains(n.OVSAddress, ",") {
		return fmt.Errorf("invalid --%s %q: exactly one endpoint expected (the local database)", flagOVSAddress, n.OVSAddress)
	}
	if n.EncapIP.IsValid() && (n.EncapIP.IsUnspecified() || n.EncapIP.IsMulticast() || n.EncapIP.IsLoopback()) {
		return fmt.Errorf("invalid --%s %q: must be a unicast, non-loopback address", flagEncapIP, n.EncapIP)
	}
	switch n.DatapathType {
	case "system", "netdev":
	default:
		return fmt.Errorf("invalid --%s %q: want system or netdev", flagDatapathType, n.DatapathType)
	}
	// 1280 is the IPv6 minimum; 9000-ish jumbo frames minus the overhead
	// stay well under 65535.
	if n.MTU != 0 && (n.MTU < 1280 || n.MTU > 65535) {
		return fmt.Errorf("invalid --%s %d: want 0 (derive from the encap interface) or 1280-65535", flagMTU, n.MTU)
	}
	if err := checkSocketPath(flagCNISocket, n.CNISocket); err != nil {
		return err
	}
	for _, d := range []struct{ flag, value string }{
		{flagCNIBinDir, n.CNIBinDir}, {flagCNIConfDir, n.CNIConfDir},
	} {
		if !filepath.IsAbs(d.value) {
			return fmt.Errorf("invalid --%s %q: must be an absolute directory path", d.flag, d.value)
		}
	}
	if n.CNIPlugin != "" && !filepath.IsAbs(n.CNIPlugin) {
		return fmt.Errorf("invalid --%s %q: must be an absolute path (or empty for beside ovnkube)", flagCNIPlugin, n.CNIPlugin)
	}
	if strings.ContainsAny(n.GatewayInterface, " /") || len(n.GatewayInterface) > 15 {
		return fmt.Errorf("invalid --%s %q: not an interface name", flagGatewayInterface, n.GatewayInterface)
	}
	seen := map[bool]bool{}
	for _, a := range n.GatewayNextHops {
		if seen[a.Is4()] {
			return fmt.Errorf("invalid --%s %v: at most one next hop per IP family", flagGatewayNextHop, n.GatewayNextHops)
		}
		seen[a.Is4()] = true
		if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
			return fmt.Errorf("invalid --%s %s: must be a unicast, non-loopback address", flagGatewayNextHop, a)
		}
	}
	for _, t := range []struct {
		flag  string
		value time.Duration
	}{
		{flagPodAnnotationTimeout, n.PodAnnotationTimeout}, {flagOVSInstalledTimeout, n.OVSInstalledTimeout},
	} {
		if t.value <= 0 {
			return fmt.Errorf("invalid --%s %s: must be > 0", t.flag, t.value)
		}
	}
	return nil
}

// checkSocketPath requires an absolute unix socket path that fits in
// sockaddr_un: the plugin runs with an unknown working directory and a
// path that is too long only fails later, at bind, with EINVAL.
func checkSocketPath(flag, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("invalid --%s %q: must be an absolute path", flag, path)
	}
	if len(path) > maxUnixSocketPath {
		return fmt.Errorf("invalid --%s %q: %d characters, a unix socket path may have at most %d", flag, path, len(path), maxUnixSocketPath)
	}
	return nil
}

// addrValue is a pflag.Value for an optional IP address ("" = unset).
type addrValue struct{ a *netip.Addr }

func (v *addrValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		*v.a = netip.Addr{}
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return fmt.Errorf("%q is not an IP address", s)
	}
	*v.a = a
	return nil
}

func (v *addrValue) String() string {
	if !v.a.IsValid() {
		return ""
	}
	return v.a.String()
}

func (v *addrValue) Type() string { return "ip" }

// addrListValue is a pflag.Value for a comma-separated list of addresses.
type addrListValue struct{ a *[]netip.Addr }

func (v *addrListValue) Set(s string) error {
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return fmt.Errorf("%q is not an IP address", f)
		}
		out = append(out, a)
	}
	*v.a = out
	return nil
}

func (v *addrListValue) String() string {
	s := make([]string, len(*v.a))
	for i, a := range *v.a {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func (v *addrListValue) Type() string { return "ips" }
