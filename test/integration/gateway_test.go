package integration

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// TestNodeDefaultGatewayCheck runs `ovnkube node` in a network namespace per
// rule of the default-gateway check and asserts what a CrashLoopBackOff
// shows: the exit code and the exact lines. The namespace has eth0
// (10.0.0.2, fd00::2) and eth1 (10.1.0.2, fd01::2), veths whose peers stay
// inside it; no packet is sent. A host that passes the check goes on to the
// next step, reading its kubeconfig, which these tests point nowhere.
func TestNodeDefaultGatewayCheck(t *testing.T) {
	bin, err := sandbox.BuiltBin("", "ovnkube")
	if err != nil {
		t.Fatal(err)
	}
	const dual = "10.244.0.0/16/24,fd00:10:244::/48/64"
	for _, tc := range []struct {
		name    string
		routes  []string
		subnets string
		extra   []string
		exit    int
		lines   []string // each must appear in the output
		absent  string
	}{{
		name:    "v4 and v6 defaults on different interfaces",
		routes:  []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fd01::1 dev eth1"},
		subnets: dual, exit: 1,
		lines: []string{"Found default gateway interface eth0 10.0.0.1", "Found default gateway interface eth1 fd01::1",
			"multiple gateway interfaces detected: eth0 eth1"},
	}, {
		name:    "no v6 default",
		routes:  []string{"route add default via 10.0.0.1 dev eth0"},
		subnets: dual, exit: 1,
		lines: []string{"Found default gateway interface eth0 10.0.0.1", "failed to get default gateway interface"},
	}, {
		name:    "both on one interface",
		routes:  []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fd00::1 dev eth0"},
		subnets: dual, exit: 1,
		lines:  []string{"Found default gateway interface eth0 10.0.0.1", "Found default gateway interface eth0 fd00::1", "/nonexistent/kubeconfig"},
		absent: "gateway interface detected",
	}, {
		name:    "v6 via a link-local next hop",
		routes:  []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fe80::1 dev eth0"},
		subnets: dual, exit: 1,
		lines:  []string{"Found default gateway interface eth0 fe80::1", "/nonexistent/kubeconfig"},
		absent: "failed to get default gateway interface",
	}, {
		name:    "overrides",
		routes:  []string{"route add default via 10.0.0.1 dev eth0", "-6 route add default via fd01::1 dev eth1"},
		subnets: dual, extra: []string{"--gateway-interface", "eth1", "--gateway-nexthop", "10.1.0.1"}, exit: 1,
		lines:  []string{"Found default gateway interface eth1 10.1.0.1", "Found default gateway interface eth1 fd01::1", "/nonexistent/kubeconfig"},
		absent: "multiple gateway interfaces detected",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := gatewayHost(t, tc.routes)
			args := append([]string{"netns", "exec", ns, bin, "node", "--node-name", "gw-node",
				"--kubeconfig", "/nonexistent/kubeconfig", "--cluster-subnets", tc.subnets,
				"--service-cidrs", "10.96.0.0/16,fd00:10:96::/112", "--metrics-address", ""}, tc.extra...)
			out, err := exec.Command("ip", args...).CombinedOutput()
			var exit *exec.ExitError
			code := 0
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.exit {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.exit, out)
			}
			for _, l := range tc.lines {
				if !strings.Contains(string(out), l) {
					t.Errorf("output lacks %q:\n%s", l, out)
				}
			}
			if tc.absent != "" && strings.Contains(string(out), tc.absent) {
				t.Errorf("output has %q:\n%s", tc.absent, out)
			}
		})
	}
}

// gatewayHost makes the namespace of TestNodeDefaultGatewayCheck.
func gatewayHost(t *testing.T, routes []string) string {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	ns := "ovnk-gw-" + hex.EncodeToString(b)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, c := range []string{
		"link add eth0 type veth peer name eth0p", "link add eth1 type veth peer name eth1p",
		"link set lo up", "link set eth0p up", "link set eth1p up", "link set eth0 up", "link set eth1 up",
		"addr add 10.0.0.2/24 dev eth0", "addr add 10.1.0.2/24 dev eth1",
		"addr add fd00::2/64 dev eth0 nodad", "addr add fd01::2/64 dev eth1 nodad",
	} {
		ip(strings.Fields(c)...)
	}
	for _, r := range routes {
		ip(strings.Fields(r)...)
	}
	return ns
}
