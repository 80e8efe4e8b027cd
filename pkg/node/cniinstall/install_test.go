package cniinstall

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestConfList(t *testing.T) {
	got := ConfList("/tmp/n1/cni.sock")
	want := `{
  "cniVersion": "1.0.0",
  "name": "ovn-kubernetes",
  "plugins": [
    {
      "type": "ovn-k8s-cni-overlay",
      "serverSocket": "/tmp/n1/cni.sock"
    }
  ]
}
`
	if string(got) != want {
		t.Fatalf("ConfList =\n%s\nwant\n%s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
}

func TestInstallAtomicAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "src-plugin")
	if err := os.WriteFile(plugin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, conf := filepath.Join(dir, "bin"), filepath.Join(dir, "net.d")
	if err := Install(plugin, bin, conf, "/run/x.sock"); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(bin, PluginType)
	st1, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if st1.Mode().Perm() != 0o755 {
		t.Fatalf("plugin mode %v", st1.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(conf, ConfListName)); string(b) != string(ConfList("/run/x.sock")) {
		t.Fatalf("conflist content %q", b)
	}
	// Unchanged content: no rewrite (same inode, same mtime). The files
	// are dated an hour back, so a rewrite would show in the mtime whatever
	// the clock's resolution.
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, f := range []string{dst, filepath.Join(conf, ConfListName)} {
		if err := os.Chtimes(f, past, past); err != nil {
			t.Fatal(err)
		}
	}
	if st1, err = os.Stat(dst); err != nil {
		t.Fatal(err)
	}
	if err := Install(plugin, bin, conf, "/run/x.sock"); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(dst)
	if !os.SameFile(st1, st2) || !st2.ModTime().Equal(st1.ModTime()) {
		t.Fatal("unchanged plugin was rewritten")
	}
	// Changed content: replaced by rename (new inode), no temp files left.
	if err := os.WriteFile(plugin, []byte("#!/bin/false\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Install(plugin, bin, conf, "/run/y.sock"); err != nil {
		t.Fatal(err)
	}
	st3, _ := os.Stat(dst)
	if os.SameFile(st1, st3) {
		t.Fatal("changed plugin not replaced atomically (same inode)")
	}
	if b, _ := os.ReadFile(dst); string(b) != "#!/bin/false\n" {
		t.Fatalf("plugin content %q", b)
	}
	for _, d := range []string{bin, conf} {
		entries, _ := os.ReadDir(d)
		if len(entries) != 1 {
			t.Fatalf("%s has %d entries, want 1 (temp file left?)", d, len(entries))
		}
	}
	if err := Install(filepath.Join(dir, "missing"), bin, conf, "/x"); err == nil {
		t.Fatal("missing plugin accepted")
	}
}
