package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
const StopTimeout = 5 * time.Second

// Process is one tracked component process. It has two forms that share
// Stop, Exited and Wait:
//
//   - a child started by Start: it runs in its own process group (so a Ctrl-C
//     at the terminal reaches only us, and we decide the teardown order), its
//     stdout and stderr go to a log file, and it is reaped by a goroutine;
//   - a process adopted from a ProcessRecord (AdoptProcess), e.g. by
//     `ovnkube-sandbox down` for processes a detached `up` left running. It is
//     identified by pid plus its kernel start time, so a recycled pid is never
//     signalled, and its exit is observed by polling /proc.
//
// Set Detached (and optionally Env, WorkDir) before Start; the zero value
// starts an attached child.
type Process struct {
	// Detached makes the child outlive the caller: a new session instead of
	// only a new process group, and no parent-death signal. Attached children
	// get SIGKILL when the starting process dies, so a crashed test or an
	// interrupted sandbox leaves nothing behind.
	Detached bool
	// Env is appended to the caller's environment (minus ETCD_* variables,
	// which etcd would parse as flags).
	Env []string
	// WorkDir is the child's working directory; empty means the caller's.
	WorkDir string
	// NetNS, if set, is the path of a network namespace (e.g.
	// /run/netns/NAME) the child starts in. Only the network namespace
	// changes: the child shares our mount namespace, so what it does with
	// `ip netns` is visible to everyone.
	NetNS string

	name       string
	logPath    string
	args       []string
	pid        int
	startTicks uint64
	child      bool
	group      bool

	exited    chan struct{}
	waitErr   error
	watchOnce sync.Once
	stopOnce  sync.Once
}

// ProcessRecord identifies a running process across programs: what
// AdoptProcess needs to find it again and to be sure it is the same process.
type ProcessRecord struct {
	Name string `json:"name"`
	Pid  int    `json:"pid"`
	// StartTicks is field 22 of /proc/<pid>/stat (start time in clock ticks
	// since boot); pid and start time together never repeat.
	StartTicks uint64 `json:"startTicks"`
	Cmdline    string `json:"cmdline"`
	Log        string `json:"log,omitempty"`
	// Group is set when the process leads its own process group (every
	// process the harness starts does), so stopping it signals the group.
	Group bool `json:"group,omitempty"`
	// Args, Env (what was added to the environment), NetNS and Detached
	// let another program start the same component again (Restart).
	Args     []string `json:"args,omitempty"`
	Env      []string `json:"env,omitempty"`
	NetNS    string   `json:"netns,omitempty"`
	Detached bool     `json:"detached,omitempty"`
}

// StartProcess starts an attached child; see Process.Start.
func StartProcess(name, logFile string, args ...string) (*Process, error) {
	p := &Process{}
	if err := p.Start(name, logFile, args...); err != nil {
		return nil, err
	}
	return p, nil
}

// Start runs args[0] with args[1:] as the component called name, appending
// its stdout and stderr to logFile. It returns once the program has been
// executed; readiness is the caller's business.
func (p *Process) Start(name, logFile string, args ...string) error {
	if p.exited != nil {
		return fmt.Errorf("%s: process already started", name)
	}
	if len(args) == 0 {
		return fmt.Errorf("%s: no command", name)
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", name, err)
	}
	defer log.Close() // the child holds its own copy of the descriptor
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = p.WorkDir
	cmd.Env = append(childEnv(), p.Env...)
	// Files, not pipes: nothing in this process has to stay alive to drain
	// the output, which is what lets a detached child outlive us.
	cmd.Stdin = nil
	cmd.Stdout = log
	cmd.Stderr = log
	if p.Detached {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	fmt.Fprintf(log, "=== %s harness: starting %s: %s\n", time.Now().Format(time.RFC3339Nano), name, strings.Join(args, " "))
	if err := startCmd(cmd, p.NetNS); err != nil {
		return fmt.Errorf("%s: start %s: %w", name, args[0], err)
	}
	p.name, p.logPath, p.args, p.child, p.group = name, logFile, args, true, true
	p.pid = cmd.Process.Pid
	if st, err := readProcStat(p.pid); err == nil {
		p.startTicks = st.startTicks
	}
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return nil
}

// AdoptProcess returns a Process for a recorded process that is not our
// child. If the pid is gone or now belongs to another process, the returned
// Process has already exited and Stop does nothing.
func AdoptProcess(r ProcessRecord) *Process {
	if len(r.Args) == 0 {
		r.Args = strings.Fields(r.Cmdline)
	}
	p := &Process{
		name:       r.Name,
		logPath:    r.Log,
		args:       r.Args,
		Env:        r.Env,
		NetNS:      r.NetNS,
		Detached:   r.Detached,
		pid:        r.Pid,
		startTicks: r.StartTicks,
		group:      r.Group,
		exited:     make(chan struct{}),
	}
	if !p.alive() {
		close(p.exited)
		p.watchOnce.Do(func() {})
	}
	return p
}

// childEnv is our environment without ETCD_* variables: etcd reads every
// one of them as a flag, and a stray one changes or breaks it.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

// Name is the component name given to Start.
func (p *Process) Name() string { return p.name }

// Pid is the process id.
func (p *Process) Pid() int { return p.pid }

// LogPath is the file that receives the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Record describes the process for AdoptProcess in another program.
func (p *Process) Record() ProcessRecord {
	return ProcessRecord{Name: p.name, Pid: p.pid, StartTicks: p.startTicks, Cmdline: strings.Join(p.args, " "), Log: p.logPath, Group: p.group,
		Args: p.args, Env: p.Env, NetNS: p.NetNS, Detached: p.Detached}
}

// Restart stops the recorded process (if it still runs) and starts the same
// command again, with the same log, environment, namespace and mode. The
// record must carry Args (every record written by this version does).
func Restart(r ProcessRecord) (*Process, error) {
	if len(r.Args) == 0 {
		return nil, fmt.Errorf("%s: the record has no command line to restart", r.Name)
	}
	AdoptProcess(r).Stop()
	p := &Process{Detached: r.Detached, Env: r.Env, NetNS: r.NetNS}
	if err := p.Start(r.Name, r.Log, r.Args...); err != nil {
		return nil, err
	}
	return p, nil
}

// SelfRecord describes the calling process, so a program can list itself
// in a PidFile beside its children (it is signalled alone, never its group:
// a shell may have put it in a group with other commands of a pipeline).
func SelfRecord(name string) (ProcessRecord, error) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		return ProcessRecord{}, err
	}
	return ProcessRecord{Name: name, Pid: os.Getpid(), StartTicks: st.startTicks, Cmdline: strings.Join(os.Args, " ")}, nil
}

// Exited is closed once the process has exited (for a child: and been reaped).
func (p *Process) Exited() <-chan struct{} {
	if !p.child {
		p.watchOnce.Do(func() { go p.poll() })
	}
	return p.exited
}

// Wait blocks until the process exits and returns its exit error (always nil
// for an adopted process, whose status belongs to its parent).
func (p *Process) Wait() error {
	<-p.Exited()
	return p.waitErr
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.Exited():
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM to the process group, waits up to StopTimeout, then
// sends SIGKILL, and returns once the process is gone. Safe to call more than
// once and from several goroutines.
func (p *Process) Stop() {
	if p == nil || p.exited == nil {
		return
	}
	p.stopOnce.Do(func() {
		if !p.Running() {
			return
		}
		p.signal(syscall.SIGTERM)
		select {
		case <-p.Exited():
			return
		case <-time.After(StopTimeout):
		}
		p.signal(syscall.SIGKILL)
	})
	select {
	case <-p.Exited():
	case <-time.After(StopTimeout):
		// Only a process stuck in the kernel survives SIGKILL this long;
		// waiting forever would hang the caller's teardown.
	}
}

// Kill sends SIGKILL (a crash, not a shutdown) and returns once the
// process is gone.
func (p *Process) Kill() {
	if p == nil || p.exited == nil {
		return
	}
	p.signal(syscall.SIGKILL)
	<-p.Exited()
}

// signal delivers sig to the process's group if it leads one we made, else
// to the process alone.
func (p *Process) signal(sig syscall.Signal) {
	if !p.Running() {
		return
	}
	if !p.child && !p.alive() {
		return // never signal a pid that now belongs to someone else
	}
	if st, err := readProcStat(p.pid); err == nil && p.group && st.pgrp == p.pid {
		if syscall.Kill(-p.pid, sig) == nil {
			return
		}
	}
	_ = syscall.Kill(p.pid, sig)
}

// alive reports whether the recorded pid still runs the recorded process.
// A zombie counts as gone: it has exited and only waits to be reaped by
// its parent (init reaps orphans only every second or two here).
func (p *Process) alive() bool {
	st, err := readProcStat(p.pid)
	if err != nil {
		return false
	}
	if p.startTicks != 0 && st.startTicks != p.startTicks {
		return false
	}
	return st.state != 'Z' && st.state != 'X'
}

func (p *Process) poll() {
	for p.alive() {
		time.Sleep(50 * time.Millisecond)
	}
	close(p.exited)
}

// exitDescription says how the process ended, for error messages.
func (p *Process) exitDescription() string {
	if p.waitErr != nil {
		return fmt.Sprintf("%s (pid %d) exited: %v", p.name, p.pid, p.waitErr)
	}
	return fmt.Sprintf("%s (pid %d) exited", p.name, p.pid)
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string { return logTail(p.logPath, n) }

func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type procStat struct {
	state      byte
	ppid       int
	pgrp       int
	startTicks uint64
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state), so field k is f[k-3].
	if len(f) < 20 {
		return procStat{}, errors.New("short stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, err
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp, startTicks: ticks}, nil
}

// StopAll stops the processes concurrently (SIGTERM to all, SIGKILL to those
// still running after StopTimeout), returning once all are gone.
func StopAll(procs ...*Process) {
	var wg sync.WaitGroup
	for _, p := range procs {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
}

// StopInReverse stops the processes one after another, last started first,
// so every component's clients are gone before it is (a kube-apiserver
// whose etcd vanished first takes the full SIGTERM grace period to exit;
// in order it exits in about a second).
func StopInReverse(procs ...*Process) {
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
}

// RSSBytes is the process's resident set size (VmRSS in /proc/<pid>/status).
func RSSBytes(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
