package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Schemas installed by the Debian ovn-common package.
const (
	nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	sbSchema = "/usr/share/ovn/ovn-sb.ovsschema"
)

// ctlTimeout bounds one ovn-nbctl/ovn-sbctl run so a wedged database fails
// a test instead of hanging it.
const ctlTimeout = 2 * time.Minute

// OVN is a central OVN: the Northbound and Southbound ovsdb-servers on unix
// sockets and ovn-northd between them. Everything lives in Dir: databases,
// sockets (nb.sock, sb.sock), control sockets, pid files and logs.
type OVN struct {
	Dir       string
	NBAddress string // "unix:/abs/dir/nb.sock"
	SBAddress string // "unix:/abs/dir/sb.sock"
	// ReadyIn is how long StartOVN took until northd had synced NB to SB.
	ReadyIn time.Duration

	// NB and SB are the standalone servers; nil when clustered.
	NB, SB, Northd *Process
	// Members are the RAFT members of each clustered database, keyed by
	// "nb" and "sb"; empty when standalone.
	Members map[string][]*Member

	bins   map[string]string
	env    []string
	launch Launch
}

// OVNOptions tunes StartOVNWith.
type OVNOptions struct {
	Launch Launch
	// ClusterSize runs NB and SB each as an OVSDB RAFT cluster of that
	// many ovsdb-server members (3 rides out the loss of any one); 0 or 1
	// runs one standalone server each.
	ClusterSize int
}

// Member is one ovsdb-server of a clustered database. Clients reach it on
// a unix socket; the members talk RAFT over loopback TCP.
type Member struct {
	DB       string // "nb" or "sb"
	Index    int    // 1-based
	Socket   string // unix socket path
	RaftAddr string // tcp:127.0.0.1:PORT
	Process  *Process
}

// Name is the member's process and file stem, e.g. "nb2".
func (m *Member) Name() string { return fmt.Sprintf("%s%d", m.DB, m.Index) }

// StartOVN starts NB and SB ovsdb-servers and ovn-northd as children in dir
// and returns once northd has processed the initialized NB into the SB.
func StartOVN(dir string) (*OVN, error) { return StartOVNWith(dir, OVNOptions{}) }

// StartOVNWith is StartOVN with launch options (detached processes, pid
// recording).
func StartOVNWith(dir string, opts OVNOptions) (*OVN, error) {
	t0 := time.Now()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	for _, name := range []string{"ovsdb-tool", "ovsdb-server", "ovn-northd", "ovn-nbctl", "ovn-sbctl"} {
		if bins[name], err = DebianBin(name); err != nil {
			return nil, err
		}
	}
	for _, s := range []string{nbSchema, sbSchema} {
		if _, err := os.Stat(s); err != nil {
			return nil, fmt.Errorf("OVN schema %s missing: run \"make debs\"", s)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, s := range []string{"nb.sock", "sb.sock", "nb3.sock", "sb3.sock", "northd.ctl"} {
		if err := checkSocketPath(filepath.Join(dir, s)); err != nil {
			return nil, err
		}
	}
	o := &OVN{
		Dir:       dir,
		NBAddress: "unix:" + filepath.Join(dir, "nb.sock"),
		SBAddress: "unix:" + filepath.Join(dir, "sb.sock"),
		bins:      bins,
		// Without these the daemons and ctl tools fall back to
		// /var/run/openvswitch and /var/log/ovn for anything we did not name.
		env:    []string{"OVS_RUNDIR=" + dir, "OVS_LOGDIR=" + dir, "OVS_DBDIR=" + dir, "OVN_RUNDIR=" + dir, "OVN_LOGDIR=" + dir, "OVN_DBDIR=" + dir},
		launch: opts.Launch,
	}
	env := o.env

	ok := false
	defer func() {
		if !ok {
			o.Stop()
		}
	}()
	if opts.ClusterSize > 1 {
		if err := o.startClusters(opts.ClusterSize); err != nil {
			return nil, err
		}
	} else if err := o.startStandalone(); err != nil {
		return nil, err
	}
	if _, err := o.NBCtl("--no-wait", "init"); err != nil {
		return nil, err
	}
	if _, err := o.SBCtl("init"); err != nil {
		return nil, err
	}
	log := filepath.Join(dir, "ovn-northd.log")
	o.Northd, err = opts.Launch.start("ovn-northd", log, env, bins["ovn-northd"],
		"--no-chdir", "-vconsole:off", "-vfile:info",
		"--pidfile="+filepath.Join(dir, "northd.pid"),
		"--log-file="+log,
		"--unixctl="+filepath.Join(dir, "northd.ctl"),
		"--ovnnb-db="+o.NBAddress, "--ovnsb-db="+o.SBAddress)
	if err != nil {
		return nil, err
	}
	// Ready means northd is connected to both databases and translating:
	// `--wait=sb sync` returns once the SB reflects the current NB.
	syncDone := make(chan error, 1)
	go func() {
		_, err := o.NBCtl("--timeout=30", "--wait=sb", "sync")
		syncDone <- err
	}()
	var syncErr error
	if err := waitReady("ovn-northd", 35*time.Second, func() (bool, error) {
		select {
		case syncErr = <-syncDone:
			return true, nil
		default:
			return false, nil
		}
	}, o.Processes()...); err != nil {
		return nil, err
	}
	if syncErr != nil {
		return nil, fmt.Errorf("ovn-northd: NB to SB sync: %w; last %d lines of %s:\n%s", syncErr, logTailLines, o.Northd.LogPath(), o.Northd.LogTail(logTailLines))
	}
	o.ReadyIn = time.Since(t0)
	ok = true
	return o, nil
}

// startStandalone starts one ovsdb-server per database on nb.sock and
// sb.sock.
func (o *OVN) startStandalone() error {
	var err error
	for _, db := range []struct {
		name, schema string
		proc         **Process
	}{{"nb", nbSchema, &o.NB}, {"sb", sbSchema, &o.SB}} {
		if *db.proc, err = o.startDB(db.name, db.schema); err != nil {
			return err
		}
	}
	for _, db := range []struct {
		sock string
		p    *Process
	}{{filepath.Join(o.Dir, "nb.sock"), o.NB}, {filepath.Join(o.Dir, "sb.sock"), o.SB}} {
		if err := waitReady(db.p.Name(), 30*time.Second, func() (bool, error) { return unixDialable(db.sock) }, db.p); err != nil {
			return err
		}
	}
	return nil
}

// startDB starts the ovsdb-server of database name ("nb", "sb") on
// DIR/name.db, creating the file from schema if it does not exist.
func (o *OVN) startDB(name, schema string) (*Process, error) {
	file := filepath.Join(o.Dir, name+".db")
	if _, err := os.Stat(file); os.IsNotExist(err) {
		if out, err := exec.Command(o.bins["ovsdb-tool"], "create", file, schema).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ovsdb-tool create %s: %v: %s", file, err, bytes.TrimSpace(out))
		}
	}
	return o.startServer(name, file)
}

// startServer runs ovsdb-server on file, serving DIR/name.sock.
func (o *OVN) startServer(name, file string) (*Process, error) {
	proc := "ovsdb-server-" + name
	log := filepath.Join(o.Dir, proc+".log")
	// Not --detach: the process is ours to track. The daemon's own log
	// file and its stderr share one file; console logging is off so
	// lines are not written twice.
	return o.launch.start(proc, log, o.env, o.bins["ovsdb-server"], file,
		"--no-chdir", "-vconsole:off", "-vfile:info",
		"--pidfile="+filepath.Join(o.Dir, name+".pid"),
		"--log-file="+log,
		"--unixctl="+filepath.Join(o.Dir, name+".ctl"),
		"--remote=punix:"+filepath.Join(o.Dir, name+".sock"))
}

// dbNames maps the sandbox's short names to the OVSDB database names.
var dbNames = map[string]string{"nb": "OVN_Northbound", "sb": "OVN_Southbound"}

// startClusters creates and starts an n-member RAFT cluster for NB and for
// SB: member 1 creates the cluster, the others join it through member 1,
// and clients get every member's socket. It returns once every member has
// joined and the cluster has a leader.
func (o *OVN) startClusters(n int) error {
	o.Members = map[string][]*Member{}
	var addrs = map[string][]string{}
	for _, db := range []struct{ name, schema string }{{"nb", nbSchema}, {"sb", sbSchema}} {
		for i := 1; i <= n; i++ {
			port, err := FreePort()
			if err != nil {
				return err
			}
			m := &Member{DB: db.name, Index: i, RaftAddr: fmt.Sprintf("tcp:127.0.0.1:%d", port)}
			m.Socket = filepath.Join(o.Dir, m.Name()+".sock")
			file := filepath.Join(o.Dir, m.Name()+".db")
			if _, err := os.Stat(file); os.IsNotExist(err) {
				args := []string{"create-cluster", file, db.schema, m.RaftAddr}
				if i > 1 {
					args = []string{"join-cluster", file, dbNames[db.name], m.RaftAddr, o.Members[db.name][0].RaftAddr}
				}
				if out, err := exec.Command(o.bins["ovsdb-tool"], args...).CombinedOutput(); err != nil {
					return fmt.Errorf("ovsdb-tool %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
				}
			}
			if m.Process, err = o.startServer(m.Name(), file); err != nil {
				return err
			}
			o.Members[db.name] = append(o.Members[db.name], m)
			addrs[db.name] = append(addrs[db.name], "unix:"+m.Socket)
		}
	}
	o.NBAddress, o.SBAddress = strings.Join(addrs["nb"], ","), strings.Join(addrs["sb"], ",")
	for _, db := range []string{"nb", "sb"} {
		for _, m := range o.Members[db] {
			if err := waitReady(m.Process.Name(), 60*time.Second, func() (bool, error) {
				st, err := o.clusterStatus(m)
				return err == nil && strings.Contains(st, "Status: cluster member") && !strings.Contains(st, "Leader: unknown"), err
			}, m.Process); err != nil {
				return err
			}
		}
	}
	return nil
}

// clusterStatus is `cluster/status` of the member's database.
func (o *OVN) clusterStatus(m *Member) (string, error) {
	return clusterStatus(o.Dir, m.Name(), m.DB)
}

// clusterStatus asks member (e.g. "nb2") in dir, through its control
// socket, for `cluster/status` of its database db ("nb", "sb").
func clusterStatus(dir, member, db string) (string, error) {
	appctl, err := DebianBin("ovs-appctl")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, appctl, "-t", filepath.Join(dir, member+".ctl"), "cluster/status", dbNames[db]).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s cluster/status: %v: %s", member, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Leader returns the member of db ("nb", "sb") that leads its cluster.
func (o *OVN) Leader(db string) (*Member, error) {
	name, err := ClusterLeader(o.Dir, db, len(o.Members[db]))
	if err != nil {
		return nil, err
	}
	for _, m := range o.Members[db] {
		if m.Name() == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("leader %s is not a member", name)
}

// ClusterLeader returns the name ("nb2") of the member of db ("nb", "sb")
// that leads its cluster of size members in dir (an OVN's Dir), asking
// each member that answers.
func ClusterLeader(dir, db string, size int) (string, error) {
	for i := 1; i <= size; i++ {
		name := fmt.Sprintf("%s%d", db, i)
		if st, err := clusterStatus(dir, name, db); err == nil && strings.Contains(st, "Role: leader") {
			return name, nil
		}
	}
	return "", fmt.Errorf("no member of the %s cluster in %s leads", db, dir)
}

// KillMember SIGKILLs a member: a crash, its peers elect another leader.
func (o *OVN) KillMember(m *Member) { m.Process.Kill() }

// RestartMember starts a stopped member again on its database file; it
// catches up from the leader.
func (o *OVN) RestartMember(m *Member) error {
	p, err := o.startServer(m.Name(), filepath.Join(o.Dir, m.Name()+".db"))
	if err != nil {
		return err
	}
	m.Process = p
	return waitReady(p.Name(), 30*time.Second, func() (bool, error) {
		st, err := o.clusterStatus(m)
		return err == nil && strings.Contains(st, "Status: cluster member"), err
	}, p)
}

// StopNB stops the Northbound ovsdb-server: an outage for its clients.
func (o *OVN) StopNB() { o.NB.Stop() }

// StartNB starts the Northbound ovsdb-server again on its database file and
// socket, and returns once it accepts connections.
func (o *OVN) StartNB() error {
	p, err := o.startDB("nb", nbSchema)
	if err != nil {
		return err
	}
	o.NB = p
	sock := filepath.Join(o.Dir, "nb.sock")
	return waitReady(p.Name(), 30*time.Second, func() (bool, error) { return unixDialable(sock) }, p)
}

// ReplaceNB restores the Northbound from an empty backup under its
// clients: the server stops, its database file is replaced by a new,
// initialized, empty one, and it starts again on the same socket.
func (o *OVN) ReplaceNB() error {
	o.StopNB()
	file := filepath.Join(o.Dir, "nb.db")
	if err := os.Remove(file); err != nil {
		return err
	}
	if err := o.StartNB(); err != nil { // creates the file anew
		return err
	}
	_, err := o.NBCtl("--no-wait", "init")
	return err
}

func unixDialable(path string) (bool, error) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false, err
	}
	c.Close()
	return true, nil
}

// Processes lists the running processes in start order.
func (o *OVN) Processes() []*Process {
	var ps []*Process
	for _, p := range []*Process{o.NB, o.SB} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	for _, db := range []string{"nb", "sb"} {
		for _, m := range o.Members[db] {
			ps = append(ps, m.Process)
		}
	}
	if o.Northd != nil {
		ps = append(ps, o.Northd)
	}
	return ps
}

// Stop stops northd, then both databases, and waits for them. Idempotent.
func (o *OVN) Stop() {
	if o == nil {
		return
	}
	o.Northd.Stop()
	var dbs []*Process
	for _, p := range o.Processes() {
		if p != o.Northd {
			dbs = append(dbs, p)
		}
	}
	StopAll(dbs...)
}

// NBCtl runs `ovn-nbctl --db=<NB> args...` and returns its trimmed stdout.
func (o *OVN) NBCtl(args ...string) (string, error) {
	return o.ctl("ovn-nbctl", o.NBAddress, args...)
}

// SBCtl runs `ovn-sbctl --db=<SB> args...` and returns its trimmed stdout.
func (o *OVN) SBCtl(args ...string) (string, error) {
	return o.ctl("ovn-sbctl", o.SBAddress, args...)
}

func (o *OVN) ctl(tool, db string, args ...string) (string, error) {
	bin, err := DebianBin(tool)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--db=" + db}, args...)...)
	cmd.Env = append(childEnv(), "OVS_RUNDIR="+o.Dir, "OVN_RUNDIR="+o.Dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
