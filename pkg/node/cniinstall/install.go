package cniinstall

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/klog/v2"
)

// DefaultPluginPath is ovn-k8s-cni-overlay beside the running executable,
// where the image and `make build` put it.
func DefaultPluginPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the running executable (to locate %s; set --cni-plugin): %w", PluginType, err)
	}
	return filepath.Join(filepath.Dir(exe), PluginType), nil
}

// Install copies plugin into binDir and writes the conflist into confDir.
// Each file is replaced atomically (temporary file + rename) and only when
// its content differs, so a runtime never executes or reads a half-written
// file and an unchanged restart writes nothing.
func Install(plugin, binDir, confDir, serverSocket string) error {
	bin, err := os.ReadFile(plugin)
	if err != nil {
		return fmt.Errorf("read CNI plugin binary (--cni-plugin) %s: %w", plugin, err)
	}
	if err := writeIfChanged(filepath.Join(binDir, PluginType), bin, 0o755); err != nil {
		return fmt.Errorf("install CNI plugin into --cni-bin-dir: %w", err)
	}
	if err := writeIfChanged(filepath.Join(confDir, ConfListName), ConfList(serverSocket), 0o644); err != nil {
		return fmt.Errorf("write CNI config into --cni-conf-dir: %w", err)
	}
	return nil
}

func writeIfChanged(path string, data []byte, mode os.FileMode) error {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm() == mode {
			return nil
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	klog.InfoS("Installed file", "path", path)
	return nil
}
