// Package integration runs `ovnkube master` as a process against the real
// ovsdb-server, ovn-northd, etcd and kube-apiserver, and checks what a user
// would check: rows through ovn-nbctl, annotations and Events through the
// API, metrics through /metrics.
package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// kube is one API server shared by the package's tests; each test deletes the
// Nodes it finds before it starts.
var apiServer *sandbox.Kube

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("/tmp", "ovnk-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	apiServer, err = sandbox.StartKube(dir, sandbox.KubeOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start kube-apiserver:", err)
		return 1
	}
	defer apiServer.Stop()
	return m.Run()
}
