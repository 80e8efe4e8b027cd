package sandbox

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// MasterReadyTimeout bounds how long StartMaster waits for /readyz.
const MasterReadyTimeout = 60 * time.Second

// Master is a running `ovnkube master`. Its log is Dir/ovnkube-master.log.
type Master struct {
	Dir        string
	MetricsURL string // http://127.0.0.1:PORT/metrics
	HealthURL  string // .../healthz
	ReadyURL   string // .../readyz
	ReadyIn    time.Duration
	Process    *Process
}

// MasterOptions are the master's command-line inputs.
type MasterOptions struct {
	Kubeconfig     string
	NBAddress      string
	SBAddress      string
	ClusterSubnets string // e.g. 10.244.0.0/16/24
	ServiceCIDRs   string // e.g. 10.96.0.0/16
	NodePortRange  string // e.g. 30000-32767; ovnkube's default when empty
	ExtraArgs      []string
	Launch         Launch
}

// StartMaster runs <bin dir>/ovnkube master and returns once its /readyz is
// 200: informers and the NB cache are synced and the first full reconcile
// is committed.
func StartMaster(dir string, opts MasterOptions) (*Master, error) {
	t0 := time.Now()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	bin, err := BuiltBin(opts.Launch.BinDir, "ovnkube")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	m := &Master{Dir: dir}
	err = retryOnPortRace(func() (*Process, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		m.MetricsURL, m.HealthURL, m.ReadyURL = base+"/metrics", base+"/healthz", base+"/readyz"
		args := []string{bin, "master",
			"--kubeconfig", opts.Kubeconfig,
			"--nb-address", opts.NBAddress,
			"--sb-address", opts.SBAddress,
			"--cluster-subnets", opts.ClusterSubnets,
			"--service-cidrs", opts.ServiceCIDRs,
			"--metrics-address", fmt.Sprintf("127.0.0.1:%d", port),
		}
		if opts.NodePortRange != "" {
			args = append(args, "--nodeport-range", opts.NodePortRange)
		}
		args = append(args, opts.ExtraArgs...)
		p, err := opts.Launch.start("ovnkube-master", filepath.Join(dir, "ovnkube-master.log"), nil, args...)
		if err != nil {
			return nil, err
		}
		m.Process = p
		hc := &http.Client{Timeout: 2 * time.Second}
		if err := waitReady("ovnkube master", MasterReadyTimeout, func() (bool, error) { return httpOK(hc, m.ReadyURL, "") }, p); err != nil {
			p.Stop()
			return p, err
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	m.ReadyIn = time.Since(t0)
	return m, nil
}

// Stop stops the master and waits for it. Idempotent.
func (m *Master) Stop() {
	if m != nil {
		m.Process.Stop()
	}
}

// Pid is the master's process id.
func (m *Master) Pid() int { return m.Process.Pid() }

// RSSBytes is the master's current resident set size.
func (m *Master) RSSBytes() (int64, error) { return RSSBytes(m.Process.Pid()) }

// Processes lists the master's process.
func (m *Master) Processes() []*Process { return []*Process{m.Process} }
