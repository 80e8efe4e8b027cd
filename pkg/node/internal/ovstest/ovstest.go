// Package ovstest runs a private Open_vSwitch (ovsdb-server and a
// userspace-datapath ovs-vswitchd) inside a network namespace of its own,
// for tests of the node agent against the real daemons. It needs root and
// the Debian openvswitch-switch package ("make debs").
package ovstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// OVS is one running private OVS.
type OVS struct {
	Dir     string // state, sockets, logs; short, under /tmp
	Address string // unix:<Dir>/db.sock, for --ovs-address
	NetNS   string // the namespace ovs-vswitchd runs in (the "node")
	NS      netns.NsHandle
}

// NewNetNS creates network namespace ovnk-t-<prefix>-<random> and deletes
// it when the test ends. It returns the name and its /var/run/netns path.
func NewNetNS(t testing.TB, prefix string) (name, path string) {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	name = "ovnk-t-" + prefix + "-" + hex.EncodeToString(b[:])
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Logf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name, "/var/run/netns/" + name
}

// Start runs ovsdb-server and ovs-vswitchd (netdev datapath) inside a new
// namespace and stops them when the test ends.
func Start(t testing.TB) *OVS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network namespaces, OVS)")
	}
	bins := map[string]string{}
	for _, b := range []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ip"} {
		p, err := exec.LookPath(b)
		if err != nil {
			for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
				if _, serr := os.Stat(filepath.Join(d, b)); serr == nil {
					p, err = filepath.Join(d, b), nil
					break
				}
			}
		}
		if err != nil {
			t.Fatalf("%s not found: run \"make debs\"", b)
		}
		bins[b] = p
	}
	const schema = "/usr/share/openvswitch/vswitch.ovsschema"
	if _, err := os.Stat(schema); err != nil {
		t.Fatalf("%s missing: run \"make debs\"", schema)
	}
	// Socket paths must stay well under 108 bytes: a short /tmp dir.
	dir, err := os.MkdirTemp("/tmp", "ovnkt-")
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := NewNetNS(t, "node")
	o := &OVS{Dir: dir, Address: "unix:" + dir + "/db.sock", NetNS: ns}
	env := append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)

	run(t, bins["ovsdb-tool"], "create", dir+"/conf.db", schema)
	db := o.daemon(t, env, bins["ovsdb-server"], "--no-chdir", "--pidfile="+dir+"/ovsdb-server.pid",
		"--log-file="+dir+"/ovsdb-server.log", "--unixctl="+dir+"/ovsdb-server.ctl",
		"--remote=punix:"+dir+"/db.sock", dir+"/conf.db")
	waitFile(t, dir+"/db.sock", db)
	o.Vsctl(t, "--no-wait", "init")
	sw := o.daemon(t, env, bins["ovs-vswitchd"], "--no-chdir", "--pidfile="+dir+"/ovs-vswitchd.pid",
		"--log-file="+dir+"/ovs-vswitchd.log", "--unixctl="+dir+"/ovs-vswitchd.ctl", o.Address)
	waitFile(t, dir+"/ovs-vswitchd.ctl", sw)
	t.Cleanup(func() {
		for _, c := range []*exec.Cmd{sw, db} {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		if t.Failed() {
			for _, l := range []string{"ovs-vswitchd.log", "ovsdb-server.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, l))
				t.Logf("--- %s (last 2000 bytes)\n%s", l, tail(b, 2000))
			}
		}
		_ = os.RemoveAll(dir)
	})
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatalf("open netns %s: %v", ns, err)
	}
	t.Cleanup(func() { h.Close() })
	o.NS = h
	return o
}

// daemon starts bin inside the namespace as a child of the test (killed by
// pid at cleanup; never detached, so nothing outlives the test).
func (o *OVS) daemon(t testing.TB, env []string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	c := exec.Command("ip", append([]string{"netns", "exec", o.NetNS, bin}, args...)...)
	c.Env = env
	if err := c.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return c
}

// Vsctl runs ovs-vsctl against this OVS and returns its trimmed output.
func (o *OVS) Vsctl(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ovs-vsctl", append([]string{"--db=" + o.Address, "--timeout=10"}, args...)...)
}

// Exec runs a command inside namespace ns and returns its output.
func Exec(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func waitFile(t testing.TB, path string, c *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within 10s (%s)", path, fmt.Sprint(c.Args))
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
