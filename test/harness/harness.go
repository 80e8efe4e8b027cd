// Package harness holds the test-only helpers that go with pkg/sandbox, the
// sandbox's runtime library that the tests start their components through.
// They take a testing.TB, so they live here rather than in pkg/sandbox, which
// is linked into the shipped ovnkube-sandbox binary and must not import
// "testing".
package harness

import (
	"os"
	"testing"
)

// ShortTempDir makes a directory directly under /tmp, short enough for unix
// socket paths (see sandbox.MaxSocketPath), and removes it when the test ends
// (after the test's other cleanups, which stop the processes using it).
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "ovnk-")
	if err != nil {
		t.Fatalf("short temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
