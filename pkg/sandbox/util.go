package sandbox

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// MaxSocketPath bounds absolute unix socket paths: the kernel allows 107
// bytes and Go's dialer fails on long ones, so the harness keeps under 100.
const MaxSocketPath = 100

// Launch says how a Start* function starts its processes. The zero value
// starts attached children using BinDir().
type Launch struct {
	// BinDir holds the binaries we build (kube-*, ovnkube); empty means BinDir().
	BinDir string
	// Detached starts processes that outlive the caller (see Process.Detached).
	Detached bool
	// OnStart, if set, is called right after each process starts and before
	// it is waited on, e.g. to record it in a PidFile.
	OnStart func(*Process) error
}

// start starts one component process per the launch settings.
func (l Launch) start(name, logFile string, env []string, args ...string) (*Process, error) {
	return l.startIn("", name, logFile, env, args...)
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
// Another process can take it before our component binds it, so the
// Start* functions retry on "address already in use".
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkSocketPath fails early and clearly on a socket path too long to use.
func checkSocketPath(path string) error {
	if len(path) >= MaxSocketPath {
		return fmt.Errorf("unix socket path %s is %d characters, must be under %d: use a shorter directory (e.g. os.MkdirTemp(\"/tmp\", \"ovnk-\"))", path, len(path), MaxSocketPath)
	}
	return nil
}

// waitReady polls ready every interval until it returns true, failing early
// if any of procs exits and after timeout otherwise. Errors carry the log
// tail of the process that exited, or of procs[0] on timeout, and the last
// error ready returned.
func waitReady(what string, timeout time.Duration, ready func() (bool, error), procs ...*Process) error {
	deadline := time.Now().Add(timeout)
	interval := 20 * time.Millisecond
	var lastErr error
	for {
		ok, err := ready()
		if ok {
			return nil
		}
		lastErr = err
		for _, p := range procs {
			if !p.Running() {
				return fmt.Errorf("%s: %s before it was ready; last %d lines of %s:\n%s",
					what, p.exitDescription(), logTailLines, p.LogPath(), p.LogTail(logTailLines))
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s: not ready after %s", what, timeout)
			if lastErr != nil {
				msg += fmt.Sprintf(" (last error: %v)", lastErr)
			}
			if len(procs) > 0 {
				msg += fmt.Sprintf("; last %d lines of %s:\n%s", logTailLines, procs[0].LogPath(), procs[0].LogTail(logTailLines))
			}
			return fmt.Errorf("%s", msg)
		}
		time.Sleep(interval)
		if interval < 200*time.Millisecond {
			interval += interval / 2
		}
	}
}

const logTailLines = 20

// portInUse reports whether a process's start failure was a lost race for
// its listening port, which is worth a retry on fresh ports. Go programs
// log "address already in use", socat "Address already in use".
func portInUse(p *Process) bool {
	return strings.Contains(strings.ToLower(p.LogTail(50)), "address already in use")
}
