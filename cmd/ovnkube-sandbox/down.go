package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

func newDownCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop every sandbox process and remove the sandbox directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			return teardown(abs, false, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "_output/sandbox", "the sandbox directory given to up")
	return cmd
}

// teardown stops every process recorded in DIR/pids, last started first
// (SIGTERM, SIGKILL after sandbox.StopTimeout), waits until they are gone,
// and removes the socket dir and DIR. With keepFiles it leaves both (and the
// logs in them) for a look at what went wrong; the next `up` or `down`
// removes them. No sandbox in DIR is not an error. It is the one teardown:
// `down`, a foreground `up` on a signal, and a failed start-up all use it.
func teardown(dir string, keepFiles bool, out io.Writer) error {
	c, err := loadCluster(dir)
	if errors.Is(err, errNoSandbox) {
		fmt.Fprintf(out, "ovnkube-sandbox: no sandbox in %s\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	t0 := time.Now()
	// Tells a foreground `up` that the processes about to die are being
	// stopped on purpose.
	_ = os.WriteFile(c.path(stoppingFile), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644)
	procs, err := c.pidFile().Running()
	if err != nil {
		return fmt.Errorf("read %s: %w", c.path(pidsFile), err)
	}
	var stop []*sandbox.Process
	for _, p := range procs {
		if p.Pid() != os.Getpid() { // a foreground `up` tearing itself down
			stop = append(stop, p)
		}
	}
	sandbox.StopInReverse(stop...)
	if left, _ := c.pidFile().Running(); len(left) > 0 {
		for _, p := range left {
			if p.Pid() != os.Getpid() {
				return fmt.Errorf("%s (pid %d) did not exit; sandbox state kept in %s", p.Name(), p.Pid(), dir)
			}
		}
	}
	// Pod processes live on in their namespaces after the pod runner is
	// gone; they and the namespaces go now, whatever happens to the files.
	if err := removeNetNS(c, out); err != nil {
		return fmt.Errorf("remove network namespaces: %w", err)
	}
	// Anything else still naming the sandbox's directories (a daemon's
	// forked child, a command started by exec) goes too: down returns only
	// once nothing of the sandbox runs.
	if n := sandbox.StopPids(sandbox.PidsReferencing(c.Dir, c.SocketDir), sandbox.StopTimeout); n > 0 {
		fmt.Fprintf(out, "ovnkube-sandbox: stopped %d unrecorded processes of the sandbox\n", n)
	}
	if keepFiles {
		// Without live processes the state is stale: `up` replaces it.
		fmt.Fprintf(out, "ovnkube-sandbox: stopped %d processes in %.1f s; logs kept in %s (removed by the next up or down)\n", len(stop), time.Since(t0).Seconds(), dir)
		return nil
	}
	if err := removeState(c); err != nil {
		return err
	}
	fmt.Fprintf(out, "ovnkube-sandbox: stopped %d processes in %.1f s and removed %s\n", len(stop), time.Since(t0).Seconds(), dir)
	return nil
}

// stoppedByOther reports whether another program (`down`) is tearing the
// sandbox in dir down or already has.
func stoppedByOther(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, stoppingFile))
	if errors.Is(err, os.ErrNotExist) {
		_, err := os.Stat(filepath.Join(dir, pidsFile))
		return errors.Is(err, os.ErrNotExist)
	}
	return err == nil && strings.TrimSpace(string(data)) != strconv.Itoa(os.Getpid())
}

// removeState deletes the sandbox dir and its short socket dir.
func removeState(c *cluster) error {
	if err := removeNetNS(c, io.Discard); err != nil {
		return err
	}
	if c.SocketDir != "" && c.SocketDir != c.Dir && isOurShortDir(c.SocketDir) {
		if err := os.RemoveAll(c.SocketDir); err != nil {
			return err
		}
	}
	// The pid file goes first: a foreground `up` whose processes die takes
	// its absence as "stopped by down", not as a crash.
	if err := os.Remove(c.path(pidsFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(c.Dir)
}
