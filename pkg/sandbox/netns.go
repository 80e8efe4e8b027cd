package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NetNSDir is where `ip netns` keeps its named network namespaces.
const NetNSDir = "/run/netns"

// NetNSPath is the bind-mount path of the named network namespace.
func NetNSPath(name string) string { return filepath.Join(NetNSDir, name) }

// AddNetNS creates the named network namespace (`ip netns add`) and brings
// its loopback up. Creating a namespace that exists is an error.
func AddNetNS(name string) error {
	if _, err := IP("netns", "add", name); err != nil {
		return err
	}
	if _, err := IP("-n", name, "link", "set", "lo", "up"); err != nil {
		_ = DelNetNS(name)
		return err
	}
	return nil
}

// DelNetNS deletes the named network namespace; a missing one is no error.
// Interfaces in it (veth ends included) go with it.
func DelNetNS(name string) error {
	if _, err := os.Stat(NetNSPath(name)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	_, err := IP("netns", "delete", name)
	if err != nil {
		if _, serr := os.Stat(NetNSPath(name)); errors.Is(serr, fs.ErrNotExist) {
			return nil
		}
	}
	return err
}

// ListNetNS returns the named network namespaces whose names start with
// prefix, sorted.
func ListNetNS(prefix string) ([]string, error) {
	entries, err := os.ReadDir(NetNSDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// IP runs `ip args...` and returns its trimmed output.
func IP(args ...string) (string, error) {
	return run("ip", args...)
}

// run runs a command with a bounded time and returns its trimmed stdout, or
// an error with its stderr.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// InNetNS runs fn on an OS thread that has entered the network namespace at
// path, then moves the thread back. Sockets fn creates belong to that
// namespace for their whole life; a child started by fn starts in it.
func InNetNS(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread is stuck in the wrong namespace. It must not run
			// other goroutines, and it must not exit either: children
			// started on it with a parent-death signal would be killed.
			errc <- ferr
			select {}
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// startCmd starts cmd, inside the network namespace at netns if set.
func startCmd(cmd *exec.Cmd, netns string) error {
	if netns == "" {
		return cmd.Start()
	}
	return InNetNS(netns, cmd.Start)
}

// DialInNetNS connects to addr from inside the network namespace at path
// (e.g. a listener on that namespace's own 127.0.0.1).
func DialInNetNS(ctx context.Context, path, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := InNetNS(path, func() error {
		var d net.Dialer
		var err error
		// The socket is made here, on the namespaced thread; the rest of
		// the connect may continue elsewhere.
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClientInNetNS is an HTTP client whose connections are made inside the
// network namespace at path.
func HTTPClientInNetNS(path string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return DialInNetNS(ctx, path, network, addr)
		},
	}}
}

// netnsID identifies a network namespace: device and inode of its nsfs file.
type netnsID struct{ dev, ino uint64 }

func statNetNS(path string) (netnsID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return netnsID{}, err
	}
	return netnsID{uint64(st.Dev), st.Ino}, nil
}

// PidsInNetNS lists the processes (other than ours) whose network namespace
// is one of the named ones.
func PidsInNetNS(names []string) []int {
	want := map[netnsID]bool{}
	for _, n := range names {
		if id, err := statNetNS(NetNSPath(n)); err == nil {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if id, err := statNetNS(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && want[id] {
			pids = append(pids, pid)
		}
	}
	return pids
}

// StopProcessesInNetNS stops every process living in one of the named
// network namespaces (SIGTERM, SIGKILL after timeout), identified by pid and
// start time so a recycled pid is never signalled. It returns how many it
// found. This is how the sandbox ends pod processes, which by design outlive
// the pod runner that started them.
func StopProcessesInNetNS(names []string, timeout time.Duration) int {
	return StopPids(PidsInNetNS(names), timeout)
}

// StopPids stops the processes (SIGTERM, SIGKILL after timeout), each
// identified by pid and start time so a recycled pid is never signalled,
// and returns how many there were once they are gone.
func StopPids(pids []int, timeout time.Duration) int {
	var procs []*Process
	for _, pid := range pids {
		st, err := readProcStat(pid)
		if err != nil {
			continue
		}
		procs = append(procs, AdoptProcess(ProcessRecord{Name: fmt.Sprintf("pid %d", pid), Pid: pid, StartTicks: st.startTicks}))
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.signal(syscall.SIGTERM)
			select {
			case <-p.Exited():
				return
			case <-time.After(timeout):
			}
			p.signal(syscall.SIGKILL)
			select {
			case <-p.Exited():
			case <-time.After(timeout):
			}
		}()
	}
	wg.Wait()
	return len(procs)
}

// PidsReferencing lists the processes (ourselves and our ancestors aside)
// whose command line names one of dirs: what a sandbox started there,
// recorded or not (a daemon's forked child, a command run by exec). Not
// the environment: a user's own tools pointed at the sandbox (a kubectl
// with its KUBECONFIG) are not the sandbox's to stop.
func PidsReferencing(dirs ...string) []int {
	skip := map[int]bool{}
	for pid := os.Getpid(); pid > 1; {
		skip[pid] = true
		st, err := readProcStat(pid)
		if err != nil {
			break
		}
		pid = st.ppid
	}
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || skip[pid] {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		for _, d := range dirs {
			if d != "" && bytes.Contains(b, []byte(d)) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
