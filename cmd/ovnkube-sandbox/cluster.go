package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// Files and directories of a sandbox, relative to its --dir. Everything a
// sandbox makes lives under its dir, except the socket dir when the dir's
// path is too long for unix sockets.
const (
	stateFile      = "sandbox.json" // the cluster description; also marks the dir as ours
	pidsFile       = "pids"         // every process, one JSON record a line (sandbox.PidFile)
	envFile        = "env"          // sourceable bash: KUBECONFIG, OVN_NB_DB, ...
	stoppingFile   = "stopping"     // written by teardown before it stops anything
	kubeSubdir     = "kube"         // etcd data, certs, kubeconfig, control-plane logs
	ovnSubdir      = "ovn"          // NB/SB databases, sockets, northd (a symlink when sockets live in /tmp)
	shortDirPrefix = "ovnk-sandbox-"
	// socketBudget is the longest socket file name we put in a socket dir
	// ("/node-12/ovn-controller.4194304.ctl").
	socketBudget = 40
)

// cluster is the one description of a sandbox: what `up` starts, what
// `down` and (later) `exec` find. It is saved as DIR/sandbox.json.
type cluster struct {
	Dir            string   `json:"dir"`
	BinDir         string   `json:"binDir"`
	SocketDir      string   `json:"socketDir"` // == Dir, or a short dir under /tmp
	ClusterSubnets string   `json:"clusterSubnets"`
	ServiceCIDRs   string   `json:"serviceCIDRs"`
	NodePortRange  string   `json:"nodePortRange"`
	MasterArgs     []string `json:"masterArgs,omitempty"`
	NodeArgs       []string `json:"nodeArgs,omitempty"`
	Detached       bool     `json:"detached"`
	// Prometheus says whether `up` runs Prometheus (--prometheus).
	Prometheus bool `json:"prometheus"`

	// Filled in as components come up.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	APIServer  string `json:"apiServer,omitempty"`
	NBAddress  string `json:"nbAddress,omitempty"`
	SBAddress  string `json:"sbAddress,omitempty"`
	MetricsURL string `json:"metricsURL,omitempty"`
	// PrometheusURL is the sandbox Prometheus, http://127.0.0.1:PORT.
	PrometheusURL string `json:"prometheusURL,omitempty"`

	// ID makes every network namespace name of this sandbox unique
	// ("ovnk-<ID>-..."), so tests and a user's sandbox never collide.
	ID string `json:"id"`
	// NodeCount is how many nodes `up` starts.
	NodeCount int `json:"nodeCount"`
	// DBClusterSize is the number of RAFT members of NB and of SB (1:
	// standalone servers).
	DBClusterSize int `json:"dbClusterSize,omitempty"`
	// Nodes lists the node namespaces as they are created.
	Nodes []nodeInfo `json:"nodes,omitempty"`
}

// nodeInfo describes one sandbox node: a network namespace with OVS,
// ovn-controller, `ovnkube node` and the pod runner.
type nodeInfo struct {
	Name       string `json:"name"`       // Kubernetes Node name
	NetNS      string `json:"netns"`      // network namespace name
	Dir        string `json:"dir"`        // OVS db, sockets, CNI dirs, pod state, logs
	UnderlayIP string `json:"underlayIP"` // on br-ex, e.g. 172.31.0.1/24
	OVSAddress string `json:"ovsAddress"`
	CNISocket  string `json:"cniSocket"`
	CNIBinDir  string `json:"cniBinDir"`
	CNIConfDir string `json:"cniConfDir"`
	MetricsURL string `json:"metricsURL"` // inside the node namespace
	// MetricsRelayURL reaches the agent's /metrics from the root
	// namespace, through its metrics relay (empty without an agent).
	MetricsRelayURL string `json:"metricsRelayURL,omitempty"`
}

// netnsPrefix starts the name of every network namespace of the sandbox.
func (c *cluster) netnsPrefix() string { return "ovnk-" + c.ID + "-" }

// fabricNetNS is the namespace of the underlay bridge.
func (c *cluster) fabricNetNS() string { return c.netnsPrefix() + "fabric" }

// externalNetNS is the namespace of the external host: no cluster node, it
// owns the nodes' default gateway addresses (what "the internet" is here).
func (c *cluster) externalNetNS() string { return c.netnsPrefix() + "external" }

// nodeName is the Kubernetes name of node i (1-based).
func nodeName(i int) string { return fmt.Sprintf("node-%d", i) }

// podNetNSPrefix starts the names of the pod namespaces of a node; the pod
// UID follows.
func (c *cluster) podNetNSPrefix(node string) string { return c.netnsPrefix() + node + "-pod-" }

func (c *cluster) node(name string) *nodeInfo {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i]
		}
	}
	return nil
}

func (c *cluster) path(name string) string { return filepath.Join(c.Dir, name) }
func (c *cluster) kubeDir() string         { return c.path(kubeSubdir) }
func (c *cluster) ovnDir() string          { return filepath.Join(c.SocketDir, ovnSubdir) }
func (c *cluster) pidFile() *sandbox.PidFile {
	return &sandbox.PidFile{Path: c.path(pidsFile)}
}

func (c *cluster) save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := c.path(stateFile + ".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.path(stateFile))
}

// errNoSandbox means DIR holds no sandbox state.
var errNoSandbox = errors.New("no sandbox")

// loadCluster reads DIR/sandbox.json.
func loadCluster(dir string) (*cluster, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoSandbox
	}
	if err != nil {
		return nil, err
	}
	c := &cluster{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	c.Dir = dir // the dir may have been moved or reached by another path
	return c, nil
}

// chooseSocketDir returns dir itself when socket paths under it stay short
// enough, else a new short dir under /tmp (removed again by `down`).
func chooseSocketDir(dir string) (string, error) {
	if len(dir)+socketBudget < sandbox.MaxSocketPath {
		return dir, nil
	}
	return os.MkdirTemp("/tmp", shortDirPrefix)
}

// isOurShortDir guards the removal of a recorded socket dir: only a dir
// that chooseSocketDir could have made is ever removed.
func isOurShortDir(path string) bool {
	return filepath.Dir(path) == "/tmp" && strings.HasPrefix(filepath.Base(path), shortDirPrefix)
}

// writeEnv writes the sourceable environment file.
func (c *cluster) writeEnv() error {
	var b strings.Builder
	fmt.Fprintf(&b, "# ovnkube sandbox in %s: source this file.\n", c.Dir)
	fmt.Fprintf(&b, "export KUBECONFIG=%s\n", shellQuote(c.Kubeconfig))
	fmt.Fprintf(&b, "export OVN_NB_DB=%s\n", shellQuote(c.NBAddress))
	fmt.Fprintf(&b, "export OVN_SB_DB=%s\n", shellQuote(c.SBAddress))
	fmt.Fprintf(&b, "export OVNKUBE_MASTER_METRICS=%s\n", shellQuote(c.MetricsURL))
	fmt.Fprintf(&b, "export OVNKUBE_SANDBOX_DIR=%s\n", shellQuote(c.Dir))
	if c.PrometheusURL != "" {
		fmt.Fprintf(&b, "export OVNKUBE_PROMETHEUS=%s\n", shellQuote(c.PrometheusURL))
	}
	// Prepend the bin dir once, however often the file is sourced.
	fmt.Fprintf(&b, "case \":$PATH:\" in *:%s:*) ;; *) export PATH=%s:\"$PATH\" ;; esac\n", shellQuote(c.BinDir), shellQuote(c.BinDir))
	return os.WriteFile(c.path(envFile), []byte(b.String()), 0o644)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
