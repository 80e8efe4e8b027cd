package integration

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// TestBadConfigExits: every invalid configuration makes `ovnkube master` exit
// non-zero before connecting anywhere, naming the flag and the value.
func TestBadConfigExits(t *testing.T) {
	bin, err := sandbox.BuiltBin("", "ovnkube")
	if err != nil {
		t.Fatal(err)
	}
	// Flags the case does not set take these valid values.
	base := [][2]string{{"--cluster-subnets", "10.244.0.0/16/24"}, {"--service-cidrs", "10.96.0.0/16"}}
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error
	}{
		{"bad cidr", []string{"--cluster-subnets", "10.244.0.0/33/24"}, []string{"--cluster-subnets", "10.244.0.0/33/24"}},
		{"not a cidr", []string{"--service-cidrs", "banana"}, []string{"--service-cidrs", "banana"}},
		{"host bits set", []string{"--cluster-subnets", "10.244.1.0/16/24"}, []string{"--cluster-subnets", "10.244.1.0/16/24"}},
		{"host prefix not longer", []string{"--cluster-subnets", "10.244.0.0/16/16"}, []string{"--cluster-subnets", "10.244.0.0/16/16"}},
		{"no host prefix", []string{"--cluster-subnets", "10.244.0.0/16"}, []string{"--cluster-subnets", "10.244.0.0/16"}},
		{"host prefix /32", []string{"--cluster-subnets", "10.244.0.0/16/32"}, []string{"--cluster-subnets", "10.244.0.0/16/32", "no pod address"}},
		{"host prefix /31", []string{"--cluster-subnets", "10.244.0.0/16/31"}, []string{"--cluster-subnets", "10.244.0.0/16/31", "no pod address"}},
		{"host prefix /128", []string{"--cluster-subnets", "fd00:10:244::/48/128", "--service-cidrs", "fd00:10:96::/112"}, []string{"--cluster-subnets", "fd00:10:244::/48/128", "no pod address"}},
		{"host prefix /127", []string{"--cluster-subnets", "fd00:10:244::/48/127", "--service-cidrs", "fd00:10:96::/112"}, []string{"--cluster-subnets", "fd00:10:244::/48/127", "no pod address"}},
		{"cluster overlaps service", []string{"--service-cidrs", "10.244.128.0/20"}, []string{"--cluster-subnets", "--service-cidrs", "10.244.128.0/20"}},
		{"cluster overlaps join", []string{"--cluster-subnets", "100.64.0.0/16/24", "--service-cidrs", "10.96.0.0/16"}, []string{"--join-subnets", "100.64.0.0/16"}},
		{"join overlaps transit", []string{"--join-subnets", "100.88.0.0/16"}, []string{"--join-subnets", "--transit-subnets", "100.88.0.0/16"}},
		{"service overlaps masquerade", []string{"--service-cidrs", "169.254.0.0/16"}, []string{"--service-cidrs", "--masquerade-subnets", "169.254.0.0/16"}},
		{"family missing in services", []string{"--cluster-subnets", "10.244.0.0/16/24,fd00:10:244::/48/64"}, []string{"--service-cidrs", "10.96.0.0/16", "IPv6"}},
		{"family missing in join", []string{"--cluster-subnets", "10.244.0.0/16/24,fd00:10:244::/48/64", "--service-cidrs", "10.96.0.0/16,fd00:10:96::/112", "--join-subnets", "100.64.0.0/16"}, []string{"--join-subnets", "100.64.0.0/16", "IPv6"}},
		{"bad nb address", []string{"--nb-address", "http://x"}, []string{"--nb-address", "http://x"}},
		{"ssl without cert", []string{"--nb-address", "ssl:127.0.0.1:6641"}, []string{"--nb-client-cert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"master"}, tt.args...)
			for _, kv := range base {
				if !slices.Contains(tt.args, kv[0]) {
					args = append(args, kv[0], kv[1])
				}
			}
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err == nil {
				t.Fatalf("ovnkube %s exited 0:\n%s", strings.Join(args, " "), out)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Fatalf("want a non-zero exit code, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("error does not mention %q:\n%s", w, out)
				}
			}
		})
	}
}
