// The pod runner's on-disk state: one state.json per pod UID, so a restarted
// runner adopts its pods.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

func (r *podRunner) statePath(uid types.UID) string {
	return filepath.Join(r.o.stateDir, string(uid), "state.json")
}

func (r *podRunner) saveState(st *podState) error {
	r.mu.Lock()
	data, err := json.MarshalIndent(st, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return err
	}
	path := r.statePath(st.UID)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func (r *podRunner) loadState(uid types.UID) (*podState, error) {
	data, err := os.ReadFile(r.statePath(uid))
	if err != nil {
		return nil, err
	}
	st := &podState{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	return st, nil
}

// podNetNS finds the network namespace of the pod with this UID in a
// sandbox (used by exec, from the root namespace).
func podNetNS(c *cluster, uid types.UID) (string, error) {
	names, err := sandbox.ListNetNS(c.netnsPrefix())
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "-pod-"+string(uid)) {
			return n, nil
		}
	}
	return "", fmt.Errorf("no network namespace for pod UID %s (is the pod Running on a sandbox node?)", uid)
}
