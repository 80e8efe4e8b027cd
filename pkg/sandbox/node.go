package sandbox

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// vswitchSchema is installed by the Debian openvswitch-common package.
const vswitchSchema = "/usr/share/openvswitch/vswitch.ovsschema"

// Fabric is the underlay segment of a data plane: a Linux bridge inside a
// network namespace of its own. Nodes hang off it by veth pairs, so no
// underlay address or route ever exists in the root namespace.
type Fabric struct {
	NetNS  string // namespace name
	Bridge string // bridge inside it
}

// CreateFabric makes the namespace and its bridge.
func CreateFabric(netns string) (*Fabric, error) {
	f := &Fabric{NetNS: netns, Bridge: "br0"}
	if err := AddNetNS(netns); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"-n", netns, "link", "add", f.Bridge, "type", "bridge"},
		{"-n", netns, "link", "set", f.Bridge, "up"},
	} {
		if _, err := IP(args...); err != nil {
			_ = DelNetNS(netns)
			return nil, err
		}
	}
	return f, nil
}

// AddHost plugs a plain host (no OVS, no Kubernetes) into the fabric: a
// namespace netns with eth0 holding addrs, e.g. the sandbox's external host
// that owns the nodes' default gateway addresses. Its veth is created
// directly in the two namespaces, like the nodes'.
func (f *Fabric) AddHost(netns, port string, addrs []netip.Prefix) error {
	if err := AddNetNS(netns); err != nil {
		return err
	}
	cmds := [][]string{
		{"link", "add", "eth0", "netns", netns, "type", "veth", "peer", "name", port, "netns", f.NetNS},
		{"-n", f.NetNS, "link", "set", port, "master", f.Bridge, "up"},
		{"-n", netns, "link", "set", "lo", "up"},
		{"-n", netns, "link", "set", "eth0", "up"},
	}
	for _, a := range addrs {
		c := []string{"-n", netns, "addr", "add", a.String(), "dev", "eth0"}
		if a.Addr().Is6() {
			c = append(c, "nodad")
		}
		cmds = append(cmds, c)
	}
	for _, args := range cmds {
		if _, err := IP(args...); err != nil {
			_ = DelNetNS(netns)
			return err
		}
	}
	// The nodes' userspace datapath checks TCP checksums; a veth that leaves
	// them to offload would have its replies dropped as invalid.
	if out, err := exec.Command("ip", "netns", "exec", netns, "ethtool", "-K", "eth0", "tx", "off").CombinedOutput(); err != nil {
		_ = DelNetNS(netns)
		return fmt.Errorf("ethtool -K eth0 tx off in %s: %w: %s (make debs installs ethtool)", netns, err, out)
	}
	return nil
}

// Delete removes the fabric namespace and with it the bridge and the
// fabric-side ends of every node's veth.
func (f *Fabric) Delete() error { return DelNetNS(f.NetNS) }

// NodeOptions describe one data-plane node.
type NodeOptions struct {
	// Name is the node's name (Kubernetes Node name, OVS hostname).
	Name string
	// NetNS is the name of the node's network namespace, created by
	// StartNode; it must not exist yet.
	NetNS string
	// Dir holds the node's OVS database, sockets, pid files and logs. Keep
	// it short: its sockets must stay under MaxSocketPath.
	Dir string
	// UnderlayIP is the node's address on the fabric, e.g. 172.31.0.1/24.
	// It starts on the node's NIC eth0; `ovnkube node` moves it onto br-ex
	// (the userspace datapath needs the tunnel endpoint on a netdev bridge).
	UnderlayIP netip.Prefix
	// Gateway, if valid, becomes the node namespace's default route.
	Gateway netip.Addr
	// UnderlayIP6 and Gateway6, if valid, are the IPv6 equivalents, for
	// dual-stack clusters: `ovnkube node` requires a default route of every
	// family the cluster uses, on one interface.
	UnderlayIP6 netip.Prefix
	Gateway6    netip.Addr
	// Fabric is the segment the node's NIC is plugged into; FabricPort is
	// the name of the veth end on the fabric bridge (<= 15 characters).
	Fabric     *Fabric
	FabricPort string
	Launch     Launch
}

// Node is a node's network namespace with its own ovsdb-server,
// ovs-vswitchd (userspace datapath) and ovn-controller. ovn-controller
// idles until external_ids:ovn-remote and the encap settings are set (by
// `ovnkube node`, or by ConfigureOVN).
type Node struct {
	Name       string
	NetNS      string
	Dir        string
	UnderlayIP netip.Prefix
	OVSAddress string // unix:<Dir>/db.sock
	ReadyIn    time.Duration

	OVSDB, VSwitchd, Controller *Process
}

// NodeEnv is the environment of every OVS/OVN program of the node: all
// run-time files in its dir.
func NodeEnv(dir string) []string {
	return []string{"OVS_RUNDIR=" + dir, "OVS_DBDIR=" + dir, "OVS_LOGDIR=" + dir,
		"OVN_RUNDIR=" + dir, "OVN_DBDIR=" + dir, "OVN_LOGDIR=" + dir}
}

// StartNode creates the node's namespace, plugs it into the fabric, and
// starts ovsdb-server, ovs-vswitchd and ovn-controller inside it. On error
// everything it made is removed again.
func StartNode(opts NodeOptions) (n *Node, err error) {
	t0 := time.Now()
	bins := map[string]string{}
	for _, b := range []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovn-controller"} {
		if bins[b], err = DebianBin(b); err != nil {
			return nil, err
		}
	}
	if opts.Dir, err = filepath.Abs(opts.Dir); err != nil {
		return nil, err
	}
	for _, s := range []string{"db.sock", "ovs-vswitchd.ctl", "br-int.mgmt", "ovn-controller.4194304.ctl"} {
		if err := checkSocketPath(filepath.Join(opts.Dir, s)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	n = &Node{Name: opts.Name, NetNS: opts.NetNS, Dir: opts.Dir, UnderlayIP: opts.UnderlayIP,
		OVSAddress: "unix:" + filepath.Join(opts.Dir, "db.sock")}
	if err := AddNetNS(opts.NetNS); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Stop()
			_ = n.Delete()
		}
	}()
	// The veth is created directly in the two namespaces: neither end ever
	// exists in the root namespace.
	if _, err := IP("link", "add", "eth0", "netns", opts.NetNS, "type", "veth",
		"peer", "name", opts.FabricPort, "netns", opts.Fabric.NetNS); err != nil {
		return nil, err
	}
	if _, err := IP("-n", opts.Fabric.NetNS, "link", "set", opts.FabricPort, "master", opts.Fabric.Bridge, "up"); err != nil {
		return nil, err
	}
	if _, err := IP("-n", opts.NetNS, "link", "set", "eth0", "up"); err != nil {
		return nil, err
	}

	env := NodeEnv(opts.Dir)
	nsPath := NetNSPath(opts.NetNS)
	start := func(name string, args ...string) (*Process, error) {
		l := opts.Launch
		return l.startIn(nsPath, name+"-"+opts.Name, filepath.Join(opts.Dir, name+".log"), env, args...)
	}
	db := filepath.Join(opts.Dir, "conf.db")
	if _, err := os.Stat(db); os.IsNotExist(err) {
		if out, err := exec.Command(bins["ovsdb-tool"], "create", db, vswitchSchema).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ovsdb-tool create %s: %v: %s", db, err, strings.TrimSpace(string(out)))
		}
	}
	if n.OVSDB, err = start("ovsdb-server", bins["ovsdb-server"], db,
		"--no-chdir", "-vconsole:off", "-vfile:info",
		"--pidfile="+filepath.Join(opts.Dir, "ovsdb-server.pid"),
		"--log-file="+filepath.Join(opts.Dir, "ovsdb-server.log"),
		"--unixctl="+filepath.Join(opts.Dir, "ovsdb-server.ctl"),
		"--remote=punix:"+filepath.Join(opts.Dir, "db.sock")); err != nil {
		return nil, err
	}
	sock := filepath.Join(opts.Dir, "db.sock")
	if err := waitReady(n.OVSDB.Name(), 30*time.Second, func() (bool, error) { return unixDialable(sock) }, n.OVSDB); err != nil {
		return nil, err
	}
	// Without --no-wait, init would block until ovs-vswitchd runs.
	if _, err := n.VSCtl("--no-wait", "init"); err != nil {
		return nil, err
	}
	// ovn-controller creates br-int with this datapath type; set before it
	// starts so br-int is never made with the kernel datapath we lack.
	if _, err := n.VSCtl("--no-wait", "set", "Open_vSwitch", ".", "external_ids:ovn-bridge-datapath-type=netdev"); err != nil {
		return nil, err
	}
	// --monitor, as ovs-ctl runs it in production: a crashed ovs-vswitchd
	// is restarted by its monitor process (Debian's OVS 3.1.0 userspace
	// conntrack can hit an assertion with NAT, see docs/sandbox.md), and
	// ovn-controller and `ovnkube node` put their flows back.
	if n.VSwitchd, err = start("ovs-vswitchd", bins["ovs-vswitchd"], "unix:"+sock, "--monitor",
		"--no-chdir", "-vconsole:off", "-vfile:info",
		"--pidfile="+filepath.Join(opts.Dir, "ovs-vswitchd.pid"),
		"--log-file="+filepath.Join(opts.Dir, "ovs-vswitchd.log"),
		"--unixctl="+filepath.Join(opts.Dir, "ovs-vswitchd.ctl")); err != nil {
		return nil, err
	}
	// The NIC carries the node's addresses and default routes, as on a
	// freshly booted host: `ovnkube node` moves them onto br-ex.
	if err := configureUplink(opts); err != nil {
		return nil, err
	}
	// ovn-controller 23.03 has no --unixctl: its control socket is
	// $OVN_RUNDIR/ovn-controller.<pid>.ctl. It finds br-int.mgmt in
	// $OVS_RUNDIR, the same dir as ovs-vswitchd's.
	if n.Controller, err = start("ovn-controller", bins["ovn-controller"], "unix:"+sock,
		"--no-chdir", "-vconsole:off", "-vfile:info",
		"--pidfile="+filepath.Join(opts.Dir, "ovn-controller.pid"),
		"--log-file="+filepath.Join(opts.Dir, "ovn-controller.log")); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(opts.Dir, "ovn-controller.pid")
	if err := waitReady(n.Controller.Name(), 30*time.Second, func() (bool, error) {
		_, err := os.Stat(pidFile)
		return err == nil, err
	}, n.Controller, n.VSwitchd, n.OVSDB); err != nil {
		return nil, err
	}
	n.ReadyIn = time.Since(t0)
	return n, nil
}

// configureUplink gives eth0 the node's addresses and default routes.
func configureUplink(opts NodeOptions) error {
	cmds := [][]string{{"addr", "add", opts.UnderlayIP.String(), "dev", "eth0"}}
	if opts.Gateway.IsValid() {
		cmds = append(cmds, []string{"route", "add", "default", "via", opts.Gateway.String(), "dev", "eth0"})
	}
	if opts.UnderlayIP6.IsValid() {
		cmds = append(cmds, []string{"-6", "addr", "add", opts.UnderlayIP6.String(), "dev", "eth0", "nodad"})
	}
	if opts.Gateway6.IsValid() {
		cmds = append(cmds, []string{"-6", "route", "add", "default", "via", opts.Gateway6.String(), "dev", "eth0"})
	}
	for _, c := range cmds {
		if _, err := IP(append([]string{"-n", opts.NetNS}, c...)...); err != nil {
			return err
		}
	}
	return nil
}

// startIn starts one process inside the network namespace at netns.
func (l Launch) startIn(netns, name, logFile string, env []string, args ...string) (*Process, error) {
	p := &Process{Detached: l.Detached, Env: env, NetNS: netns}
	if err := p.Start(name, logFile, args...); err != nil {
		return nil, err
	}
	if l.OnStart != nil {
		if err := l.OnStart(p); err != nil {
			p.Stop()
			return nil, fmt.Errorf("%s: record process: %w", name, err)
		}
	}
	return p, nil
}

// StartIn starts a process inside the network namespace at netnsPath per
// the launch settings (attached or detached, recorded by OnStart).
func (l Launch) StartIn(netnsPath, name, logFile string, env []string, args ...string) (*Process, error) {
	return l.startIn(netnsPath, name, logFile, env, args...)
}

// VSCtl runs ovs-vsctl against the node's database.
func (n *Node) VSCtl(args ...string) (string, error) {
	return run("ovs-vsctl", append([]string{"--db=" + n.OVSAddress}, args...)...)
}

// ConfigureOVN sets what `ovnkube node` normally sets so that ovn-controller
// joins the SB: system-id, hostname, ovn-remote and the Geneve encap on the
// underlay IP. For tests of the data plane without the node agent.
func (n *Node) ConfigureOVN(sbAddress string) error {
	_, err := n.VSCtl("set", "Open_vSwitch", ".",
		"external_ids:system-id="+n.Name, "external_ids:hostname="+n.Name,
		"external_ids:ovn-remote="+sbAddress, "external_ids:ovn-encap-type=geneve",
		"external_ids:ovn-encap-ip="+n.UnderlayIP.Addr().String(),
		"external_ids:ovn-bridge-datapath-type=netdev")
	return err
}

// ControllerCtl runs ovn-appctl against this node's ovn-controller.
func (n *Node) ControllerCtl(args ...string) (string, error) {
	data, err := os.ReadFile(filepath.Join(n.Dir, "ovn-controller.pid"))
	if err != nil {
		return "", err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return "", err
	}
	ctl := filepath.Join(n.Dir, fmt.Sprintf("ovn-controller.%d.ctl", pid))
	return run("ovn-appctl", append([]string{"-t", ctl}, args...)...)
}

// Processes lists the node's processes in start order.
func (n *Node) Processes() []*Process {
	var ps []*Process
	for _, p := range []*Process{n.OVSDB, n.VSwitchd, n.Controller} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Stop stops ovn-controller, ovs-vswitchd and ovsdb-server in that order.
// Idempotent. The namespace stays (Delete removes it).
func (n *Node) Stop() {
	if n == nil {
		return
	}
	StopInReverse(n.Processes()...)
}

// Delete removes the node's namespace (and its veth) after stopping any
// process still in it.
func (n *Node) Delete() error {
	StopProcessesInNetNS([]string{n.NetNS}, StopTimeout)
	return DelNetNS(n.NetNS)
}
