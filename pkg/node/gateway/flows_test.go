package gateway

import (
	"strings"
	"testing"
)

// TestSharedGatewayFlows: the bridge serves the host alone until the
// patch port exists, then sorts the uplink's traffic between the host and
// the gateway router by conntrack; the cookie tells the sets apart.
func TestSharedGatewayFlows(t *testing.T) {
	tests := []struct {
		name    string
		ports   BridgePorts
		want    []string // flows that must be there, as ovs-ofctl reads them
		notWant []string
	}{{
		name:  "host only",
		ports: BridgePorts{Uplink: 1},
		want: []string{
			"priority=300,udp,in_port=1,tp_dst=6081,table=0,idle_timeout=0,cookie=%s,actions=local",
			"priority=100,in_port=LOCAL,table=0,idle_timeout=0,cookie=%s,actions=output:1",
			"priority=10,in_port=1,table=0,idle_timeout=0,cookie=%s,actions=local",
			"priority=0,table=0,idle_timeout=0,cookie=%s,actions=normal",
		},
		notWant: []string{"ct(", "table=1"},
	}, {
		name:  "with the gateway router's patch port",
		ports: BridgePorts{Uplink: 1, Patch: 7},
		want: []string{
			"priority=200,arp,in_port=1,table=0,idle_timeout=0,cookie=%s,actions=local,output:7",
			"priority=200,icmp6,in_port=1,icmpv6_type=136,table=0,idle_timeout=0,cookie=%s,actions=local,output:7",
			"priority=100,ip,in_port=7,table=0,idle_timeout=0,cookie=%s,actions=ct(commit,zone=64000,exec(load:0x1->NXM_NX_CT_MARK[])),output:1",
			"priority=100,ipv6,in_port=7,table=0,idle_timeout=0,cookie=%s,actions=ct(commit,zone=64000,exec(load:0x1->NXM_NX_CT_MARK[])),output:1",
			"priority=50,ip,in_port=1,table=0,idle_timeout=0,cookie=%s,actions=ct(zone=64000,table=1)",
			"priority=100,ct_state=+trk+est,ct_mark=0x00000001,table=1,idle_timeout=0,cookie=%s,actions=output:7",
			"priority=100,ct_state=+trk+rel,ct_mark=0x00000001,table=1,idle_timeout=0,cookie=%s,actions=output:7",
			"priority=0,table=1,idle_timeout=0,cookie=%s,actions=local",
		},
	}}
	cookies := map[uint64]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flows := SharedGatewayFlows(tt.ports, HostAccess{})
			var text []string
			for _, f := range flows {
				b, err := f.MarshalText()
				if err != nil {
					t.Fatal(err)
				}
				if f.Cookie != flows[0].Cookie {
					t.Errorf("flow %s has another cookie than the set's %#x", b, flows[0].Cookie)
				}
				text = append(text, string(b))
			}
			all := strings.Join(text, "\n")
			cookie := strings.SplitN(strings.SplitN(all, "cookie=", 2)[1], ",", 2)[0]
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "%s", cookie)
				if !strings.Contains(all, w) {
					t.Errorf("missing flow %s in:\n%s", w, all)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(all, nw) {
					t.Errorf("unexpected %q in:\n%s", nw, all)
				}
			}
			if other, dup := cookies[flows[0].Cookie]; dup {
				t.Errorf("cookie %#x shared with %q", flows[0].Cookie, other)
			}
			cookies[flows[0].Cookie] = tt.name
			// The same ports give the same set, so a restart writes nothing.
			if again := SharedGatewayFlows(tt.ports, HostAccess{}); again[0].Cookie != flows[0].Cookie {
				t.Errorf("cookie not stable: %#x then %#x", flows[0].Cookie, again[0].Cookie)
			}
		})
	}
}
