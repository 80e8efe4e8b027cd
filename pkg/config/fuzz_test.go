package config

import (
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

// The fuzz targets below feed arbitrary flag values and --config file
// contents to the parsers of the operator's input. Seeds are the valid and
// invalid values of the table tests next to each parser. `make fuzz` runs
// each target; `go test` runs the seeds only.

// FuzzParseClusterSubnet: an accepted cluster subnet satisfies the rules
// Validate applies, and both String and MarshalText parse back to it.
func FuzzParseClusterSubnet(f *testing.F) {
	for _, s := range []string{
		"10.244.0.0/16/24", " 10.128.0.0/14/23 ", "fd00:10:244::/48/64", "10.0.0.0/8/29", "fd00::/8/126", "0.0.0.0/0/1",
		"10.244.0.0/16", "10.244.0.0", "", "10.244.0.0/33/24", "10.244.1.0/16/24", "10.244.0.0/16/16",
		"10.244.0.0/16/8", "10.0.0.0/8/33", "10.0.0.0/8/32", "10.0.0.0/8/31", "10.0.0.0/8/30", "fd00::/48/128",
		"fd00::/48/127", "fd00::/48/129", "10.244.0.0/16/x", "10.244.0.0/16/+24", "10.244.0.0/16/024",
		"10.244.0.0//24", "::ffff:10.0.0.0/104/120", "banana/16/24",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseClusterSubnet(s)
		if err != nil {
			if cs != (ClusterSubnet{}) {
				t.Fatalf("ParseClusterSubnet(%q) = %+v with error %v", s, cs, err)
			}
			return
		}
		if err := checkClusterSubnet(cs); err != nil {
			t.Fatalf("ParseClusterSubnet(%q) = %+v, which Validate refuses: %v", s, cs, err)
		}
		again, err := ParseClusterSubnet(cs.String())
		if err != nil || again != cs {
			t.Fatalf("ParseClusterSubnet(%q) = %+v; String() = %q parses back to %+v, %v", s, cs, cs.String(), again, err)
		}
		text, err := cs.MarshalText()
		if err != nil {
			t.Fatalf("ParseClusterSubnet(%q) = %+v; MarshalText: %v", s, cs, err)
		}
		var back ClusterSubnet
		if err := back.UnmarshalText(text); err != nil || back != cs {
			t.Fatalf("ParseClusterSubnet(%q) = %+v; MarshalText = %q unmarshals to %+v, %v", s, cs, text, back, err)
		}
	})
}

// FuzzParsePrefix: an accepted CIDR is masked and not IPv4-mapped, as
// ParsePrefix documents, and its String parses back to it.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{
		"10.96.0.0/16", " fd00:10:96::/112", "0.0.0.0/0", "::/0", "10.0.0.1/32",
		"10.96.1.0/16", "10.96.0.0", "10.96.0.0/33", "x/16", "10.96.0.0/16/24", "::ffff:10.0.0.0/104",
		"fe80::%eth0/64", "", "/16",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			if p != (netip.Prefix{}) {
				t.Fatalf("ParsePrefix(%q) = %v with error %v", s, p, err)
			}
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParsePrefix(%q) = %v: not a masked, unmapped, zone-less CIDR", s, p)
		}
		if err := checkPrefix(p); err != nil {
			t.Fatalf("ParsePrefix(%q) = %v, which Validate refuses: %v", s, p, err)
		}
		again, err := ParsePrefix(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePrefix(%q) = %v; String() parses back to %v, %v", s, p, again, err)
		}
	})
}

// FuzzParsePortRange: an accepted range has 1 <= First <= Last <= 65535,
// contains both ends, and its String parses back to it.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{
		"30000-32767", "80-80", "1-65535", " 30000-32767 ",
		"30000", "32767-30000", "0-100", "30000-70000", "a-b", "-", "-1-5", "1--5", "+1-+2", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			if r != (PortRange{}) {
				t.Fatalf("ParsePortRange(%q) = %v with error %v", s, r, err)
			}
			return
		}
		if r.First < 1 || r.First > r.Last || r.Last > 65535 {
			t.Fatalf("ParsePortRange(%q) = %+v: want 1 <= FIRST <= LAST <= 65535", s, r)
		}
		if !r.Contains(int32(r.First)) || !r.Contains(int32(r.Last)) || r.Contains(int32(r.First-1)) || r.Contains(int32(r.Last+1)) {
			t.Fatalf("ParsePortRange(%q) = %+v: Contains disagrees with the bounds", s, r)
		}
		again, err := ParsePortRange(r.String())
		if err != nil || again != r {
			t.Fatalf("ParsePortRange(%q) = %+v; String() = %q parses back to %+v, %v", s, r, r.String(), again, err)
		}
	})
}

// FuzzConfigFile feeds arbitrary --config file contents through Complete,
// the way `ovnkube node` reads them (master and node flags registered, none
// set on the command line). When Complete accepts a file, the resulting
// settings, written back as a --config file (JSON, each value in its
// flag's own notation), are read back to the same Config and NodeConfig:
// nothing the file set is lost or altered on the way.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"cluster-subnets: [\"10.244.0.0/16/24\", \"fd00:10:244::/48/64\"]\nservice-cidrs: [\"10.96.0.0/16\", \"fd00:10:96::/112\"]\nkube-api-qps: 50\nnode-name: worker-1\n",
		"kube-api-burst: 10\nmetrics-address: 0.0.0.0:9000\n",
		`{"cluster-subnets": "fd00:10:244::/48/64", "service-cidrs": "fd00:10:96::/112", "kube-api-burst": 800}`,
		"nb-address:\n  - ssl:10.0.0.1:6641\n  - ssl:10.0.0.2:6641\nnb-client-cert: /pki/nb.crt\nnb-client-key: /pki/nb.key\nnb-client-cacert: /pki/ca.crt\nsb-address: tcp:10.0.0.1:6642,tcp:10.0.0.2:6642\n",
		"metrics-address: 0\n",
		"# nothing\n",
		"cluster-subnets: fd00:10:244::/48/64\nservice-cidrs: fd00:10:96::/112\n",
		"encap-ip: 172.18.0.2\nmtu: 1400\ncni-socket: /run/ovnkube/cni.sock\npod-annotation-timeout: 10s\ngateway-interface: eth1\ngateway-nexthop: 172.18.0.1,fd18::1\n",
		"nodeport-range: 30000-32767\nacl-logging-rate-limit: 100\nlb-groups: \"false\"\n",
		"cluster-subnet: 10.244.0.0/16/24\n",
		"cluster-subnets: [10.244.0.0/33/24]\n",
		"kube-api-qps: lots\n",
		"kube-api-qps: -3\n",
		"node-name: true\n",
		"node-name: [a, b]\n",
		"service-cidrs: [10.96.0.0/16, 5]\n",
		"service-cidrs:\n",
		"config: other.yaml\n",
		"node-name: a\nnode-name: b\n",
		"- a\n- b\n",
		"join-subnets: 100.64.0.0/16,fd98::/64\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ovnkube.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, n, err := fuzzLoadFile(path)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Complete accepted %q but the Config is invalid: %v", data, err)
		}

		dumped := fuzzDumpFile(t, c, n)
		path2 := filepath.Join(dir, "dumped.json")
		if err := os.WriteFile(path2, dumped, 0o600); err != nil {
			t.Fatal(err)
		}
		c2, n2, err := fuzzLoadFile(path2)
		if err != nil {
			t.Fatalf("file %q was accepted; its settings written back as %s are refused: %v", data, dumped, err)
		}
		c2.ConfigFile = c.ConfigFile
		if a, b := fuzzNormalize(*c), fuzzNormalize(*c2); !reflect.DeepEqual(a, b) {
			t.Fatalf("file %q gave\n%+v\nits settings written back as %s give\n%+v", data, a, dumped, b)
		}
		if a, b := fuzzNormalizeNode(*n), fuzzNormalizeNode(*n2); !reflect.DeepEqual(a, b) {
			t.Fatalf("file %q gave node settings\n%+v\nits settings written back as %s give\n%+v", data, a, dumped, b)
		}
	})
}

// fuzzLoadFile runs Complete on the --config file at path with every
// master and node flag registered and none set, as `ovnkube node` does.
func fuzzLoadFile(path string) (*Config, *NodeConfig, error) {
	c, n := Defaults(), NodeDefaults()
	fs := pflag.NewFlagSet("fuzz", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs, c)
	AddNodeFlags(fs, n)
	c.ConfigFile = path
	return c, n, Complete(fs, c)
}

// fuzzDumpFile writes every setting of c and n as a JSON --config file
// (JSON is valid YAML): list options as lists, every other value as the
// string its flag's String method prints.
func fuzzDumpFile(t *testing.T, c *Config, n *NodeConfig) []byte {
	doc := map[string]any{}
	for _, o := range options {
		if o.name == flagConfig {
			continue
		}
		v := o.bind(c)
		if sv, ok := v.(pflag.SliceValue); ok {
			doc[o.name] = sv.GetSlice()
		} else {
			doc[o.name] = v.String()
		}
	}
	nfs := pflag.NewFlagSet("dump", pflag.ContinueOnError)
	AddNodeFlags(nfs, n)
	nfs.VisitAll(func(fl *pflag.Flag) { doc[fl.Name] = fl.Value.String() })
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fuzzNormalize makes empty lists nil: "no entries" is one setting however
// the list was built.
func fuzzNormalize(c Config) Config {
	if len(c.ClusterSubnets) == 0 {
		c.ClusterSubnets = nil
	}
	for _, l := range []*[]netip.Prefix{&c.ServiceCIDRs, &c.JoinSubnets, &c.TransitSubnets, &c.MasqueradeSubnets} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return c
}

func fuzzNormalizeNode(n NodeConfig) NodeConfig {
	if len(n.GatewayNextHops) == 0 {
		n.GatewayNextHops = nil
	}
	return n
}
