package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/ovnkube/ovnkube/pkg/node/internal/nsenter"
)

// uplinkSysctls make the host's IP stack ignore frames that arrive on the
// uplink itself. The userspace (netdev) datapath reads a system NIC
// through a packet socket, which leaves the kernel receiving the very same
// frames: it would accept a reply meant for the gateway router (its
// address is the node's, now on br-ex) and answer it with a TCP reset,
// and answer ARP for the node's address a second time. With the kernel
// datapath the NIC is OVS's alone and these settings change nothing.
var uplinkSysctls = []struct{ path, value string }{
	{"net/ipv4/conf/%s/rp_filter", "1"},    // IPv4: the way back to any source is br-ex, so drop
	{"net/ipv4/conf/%s/arp_ignore", "8"},   // never answer ARP on the uplink
	{"net/ipv6/conf/%s/disable_ipv6", "1"}, // IPv6: drop everything received there
}

// DeafenUplink applies uplinkSysctls to uplink in the network namespace ns
// (netns.None(): this process's own). Writing a value already set
// changes nothing, so restarts are no-ops.
func DeafenUplink(ns netns.NsHandle, uplink string) error {
	if strings.ContainsAny(uplink, "/.") || uplink == "" {
		return fmt.Errorf("uplink name %q is not a plain interface name", uplink)
	}
	write := func() error {
		for _, s := range uplinkSysctls {
			p := filepath.Join("/proc/sys", fmt.Sprintf(s.path, uplink))
			if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == s.value {
				continue
			}
			if err := os.WriteFile(p, []byte(s.value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", p, s.value, err)
			}
		}
		return nil
	}
	// /proc/sys/net shows the namespace of the thread that opens it.
	return nsenter.Do(ns, write)
}
