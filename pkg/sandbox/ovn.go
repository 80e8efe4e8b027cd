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

	NB, SB, Northd *Process

	bins   map[string]string
	env    []string
	launch Launch
}

// OVNOptions tunes StartOVNWith.
type OVNOptions struct {
	Launch Launch
}

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
	for _, s := range []string{"nb.sock", "sb.sock", "northd.ctl"} {
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
	for _, db := range []struct {
		name, schema string
		proc         **Process
	}{{"nb", nbSchema, &o.NB}, {"sb", sbSchema, &o.SB}} {
		if *db.proc, err = o.startDB(db.name, db.schema); err != nil {
			return nil, err
		}
	}
	for _, db := range []struct {
		sock string
		p    *Process
	}{{filepath.Join(dir, "nb.sock"), o.NB}, {filepath.Join(dir, "sb.sock"), o.SB}} {
		if err := waitReady(db.p.Name(), 30*time.Second, func() (bool, error) { return unixDialable(db.sock) }, db.p); err != nil {
			return nil, err
		}
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
	}, o.Northd, o.NB, o.SB); err != nil {
		return nil, err
	}
	if syncErr != nil {
		return nil, fmt.Errorf("ovn-northd: NB to SB sync: %w; last %d lines of %s:\n%s", syncErr, logTailLines, o.Northd.LogPath(), o.Northd.LogTail(logTailLines))
	}
	o.ReadyIn = time.Since(t0)
	ok = true
	return o, nil
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
	for _, p := range []*Process{o.NB, o.SB, o.Northd} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Stop stops northd, then both databases, and waits for them. Idempotent.
func (o *OVN) Stop() {
	if o == nil {
		return
	}
	o.Northd.Stop()
	StopAll(o.NB, o.SB)
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
