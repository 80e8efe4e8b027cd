package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// restartDir holds one marker file per component being restarted, so a
// foreground `up` does not take the stop for a crash.
const restartDir = "restarting"

func newRestartCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "restart COMPONENT",
		Short: "Stop one sandbox process and start it again with the same command line",
		Long: `Stop one recorded sandbox process (SIGTERM, SIGKILL after 5 s) and start it again
with the same command line, environment, network namespace and log file.
COMPONENT is a name from the pid file, e.g. ovnkube-master, ovnkube-node-node-1,
pod-runner-node-2, ovn-controller-node-1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestart(dir, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultSandboxDir(), "the sandbox directory given to up")
	return cmd
}

// defaultSandboxDir is $OVNKUBE_SANDBOX_DIR (set by the env file) or
// _output/sandbox.
func defaultSandboxDir() string {
	if d := os.Getenv("OVNKUBE_SANDBOX_DIR"); d != "" {
		return d
	}
	return "_output/sandbox"
}

func runRestart(dir, name string, out io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	c, err := loadCluster(abs)
	if err != nil {
		return err
	}
	pf := c.pidFile()
	recs, err := pf.Records()
	if err != nil {
		return err
	}
	var rec *sandbox.ProcessRecord
	var names []string
	for i := range recs {
		if recs[i].Name == name {
			rec = &recs[i] // the last record of that name is the current one
		}
		names = append(names, recs[i].Name)
	}
	if rec == nil {
		return fmt.Errorf("no process %q in %s; recorded: %s", name, pf.Path, strings.Join(names, ", "))
	}
	marker := filepath.Join(abs, restartDir, name)
	if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		return err
	}
	defer os.Remove(marker)
	t0 := time.Now()
	// The restarted process must outlive this command.
	rec.Detached = true
	p, err := sandbox.Restart(*rec)
	if err != nil {
		return err
	}
	if err := pf.Add(p); err != nil {
		p.Stop()
		return err
	}
	fmt.Fprintf(out, "ovnkube-sandbox: restarted %s (pid %d -> %d) in %s\n", name, rec.Pid, p.Pid(), round(time.Since(t0)))
	return nil
}

// restartedByOther reports whether `restart` is replacing the named process.
func restartedByOther(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, restartDir, name))
	return !errors.Is(err, os.ErrNotExist)
}
