package explain

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/controller/pod"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Dest is the far end of a trace: a pod ("namespace/name") or an address,
// and what is sent to it.
type Dest struct {
	Pod   string
	IP    netip.Addr
	Proto string // icmp, tcp, udp or sctp
	Port  int
}

var destPort = regexp.MustCompile(`^(.+):([0-9]+)/(tcp|udp|sctp)$`)

// ParseDest reads DEST[:PORT/PROTO]: "ns/web:80/tcp", "10.244.1.5",
// "[fd00::5]:53/udp", "web" (a pod of the default namespace). Without
// PORT/PROTO the trace sends an ICMP echo request.
func ParseDest(s string) (Dest, error) {
	d := Dest{Proto: "icmp"}
	target := s
	if m := destPort.FindStringSubmatch(s); m != nil {
		port, err := strconv.Atoi(m[2])
		if err != nil || port < 1 || port > 65535 {
			return Dest{}, fmt.Errorf("destination %q: port %s is not in 1-65535", s, m[2])
		}
		target, d.Port, d.Proto = m[1], port, m[3]
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(target, "["), "]")); err == nil {
		d.IP = ip.Unmap()
		return d, nil
	}
	ns, name, ok := strings.Cut(target, "/")
	if !ok {
		ns, name = "default", target
	}
	if ns == "" || name == "" || strings.ContainsAny(name, "/:[]") {
		return Dest{}, fmt.Errorf("destination %q: want NAMESPACE/POD or an IP address, optionally followed by :PORT/tcp, :PORT/udp or :PORT/sctp", s)
	}
	d.Pod = ns + "/" + name
	return d, nil
}

// Endpoint is a pod as a trace sees it: its port and allocation.
type Endpoint struct {
	Port   string // the logical switch port, "<namespace>_<pod>"
	Switch string // its node switch, the datapath the trace starts in
	MAC    net.HardwareAddr
	IPs    []netip.Prefix // from k8s.ovn.org/pod-networks, with the subnet's length
}

// Flow is one packet to trace.
type Flow struct {
	Src Endpoint
	// GatewayMAC is the MAC of the source node switch's router port
	// (rtos-<node>), where a pod sends everything off its subnet.
	GatewayMAC string
	DstIP      netip.Addr
	// DstMAC is the destination pod's MAC, when it is one; used when the
	// destination is on the source's subnet, as the pod's ARP would.
	DstMAC net.HardwareAddr
	Proto  string
	Port   int
}

// Microflow renders f in ovn-trace's microflow syntax and returns the
// source address it chose (the source pod's address of the destination's
// family).
//
// The packet is what the pod's kernel sends: from its MAC and address,
// to the gateway's MAC unless the destination is on-link (same node
// subnet, then to the destination pod's MAC; OVN answers the pod's ARP
// with it), with a fresh TTL. An on-link address whose MAC is not known
// goes to the gateway: ovn_cluster_router routes it back into the same
// switch, so the verdict is the same.
func Microflow(f Flow) (string, netip.Addr, error) {
	var src netip.Prefix
	for _, p := range f.Src.IPs {
		if p.Addr().Is4() == f.DstIP.Is4() {
			src = p
			break
		}
	}
	if !src.IsValid() {
		return "", netip.Addr{}, fmt.Errorf("port %s has no IPv%d address to send to %s from", f.Src.Port, family(f.DstIP), f.DstIP)
	}
	ethDst := f.GatewayMAC
	if src.Contains(f.DstIP) && len(f.DstMAC) > 0 {
		ethDst = f.DstMAC.String()
	}
	if ethDst == "" {
		return "", netip.Addr{}, fmt.Errorf("no gateway MAC for %s", f.Src.Switch)
	}
	ip := "ip4"
	if f.DstIP.Is6() {
		ip = "ip6"
	}
	parts := []string{
		fmt.Sprintf("inport == %q", f.Src.Port),
		"eth.src == " + f.Src.MAC.String(),
		"eth.dst == " + ethDst,
		fmt.Sprintf("%s.src == %s", ip, src.Addr()),
		fmt.Sprintf("%s.dst == %s", ip, f.DstIP),
		"ip.ttl == 64",
	}
	switch f.Proto {
	case "tcp", "udp", "sctp":
		parts = append(parts, fmt.Sprintf("%s.dst == %d", f.Proto, f.Port))
	case "icmp", "":
		if f.DstIP.Is6() {
			parts = append(parts, "icmp6.type == 128 && icmp6.code == 0") // echo request
		} else {
			parts = append(parts, "icmp4.type == 8 && icmp4.code == 0")
		}
	default:
		return "", netip.Addr{}, fmt.Errorf("protocol %q: want tcp, udp, sctp or icmp", f.Proto)
	}
	return strings.Join(parts, " && "), src.Addr(), nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// conntrackPasses is how many times a packet may go through conntrack on
// its way (ingress and egress of the source switch, of the destination
// switch, and of a gateway's external switch). Each gets --ct=new: the
// trace is of a connection's first packet, which is what network
// policies decide on; ovn-trace's default (est) would let every packet
// through the "established" ACLs.
const conntrackPasses = 6

// TraceArgs are ovn-trace's arguments: the SB (with the client's TLS
// files for ssl: endpoints), the first-packet conntrack state, the
// detailed output ParseTrace reads, the datapath and the microflow.
func TraceArgs(sbEndpoints []string, tls config.TLS, datapath, flow string) []string {
	args := []string{"--db=" + strings.Join(sbEndpoints, ",")}
	for _, ep := range sbEndpoints {
		if strings.HasPrefix(ep, "ssl:") {
			args = append(args, "--private-key="+tls.KeyFile, "--certificate="+tls.CertFile, "--ca-cert="+tls.CAFile)
			break
		}
	}
	for i := 0; i < conntrackPasses; i++ {
		args = append(args, "--ct=new")
	}
	return append(args, "--detailed", datapath, flow)
}

// TraceHop is one logical pipeline the packet went through.
type TraceHop struct {
	Pipeline string `json:"pipeline"` // ingress or egress
	Datapath string `json:"datapath"`
	InPort   string `json:"inport"`
	OutPort  string `json:"outport,omitempty"`
}

// Verdict is where a packet ended: output to a port, or dropped (with the
// stage and logical flow that dropped it).
type Verdict struct {
	Action   string `json:"action"` // "output" or "drop"
	Port     string `json:"port,omitempty"`
	PortType string `json:"portType,omitempty"`
	// Owner is the owner of Port ("Pod/ns/name") or, for a drop, of the
	// first port group the dropping flow's match names
	// ("DefaultDeny/ns/ingress", "NetworkPolicy/ns/name"), from the rows'
	// tags in the NB.
	Owner    string `json:"owner,omitempty"`
	Datapath string `json:"datapath,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
	Stage    string `json:"stage,omitempty"`
	Match    string `json:"match,omitempty"`
	Priority int    `json:"priority,omitempty"`
}

// TraceResult is what ParseTrace reads from ovn-trace's detailed output.
type TraceResult struct {
	Flow     string     `json:"flow"` // the OpenFlow rendering of the microflow
	Hops     []TraceHop `json:"hops"`
	Verdicts []Verdict  `json:"verdicts"`
}

var (
	pipelineHeader = regexp.MustCompile(`^\s*(ingress|egress)\(dp="([^"]*)", inport="([^"]*)"(?:, outport="([^"]*)")?\)$`)
	stageLine      = regexp.MustCompile(`^\s*[0-9]+\. (\S+?)(?: \([^)]*\))?: (.*), priority ([0-9]+), uuid [0-9a-f]+$`)
	outputLine     = regexp.MustCompile(`^\s*/\* output to "([^"]*)", type "([^"]*)" \*/;?$`)
)

// transitPortTypes are port types ovn-trace follows into the peer
// datapath: an output to them is a hop, not a verdict.
var transitPortTypes = map[string]bool{"patch": true, "l3gateway": true}

// ParseTrace reads the output of `ovn-trace --detailed`: the pipelines the
// packet crossed, in order, and each place it ended (a broadcast ends in
// several). ovn-trace exits 0 on an unknown port or a bad microflow and
// prints only the complaint: output without its "# " flow line is an
// error carrying that text.
func ParseTrace(out string) (TraceResult, error) {
	var res TraceResult
	var cur TraceHop
	var stage, match string
	var prio int
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case res.Flow == "" && strings.HasPrefix(line, "# "):
			res.Flow = strings.TrimPrefix(line, "# ")
		case pipelineHeader.MatchString(line):
			m := pipelineHeader.FindStringSubmatch(line)
			cur = TraceHop{Pipeline: m[1], Datapath: m[2], InPort: m[3], OutPort: m[4]}
			res.Hops = append(res.Hops, cur)
			stage, match, prio = "", "", 0
		case stageLine.MatchString(line):
			m := stageLine.FindStringSubmatch(line)
			stage, match = m[1], m[2]
			prio, _ = strconv.Atoi(m[3])
		case outputLine.MatchString(line):
			m := outputLine.FindStringSubmatch(line)
			if !transitPortTypes[m[2]] {
				res.Verdicts = append(res.Verdicts, Verdict{Action: "output", Port: m[1], PortType: m[2], Datapath: cur.Datapath})
			}
		case trimmed == "drop;" || strings.Contains(trimmed, "implicit drop"):
			res.Verdicts = append(res.Verdicts, Verdict{Action: "drop", Datapath: cur.Datapath, Pipeline: cur.Pipeline,
				Stage: stage, Match: match, Priority: prio})
		}
	}
	if err := sc.Err(); err != nil {
		return TraceResult{}, fmt.Errorf("read ovn-trace output: %w", err)
	}
	if res.Flow == "" {
		return TraceResult{}, fmt.Errorf("ovn-trace: %s", strings.TrimSpace(out))
	}
	return res, nil
}

// TraceReport is what `ovnkube explain trace` prints; `-o json` prints it
// as is.
type TraceReport struct {
	Source     string `json:"source"`     // namespace/name
	SourcePort string `json:"sourcePort"` // its logical switch port
	// Destination is the pod (namespace/name) or the address given;
	// DestinationPort is the destination pod's logical switch port.
	Destination     string     `json:"destination"`
	DestinationPort string     `json:"destinationPort,omitempty"`
	Protocol        string     `json:"protocol"`
	Port            int        `json:"port,omitempty"`
	SrcIP           string     `json:"srcIP"`
	DstIP           string     `json:"dstIP"`
	Datapath        string     `json:"datapath"`
	Microflow       string     `json:"microflow"`
	Command         []string   `json:"command"`
	Hops            []TraceHop `json:"hops"`
	Verdicts        []Verdict  `json:"verdicts"`
	// Delivered says, for a pod destination, whether a verdict is output
	// to its port.
	Delivered *bool `json:"delivered,omitempty"`
}

// TraceInput is what a trace is built from.
type TraceInput struct {
	Source  *corev1.Pod
	Dest    Dest
	DestPod *corev1.Pod // the destination pod, when Dest names one
	// NB holds the source node switch's router port (PlanTrace).
	NB []model.Model
}

// PlanTrace is what a trace reads from the NB: the gateway port of the
// source pod's node switch.
func PlanTrace(src *corev1.Pod) []Lookup {
	return []Lookup{{Table: nbdb.LogicalRouterPortTable, Column: "name", Value: topology.RouterToSwitchPort(src.Spec.NodeName)}}
}

// endpoint reads a pod's port and allocation, or says why it has none.
func endpoint(p *corev1.Pod) (Endpoint, error) {
	key := p.Namespace + "/" + p.Name
	if p.Spec.NodeName == "" || p.Spec.HostNetwork {
		return Endpoint{}, fmt.Errorf("pod %s has no port to trace (not scheduled, or on the host network): see `ovnkube explain pod %s`", key, key)
	}
	addrs, present, err := kube.ParsePodNetworks(p.Annotations)
	if err != nil {
		return Endpoint{}, fmt.Errorf("pod %s: %w", key, err)
	}
	if !present {
		return Endpoint{}, fmt.Errorf("pod %s has no address yet (no %s): see `ovnkube explain pod %s`", key, kube.PodNetworksAnnotation, key)
	}
	return Endpoint{Port: pod.PortName(p.Namespace, p.Name), Switch: topology.NodeSwitch(p.Spec.NodeName), MAC: addrs.MAC, IPs: addrs.IPs}, nil
}

// PrepareTrace builds the report's fixed part: both ends, the datapath and
// the microflow to run.
func PrepareTrace(in TraceInput) (TraceReport, error) {
	src, err := endpoint(in.Source)
	if err != nil {
		return TraceReport{}, err
	}
	rep := TraceReport{Source: in.Source.Namespace + "/" + in.Source.Name, SourcePort: src.Port,
		Protocol: in.Dest.Proto, Port: in.Dest.Port, Datapath: src.Switch, Hops: []TraceHop{}, Verdicts: []Verdict{}}
	f := Flow{Src: src, Proto: in.Dest.Proto, Port: in.Dest.Port, DstIP: in.Dest.IP}
	if lrp, ok := index(in.NB, nil).get(nbdb.LogicalRouterPortTable, topology.RouterToSwitchPort(in.Source.Spec.NodeName)).(*nbdb.LogicalRouterPort); ok {
		f.GatewayMAC = lrp.MAC
	}
	if in.Dest.Pod != "" {
		if in.DestPod == nil {
			return TraceReport{}, fmt.Errorf("destination pod %s does not exist", in.Dest.Pod)
		}
		dst, err := endpoint(in.DestPod)
		if err != nil {
			return TraceReport{}, err
		}
		rep.Destination, rep.DestinationPort = in.Dest.Pod, dst.Port
		f.DstMAC = dst.MAC
		// The first destination address of a family the source has: IPv4
		// in a dual-stack cluster, as the annotation lists it first.
		for _, ip := range dst.IPs {
			if slices.ContainsFunc(src.IPs, func(p netip.Prefix) bool { return p.Addr().Is4() == ip.Addr().Is4() }) {
				f.DstIP = ip.Addr()
				break
			}
		}
		if !f.DstIP.IsValid() {
			return TraceReport{}, fmt.Errorf("pods %s and %s share no address family", rep.Source, in.Dest.Pod)
		}
	} else {
		rep.Destination = in.Dest.IP.String()
	}
	if f.GatewayMAC == "" {
		return TraceReport{}, fmt.Errorf("no Logical_Router_Port %s in the NB (the gateway of %s's switch): see `ovnkube explain node %s`",
			topology.RouterToSwitchPort(in.Source.Spec.NodeName), rep.Source, in.Source.Spec.NodeName)
	}
	flow, srcIP, err := Microflow(f)
	if err != nil {
		return TraceReport{}, err
	}
	rep.Microflow, rep.SrcIP, rep.DstIP = flow, srcIP.String(), f.DstIP.String()
	return rep, nil
}

var portGroupRef = regexp.MustCompile(`@([A-Za-z0-9_]+)`)

// VerdictLookups are the NB rows that name a trace's verdicts: the output
// ports, and the port groups a dropping flow's match names (a network
// policy's or a namespace's default deny).
func VerdictLookups(res TraceResult) []Lookup {
	var out []Lookup
	for _, v := range res.Verdicts {
		if v.Port != "" {
			out = append(out, Lookup{Table: nbdb.LogicalSwitchPortTable, Column: "name", Value: v.Port})
		}
		for _, m := range portGroupRef.FindAllStringSubmatch(v.Match, -1) {
			out = append(out, Lookup{Table: nbdb.PortGroupTable, Column: "name", Value: m[1]})
		}
	}
	return out
}

// Conclude adds ovn-trace's result to the report, naming each verdict by
// the owner of its output port or of the first port group the dropping
// flow's match names, from the NB rows VerdictLookups read.
func Conclude(rep TraceReport, res TraceResult, rows []model.Model) TraceReport {
	idx := index(rows, nil)
	owner := func(m model.Model) string {
		if o, _, ok := reconcile.RowOwner(externalIDs(m), reconcile.DefaultController); ok {
			return o.String()
		}
		return ""
	}
	rep.Hops = append([]TraceHop{}, res.Hops...)
	rep.Verdicts = []Verdict{}
	delivered := false
	for _, v := range res.Verdicts {
		if v.Action == "output" {
			if lsp := idx.lsp(v.Port); lsp != nil {
				v.Owner = owner(lsp)
			}
			delivered = delivered || (rep.DestinationPort != "" && v.Port == rep.DestinationPort)
		}
		for _, m := range portGroupRef.FindAllStringSubmatch(v.Match, -1) {
			if pg := idx.get(nbdb.PortGroupTable, m[1]); pg != nil && v.Owner == "" {
				v.Owner = owner(pg)
			}
		}
		rep.Verdicts = append(rep.Verdicts, v)
	}
	if rep.DestinationPort != "" {
		rep.Delivered = &delivered
	}
	return rep
}
