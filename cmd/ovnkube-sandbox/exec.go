package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

func newExecCommand() *cobra.Command {
	var dir, node string
	cmd := &cobra.Command{
		Use:   "exec [NAMESPACE/]POD -- CMD [ARGS...]\n  ovnkube-sandbox exec --node NODE -- CMD [ARGS...]\n  ovnkube-sandbox exec external -- CMD [ARGS...]",
		Short: "Run a command inside a pod's, a node's or the external host's network namespace",
		Long: `Run CMD inside the network namespace of a sandbox pod (found through its UID), of
a sandbox node with --node, or of the external host ("external": the machine
outside the cluster that owns the nodes' default gateway, 172.31.0.254 and on
dual-stack fd31::fe; a pod named external is default/external). Only the network
namespace changes: CMD sees this machine's files and runs as the calling user.
stdin, stdout, stderr and the exit code pass through. NAMESPACE defaults to
"default".`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			c, err := loadCluster(abs)
			if err != nil {
				return fmt.Errorf("no sandbox in %s (%v): pass --dir or source <sandbox dir>/env", abs, err)
			}
			var netns string
			var argv, env []string
			if node == "" && args[0] == "external" {
				if len(args) < 2 {
					return fmt.Errorf("usage: exec external -- CMD [ARGS...]")
				}
				return execInNetNS(sandbox.NetNSPath(c.externalNetNS()), args[1:], nil)
			}
			if node != "" {
				n := c.node(node)
				if n == nil {
					return fmt.Errorf("no node %q in the sandbox", node)
				}
				// The node's OVS and OVN run directories, so ovs-vsctl,
				// ovs-ofctl and ovs-appctl reach that node's daemons.
				netns, argv, env = n.NetNS, args, sandbox.NodeEnv(n.Dir)
			} else {
				if len(args) < 2 {
					return fmt.Errorf("usage: exec [NAMESPACE/]POD -- CMD [ARGS...]")
				}
				netns, err = resolvePodNetNS(c, args[0])
				if err != nil {
					return err
				}
				argv = args[1:]
			}
			return execInNetNS(sandbox.NetNSPath(netns), argv, env)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultSandboxDir(), "the sandbox directory given to up ($OVNKUBE_SANDBOX_DIR)")
	cmd.Flags().StringVar(&node, "node", "", "run in this node's namespace instead of a pod's")
	return cmd
}

func resolvePodNetNS(c *cluster, ref string) (string, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok {
		ns, name = "default", ref
	}
	cs, err := adminClient(c.Kubeconfig)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pod.Spec.HostNetwork {
		return "", fmt.Errorf("pod %s/%s is hostNetwork: use --node %s", ns, name, pod.Spec.NodeName)
	}
	return podNetNS(c, pod.UID)
}

// execInNetNS replaces this process with argv running in the network
// namespace at path.
func execInNetNS(path string, argv, env []string) error {
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	// setns applies to this thread only; execve keeps the calling thread's
	// namespaces, so both must happen on the same locked thread.
	runtime.LockOSThread()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter %s: %w", path, err)
	}
	return syscall.Exec(bin, argv, append(os.Environ(), env...))
}
