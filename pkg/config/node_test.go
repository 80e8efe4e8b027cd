package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestNodeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // substring; "" means valid
	}{
		{name: "defaults", args: nil},
		{name: "all set", args: []string{"--ovs-address=unix:/tmp/n1/db.sock", "--encap-ip=172.31.255.1", "--datapath-type=netdev",
			"--mtu=1400", "--cni-socket=/tmp/n1/cni.sock", "--cni-bin-dir=/tmp/n1/bin", "--cni-conf-dir=/tmp/n1/net.d",
			"--cni-plugin=/usr/local/bin/ovn-k8s-cni-overlay", "--pod-annotation-timeout=5s", "--ovs-installed-timeout=2s"}},
		{name: "ipv6 encap", args: []string{"--encap-ip=fd00::1"}},
		{name: "tcp ovs", args: []string{"--ovs-address=tcp:127.0.0.1:6640"}},
		{name: "bad ovs scheme", args: []string{"--ovs-address=punix:/x"}, wantErr: `--ovs-address "punix:/x"`},
		{name: "ssl ovs", args: []string{"--ovs-address=ssl:127.0.0.1:6640"}, wantErr: "ssl: is not supported"},
		{name: "two ovs", args: []string{"--ovs-address=unix:/a,unix:/b"}, wantErr: "exactly one endpoint"},
		{name: "loopback encap", args: []string{"--encap-ip=127.0.0.1"}, wantErr: "--encap-ip"},
		{name: "datapath", args: []string{"--datapath-type=dpdk"}, wantErr: `--datapath-type "dpdk": want system or netdev`},
		{name: "mtu small", args: []string{"--mtu=576"}, wantErr: "--mtu 576"},
		{name: "relative socket", args: []string{"--cni-socket=cni.sock"}, wantErr: "--cni-socket"},
		{name: "long socket", args: []string{"--cni-socket=/" + strings.Repeat("x", 120)}, wantErr: "at most 107"},
		{name: "relative bin dir", args: []string{"--cni-bin-dir=bin"}, wantErr: "--cni-bin-dir"},
		{name: "relative conf dir", args: []string{"--cni-conf-dir=net.d"}, wantErr: "--cni-conf-dir"},
		{name: "relative plugin", args: []string{"--cni-plugin=ovn-k8s-cni-overlay"}, wantErr: "--cni-plugin"},
		{name: "zero annotation timeout", args: []string{"--pod-annotation-timeout=0s"}, wantErr: "--pod-annotation-timeout"},
		{name: "negative installed timeout", args: []string{"--ovs-installed-timeout=-1s"}, wantErr: "--ovs-installed-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NodeDefaults()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			AddNodeFlags(fs, n)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("parse: %v", err)
			}
			err := n.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("Validate accepted %v, want error containing %q", tc.args, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("Validate error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestNodeFlagsParse(t *testing.T) {
	n := NodeDefaults()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddNodeFlags(fs, n)
	if err := fs.Parse([]string{"--encap-ip=10.0.0.5", "--pod-annotation-timeout=2s", "--mtu=1400"}); err != nil {
		t.Fatal(err)
	}
	if n.EncapIP != netip.MustParseAddr("10.0.0.5") || n.PodAnnotationTimeout != 2*time.Second || n.MTU != 1400 {
		t.Fatalf("parsed %+v", n)
	}
	if n.OVSAddress != DefaultOVSAddress || n.CNISocket != DefaultCNISocket || n.DatapathType != "system" {
		t.Fatalf("defaults lost: %+v", n)
	}
	if err := fs.Parse([]string{"--encap-ip=not-an-ip"}); err == nil {
		t.Fatal("--encap-ip=not-an-ip accepted")
	}
	for _, f := range []string{flagOVSAddress, flagEncapIP, flagDatapathType, flagMTU, flagCNISocket, flagCNIBinDir,
		flagCNIConfDir, flagCNIPlugin, flagPodAnnotationTimeout, flagOVSInstalledTimeout} {
		if fl := fs.Lookup(f); fl == nil || fl.Usage == "" {
			t.Errorf("flag --%s missing or without help", f)
		}
	}
}

// TestNodeSettingsFromConfigFile: one --config file serves master and node:
// the node reads its own keys from it (flags still win), the master skips
// them, and a key no command knows is still an error.
func TestNodeSettingsFromConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ovnkube.yaml")
	if err := os.WriteFile(path, []byte(`
cluster-subnets: ["10.244.0.0/16/24"]
service-cidrs: 10.96.0.0/16
cni-socket: /run/ovnk/cni.sock
mtu: 1400
datapath-type: netdev
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Node: file values land in NodeConfig, an explicit flag beats the file.
	cfg, ncfg := Defaults(), NodeDefaults()
	fs := pflag.NewFlagSet("node", pflag.ContinueOnError)
	AddFlags(fs, cfg)
	AddNodeFlags(fs, ncfg)
	if err := fs.Parse([]string{"--config", path, "--datapath-type", "system"}); err != nil {
		t.Fatal(err)
	}
	if err := Complete(fs, cfg); err != nil {
		t.Fatal(err)
	}
	if ncfg.CNISocket != "/run/ovnk/cni.sock" || ncfg.MTU != 1400 || ncfg.DatapathType != "system" {
		t.Errorf("node settings = socket %q mtu %d datapath %q", ncfg.CNISocket, ncfg.MTU, ncfg.DatapathType)
	}
	// Master: the same file works, node keys are skipped.
	mcfg := Defaults()
	mfs := pflag.NewFlagSet("master", pflag.ContinueOnError)
	AddFlags(mfs, mcfg)
	if err := mfs.Parse([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := Complete(mfs, mcfg); err != nil {
		t.Errorf("master with a shared file: %v", err)
	}
	// A typo is still caught.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("cni-sockett: /x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bcfg := Defaults()
	bfs := pflag.NewFlagSet("node", pflag.ContinueOnError)
	AddFlags(bfs, bcfg)
	AddNodeFlags(bfs, NodeDefaults())
	if err := bfs.Parse([]string{"--config", bad}); err != nil {
		t.Fatal(err)
	}
	if err := Complete(bfs, bcfg); err == nil || !strings.Contains(err.Error(), "cni-sockett") {
		t.Errorf("unknown key: err = %v", err)
	}
}
