package explain

import (
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology/topotest"
)

func TestParseDest(t *testing.T) {
	tests := []struct {
		in   string
		want Dest
		err  string
	}{
		{"ns/web", Dest{Pod: "ns/web", Proto: "icmp"}, ""},
		{"web", Dest{Pod: "default/web", Proto: "icmp"}, ""},
		{"ns/web:80/tcp", Dest{Pod: "ns/web", Proto: "tcp", Port: 80}, ""},
		{"10.244.1.5", Dest{IP: netip.MustParseAddr("10.244.1.5"), Proto: "icmp"}, ""},
		{"10.244.1.5:53/udp", Dest{IP: netip.MustParseAddr("10.244.1.5"), Proto: "udp", Port: 53}, ""},
		{"fd00::5", Dest{IP: netip.MustParseAddr("fd00::5"), Proto: "icmp"}, ""},
		{"[fd00::5]:9999/sctp", Dest{IP: netip.MustParseAddr("fd00::5"), Proto: "sctp", Port: 9999}, ""},
		{"ns/web:0/tcp", Dest{}, "not in 1-65535"},
		{"ns/web:70000/tcp", Dest{}, "not in 1-65535"},
		{"ns/web:80/icmp", Dest{}, "want NAMESPACE/POD or an IP"},
		{"ns/web:80", Dest{}, "want NAMESPACE/POD or an IP"},
		{"a/b/c", Dest{}, "want NAMESPACE/POD or an IP"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDest(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseDest = %+v, %v; want error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDest = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMicroflow(t *testing.T) {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	a := Endpoint{Port: "ns_a", Switch: "node-1", MAC: mac("0a:58:0a:f4:01:05"), IPs: topotest.Prefixes("10.244.1.5/24", "fd00:10:244:1::5/64")}
	tests := []struct {
		name string
		f    Flow
		want string
		src  string
		err  string
	}{{
		name: "tcp to another node: to the gateway MAC",
		f:    Flow{Src: a, GatewayMAC: "0a:58:0a:f4:01:01", DstIP: netip.MustParseAddr("10.244.2.5"), DstMAC: mac("0a:58:0a:f4:02:05"), Proto: "tcp", Port: 80},
		want: `inport == "ns_a" && eth.src == 0a:58:0a:f4:01:05 && eth.dst == 0a:58:0a:f4:01:01 && ip4.src == 10.244.1.5 && ip4.dst == 10.244.2.5 && ip.ttl == 64 && tcp.dst == 80`,
		src:  "10.244.1.5",
	}, {
		name: "icmp to a pod on the same subnet: to its MAC",
		f:    Flow{Src: a, GatewayMAC: "0a:58:0a:f4:01:01", DstIP: netip.MustParseAddr("10.244.1.6"), DstMAC: mac("0a:58:0a:f4:01:06"), Proto: "icmp"},
		want: `inport == "ns_a" && eth.src == 0a:58:0a:f4:01:05 && eth.dst == 0a:58:0a:f4:01:06 && ip4.src == 10.244.1.5 && ip4.dst == 10.244.1.6 && ip.ttl == 64 && icmp4.type == 8 && icmp4.code == 0`,
		src:  "10.244.1.5",
	}, {
		name: "on-link address of no known pod: to the gateway",
		f:    Flow{Src: a, GatewayMAC: "0a:58:0a:f4:01:01", DstIP: netip.MustParseAddr("10.244.1.2"), Proto: "udp", Port: 53},
		want: `inport == "ns_a" && eth.src == 0a:58:0a:f4:01:05 && eth.dst == 0a:58:0a:f4:01:01 && ip4.src == 10.244.1.5 && ip4.dst == 10.244.1.2 && ip.ttl == 64 && udp.dst == 53`,
		src:  "10.244.1.5",
	}, {
		name: "icmpv6 from a dual-stack pod",
		f:    Flow{Src: a, GatewayMAC: "0a:58:0a:f4:01:01", DstIP: netip.MustParseAddr("fd00:10:244:2::5"), Proto: "icmp"},
		want: `inport == "ns_a" && eth.src == 0a:58:0a:f4:01:05 && eth.dst == 0a:58:0a:f4:01:01 && ip6.src == fd00:10:244:1::5 && ip6.dst == fd00:10:244:2::5 && ip.ttl == 64 && icmp6.type == 128 && icmp6.code == 0`,
		src:  "fd00:10:244:1::5",
	}, {
		name: "no address of the destination's family",
		f: Flow{Src: Endpoint{Port: "ns_a", MAC: a.MAC, IPs: topotest.Prefixes("10.244.1.5/24")}, GatewayMAC: "0a:58:0a:f4:01:01",
			DstIP: netip.MustParseAddr("fd00::1"), Proto: "icmp"},
		err: "port ns_a has no IPv6 address",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src, err := Microflow(tt.f)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Microflow = %q, %v; want error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want || src.String() != tt.src {
				t.Fatalf("Microflow =\n  %q (src %s), %v\nwant\n  %q (src %s)", got, src, err, tt.want, tt.src)
			}
		})
	}
}

func TestTraceArgs(t *testing.T) {
	plain := TraceArgs([]string{"unix:/run/ovn/sb.sock"}, config.TLS{}, "node-1", "inport == \"a\"")
	if plain[0] != "--db=unix:/run/ovn/sb.sock" || plain[len(plain)-2] != "node-1" || plain[len(plain)-1] != `inport == "a"` ||
		slices.ContainsFunc(plain, func(a string) bool { return strings.HasPrefix(a, "--private-key") }) {
		t.Errorf("plain args = %q", plain)
	}
	if n := slices.Index(plain, "--ct=new"); n < 0 || strings.Count(strings.Join(plain, " "), "--ct=new") != conntrackPasses {
		t.Errorf("args %q: want --ct=new %d times", plain, conntrackPasses)
	}
	tls := TraceArgs([]string{"ssl:10.0.0.1:6642", "ssl:10.0.0.2:6642"}, config.TLS{CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem"}, "n", "f")
	for _, want := range []string{"--db=ssl:10.0.0.1:6642,ssl:10.0.0.2:6642", "--private-key=k.pem", "--certificate=c.pem", "--ca-cert=ca.pem"} {
		if !slices.Contains(tls, want) {
			t.Errorf("ssl args %q lack %s", tls, want)
		}
	}
}

// The testdata are `ovn-trace --detailed` outputs of OVN 23.03 on a
// two-switch topology: default_a (node1) to default_b (node2) over
// ovn_cluster_router, with an ACL dropping tcp.dst == 81 to node2's ports.
func TestParseTrace(t *testing.T) {
	tests := []struct {
		file     string
		hops     []string // datapath/pipeline
		verdicts []Verdict
		err      string
	}{{
		file:     "trace-output.txt",
		hops:     []string{"node1/ingress", "node1/egress", "ovn_cluster_router/ingress", "ovn_cluster_router/egress", "node2/ingress", "node2/egress"},
		verdicts: []Verdict{{Action: "output", Port: "default_b", PortType: "", Datapath: "node2"}},
	}, {
		file: "trace-acl-drop.txt",
		hops: []string{"node1/ingress", "node1/egress", "ovn_cluster_router/ingress", "ovn_cluster_router/egress", "node2/ingress", "node2/egress"},
		verdicts: []Verdict{{Action: "drop", Datapath: "node2", Pipeline: "egress", Stage: "ls_out_acl",
			Match: "ip4.src == 10.244.1.5 && tcp.dst == 81", Priority: 2000}},
	}, {
		file: "trace-port-security.txt",
		hops: []string{"node1/ingress"},
		verdicts: []Verdict{{Action: "drop", Datapath: "node1", Pipeline: "ingress", Stage: "ls_in_apply_port_sec",
			Match: "reg0[15] == 1", Priority: 50}},
	}, {
		file: "trace-broadcast.txt",
		hops: []string{"node1/ingress", "node1/egress", "node1/egress", "node1/egress", "ovn_cluster_router/ingress"},
		verdicts: []Verdict{{Action: "output", Port: "default_c", Datapath: "node1"},
			{Action: "drop", Datapath: "ovn_cluster_router", Pipeline: "ingress", Stage: "lr_in_ip_input", Match: "arp || nd", Priority: 85}},
	}, {
		file: "trace-unknown-port.txt",
		err:  `ovn-trace: unknown port "nope"`,
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParseTrace(string(b))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParseTrace error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(res.Flow, "tcp,") && !strings.HasPrefix(res.Flow, "udp,") && !strings.HasPrefix(res.Flow, "arp,") {
				t.Errorf("flow = %q", res.Flow)
			}
			var hops []string
			for _, h := range res.Hops {
				hops = append(hops, h.Datapath+"/"+h.Pipeline)
			}
			if !reflect.DeepEqual(hops, tt.hops) {
				t.Errorf("hops = %v, want %v", hops, tt.hops)
			}
			if !reflect.DeepEqual(res.Verdicts, tt.verdicts) {
				t.Errorf("verdicts = %+v, want %+v", res.Verdicts, tt.verdicts)
			}
		})
	}
}

func TestPrepareAndConclude(t *testing.T) {
	w := newWorld(t)
	w.addNode("node-1", "10.244.1.0/24", chassis1, 1)
	w.addNode("node-2", "10.244.2.0/24", chassis2, 2)
	a := w.addPod("ns", "a", "node-1", "10.244.1.5/24")
	b := w.addPod("ns", "b", "node-2", "10.244.2.5/24")
	unallocated := a.DeepCopy()
	delete(unallocated.Annotations, kube.PodNetworksAnnotation)
	tests := []struct {
		name    string
		in      TraceInput
		flow    string
		dstPort string
		err     string
	}{{
		name:    "pod to pod",
		in:      TraceInput{Source: a, Dest: Dest{Pod: "ns/b", Proto: "tcp", Port: 8080}, DestPod: b, NB: w.nb},
		flow:    `inport == "ns_a" && eth.src == 0a:58:0a:f4:01:05 && eth.dst == 0a:58:0a:f4:01:01 && ip4.src == 10.244.1.5 && ip4.dst == 10.244.2.5 && ip.ttl == 64 && tcp.dst == 8080`,
		dstPort: "ns_b",
	}, {
		name: "pod to address",
		in:   TraceInput{Source: a, Dest: Dest{IP: netip.MustParseAddr("8.8.8.8"), Proto: "udp", Port: 53}, NB: w.nb},
		flow: `inport == "ns_a" && eth.src == 0a:58:0a:f4:01:05 && eth.dst == 0a:58:0a:f4:01:01 && ip4.src == 10.244.1.5 && ip4.dst == 8.8.8.8 && ip.ttl == 64 && udp.dst == 53`,
	}, {
		name: "destination pod missing",
		in:   TraceInput{Source: a, Dest: Dest{Pod: "ns/gone", Proto: "icmp"}, NB: w.nb},
		err:  "destination pod ns/gone does not exist",
	}, {
		name: "source without an address",
		in:   TraceInput{Source: unallocated, Dest: Dest{Pod: "ns/b"}, DestPod: b, NB: w.nb},
		err:  "has no address yet",
	}, {
		name: "no gateway port in the NB",
		in:   TraceInput{Source: a, Dest: Dest{Pod: "ns/b", Proto: "icmp"}, DestPod: b},
		err:  "no Logical_Router_Port rtos-node-1 in the NB",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := PrepareTrace(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("PrepareTrace = %+v, %v; want error containing %q", rep, err, tt.err)
				}
				return
			}
			if err != nil || rep.Microflow != tt.flow || rep.DestinationPort != tt.dstPort || rep.Datapath != "node-1" || rep.SourcePort != "ns_a" {
				t.Fatalf("PrepareTrace = %+v, %v; want flow %q", rep, err, tt.flow)
			}
		})
	}

	rep, err := PrepareTrace(TraceInput{Source: a, Dest: Dest{Pod: "ns/b", Proto: "icmp"}, DestPod: b, NB: w.nb})
	if err != nil {
		t.Fatal(err)
	}
	ports := []model.Model{w.lsp("ns_b"), &nbdb.LogicalSwitchPort{Name: "debug"}}
	out := Conclude(rep, TraceResult{Verdicts: []Verdict{{Action: "output", Port: "ns_b"}, {Action: "output", Port: "debug"}}}, ports)
	if out.Verdicts[0].Owner != "Pod/ns/b" || out.Verdicts[1].Owner != "" || out.Delivered == nil || !*out.Delivered {
		t.Errorf("concluded = %+v (delivered %v)", out.Verdicts, out.Delivered)
	}
	drop := TraceResult{Verdicts: []Verdict{{Action: "drop", Datapath: "node-2", Pipeline: "egress", Stage: "ls_out_acl", Priority: 2000,
		Match: "reg0[9] == 1 && (outport == @ns_ingressDefaultDeny && ip)"}}}
	if got := VerdictLookups(drop); !reflect.DeepEqual(got, []Lookup{{"Port_Group", "name", "ns_ingressDefaultDeny"}}) {
		t.Errorf("lookups of a drop = %v", got)
	}
	w.add(reconcile.Owner{Type: "DefaultDeny", Name: "ns/ingress"}, []reconcile.Row{{ID: "ns_ingressDefaultDeny", Model: &nbdb.PortGroup{Name: "ns_ingressDefaultDeny"}}})
	dropped := Conclude(rep, drop, w.nb)
	if dropped.Delivered == nil || *dropped.Delivered || dropped.Verdicts[0].Owner != "DefaultDeny/ns/ingress" {
		t.Errorf("a drop by the default deny = %+v", dropped)
	}
	var text strings.Builder
	out.Command = []string{"ovn-trace", "--db=unix:/sb.sock", "node-1", `inport == "ns_a"`}
	if err := WriteTraceText(&text, out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Trace ns/a -> ns/b (10.244.1.5 -> 10.244.2.5 icmp)", `$ ovn-trace --db=unix:/sb.sock node-1 'inport == "ns_a"'`,
		"Verdict: output to ns_b (Pod/ns/b)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("trace text lacks %q:\n%s", want, text.String())
		}
	}
	text.Reset()
	if err := WriteTraceText(&text, dropped); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Verdict: drop in node-2 egress by DefaultDeny/ns/ingress, stage ls_out_acl, priority 2000: reg0[9] == 1") ||
		!strings.Contains(text.String(), "Not delivered to ns/b (port ns_b)") {
		t.Errorf("drop text:\n%s", text.String())
	}
}
