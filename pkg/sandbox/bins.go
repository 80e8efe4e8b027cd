// Package sandbox is the runtime library of the sandbox: it starts the real
// components of an ovnkube cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, OVN NB/SB ovsdb-server,
// ovn-northd, ovnkube master, and nodes in network namespaces) as tracked
// local processes on 127.0.0.1 and unix sockets. The ovnkube-sandbox binary
// uses it, and the tests and the benchmark use it as their harness, so there
// is one way to run the components.
//
// It is linked into a shipped binary, so it must not import "testing":
// helpers that take a testing.TB live in test/harness.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BinDirEnv names the environment variable that overrides BinDir.
const BinDirEnv = "OVNKUBE_BIN_DIR"

// BinDir is where the binaries we build live: $OVNKUBE_BIN_DIR, or
// <repo root>/_output/bin where the repo root is the nearest directory above
// the working directory that holds go.mod. `go test` runs in the package
// directory, so this finds the checkout's _output/bin from any test.
func BinDir() string {
	if d := os.Getenv(BinDirEnv); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	if root, err := RepoRoot(); err == nil {
		return filepath.Join(root, "_output", "bin")
	}
	return filepath.Join("_output", "bin")
}

// RepoRoot walks up from the working directory to the first directory that
// contains go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// makeTargets says which make target provides a binary, so a missing binary
// tells the user the one command that fixes it.
var makeTargets = map[string]string{
	"kube-apiserver":          "tools",
	"kube-controller-manager": "tools",
	"kube-scheduler":          "tools",
	"kubectl":                 "tools",
	"ovnkube":                 "build",
	"ovnkube-sandbox":         "build",
	"ovn-k8s-cni-overlay":     "build",
}

// BuiltBin returns the path of a binary we build into binDir (BinDir() when
// empty), or an error naming the make target that builds it.
func BuiltBin(binDir, name string) (string, error) {
	if binDir == "" {
		binDir = BinDir()
	}
	p := filepath.Join(binDir, name)
	st, err := os.Stat(p)
	if err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p, nil
	}
	target := makeTargets[name]
	if target == "" {
		target = "build"
	}
	return "", fmt.Errorf("%s not found in %s: run \"make %s\"", name, binDir, target)
}

// DebianBin returns the path of a binary that a Debian package installs
// (ovsdb-server, ovn-northd, etcd, ...), or an error naming "make debs".
func DebianBin(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found in PATH: run \"make debs\"", name)
	}
	return p, nil
}
