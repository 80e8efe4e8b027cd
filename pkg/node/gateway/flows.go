package gateway

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"

	goovs "github.com/digitalocean/go-openvswitch/ovs"
	corev1 "k8s.io/api/core/v1"
)

// In shared gateway mode the host and the node's gateway router share one
// MAC and one IP on the uplink, so br-ex cannot forward by MAC learning:
// a reply to the node IP must go to whichever of the two opened the
// connection. The flows below decide that with the bridge's own
// connection-tracking zone: everything the gateway router sends out is
// committed there with a mark, and what comes in goes to the router only
// when it belongs to a marked connection; the rest is the host's.
const (
	// GatewayCTZone is br-ex's conntrack zone, apart from every zone
	// ovn-controller allocates (those count up from 1).
	GatewayCTZone = 64000
	// ctMarkOVN marks a connection the gateway router opened.
	ctMarkOVN = 1
	// replyTable sorts what came in from the uplink after conntrack.
	replyTable = 1
	// geneveUDPPort is the Geneve tunnel port: tunnel packets are the
	// host's (ovs-vswitchd's native tunnel endpoint on br-ex's address).
	geneveUDPPort = 6081

	icmp6NeighborSolicit = 135
	icmp6NeighborAdvert  = 136
)

// BridgePorts are the OpenFlow port numbers of br-ex the flows name.
type BridgePorts struct {
	// Uplink is the NIC br-ex owns.
	Uplink int
	// Patch is the patch port to br-int of the node's localnet port
	// (br-ex_<node>); 0 until ovn-controller has made it, in which case
	// the bridge serves the host alone.
	Patch int
}

// HostAccess is how the host reaches services through the gateway router:
// it sends to the service CIDRs from its masquerade addresses
// (169.254.169.2, fd69::2) via br-ex, and the router's replies to those
// addresses must come back to it with br-ex's MAC.
type HostAccess struct {
	ServiceCIDRs  []netip.Prefix
	MasqueradeIPs []netip.Addr
	MAC           net.HardwareAddr
}

// SharedGatewayFlows returns br-ex's own flows for ports, every one carrying
// a cookie that hashes the whole set: equal cookies on the bridge mean the
// flows in place are these, so a restart or resync checks one number
// instead of parsing what ovs-ofctl prints back.
func SharedGatewayFlows(p BridgePorts, h HostAccess) []*goovs.Flow {
	up, local := p.Uplink, goovs.PortLOCAL // in_port=LOCAL; goovs.Local() is output:LOCAL
	flows := []*goovs.Flow{
		// Geneve from the other nodes: the host's tunnel endpoint.
		{Priority: 300, Protocol: goovs.ProtocolUDPv4, InPort: up, Matches: []goovs.Match{goovs.TransportDestinationPort(geneveUDPPort)}, Actions: []goovs.Action{goovs.Local()}},
		{Priority: 300, Protocol: goovs.ProtocolUDPv6, InPort: up, Matches: []goovs.Match{goovs.TransportDestinationPort(geneveUDPPort)}, Actions: []goovs.Action{goovs.Local()}},
		// The host's own traffic leaves as it is.
		{Priority: 100, InPort: local, Actions: []goovs.Action{goovs.Output(up)}},
		// Anything else from the uplink that conntrack does not sort (ARP,
		// ND and the rest of the non-IP traffic) is the host's.
		{Priority: 10, InPort: up, Actions: []goovs.Action{goovs.Local()}},
		{Priority: 0, Actions: []goovs.Action{goovs.Normal()}},
	}
	if p.Patch != 0 {
		patch := p.Patch
		both := []goovs.Action{goovs.Local(), goovs.Output(patch)}
		commit := goovs.ConnectionTracking(fmt.Sprintf("commit,zone=%d,exec(load:%#x->NXM_NX_CT_MARK[])", GatewayCTZone, ctMarkOVN))
		track := goovs.ConnectionTracking(fmt.Sprintf("zone=%d,table=%d", GatewayCTZone, replyTable))
		flows = append(flows,
			// Address resolution answers to the shared MAC reach both
			// the host and the router, which each learn from them.
			&goovs.Flow{Priority: 200, Protocol: goovs.ProtocolARP, InPort: up, Actions: both},
			&goovs.Flow{Priority: 200, Protocol: goovs.ProtocolICMPv6, InPort: up, Matches: []goovs.Match{goovs.ICMP6Type(icmp6NeighborSolicit)}, Actions: both},
			&goovs.Flow{Priority: 200, Protocol: goovs.ProtocolICMPv6, InPort: up, Matches: []goovs.Match{goovs.ICMP6Type(icmp6NeighborAdvert)}, Actions: both},
			// The router's traffic out: remembered, then sent.
			&goovs.Flow{Priority: 100, Protocol: goovs.ProtocolIPv4, InPort: patch, Actions: []goovs.Action{commit, goovs.Output(up)}},
			&goovs.Flow{Priority: 100, Protocol: goovs.ProtocolIPv6, InPort: patch, Actions: []goovs.Action{commit, goovs.Output(up)}},
			&goovs.Flow{Priority: 90, InPort: patch, Actions: []goovs.Action{goovs.Output(up)}},
			// IP from the uplink is sorted by conntrack.
			&goovs.Flow{Priority: 50, Protocol: goovs.ProtocolIPv4, InPort: up, Actions: []goovs.Action{track}},
			&goovs.Flow{Priority: 50, Protocol: goovs.ProtocolIPv6, InPort: up, Actions: []goovs.Action{track}},
			&goovs.Flow{Table: replyTable, Priority: 100, Matches: []goovs.Match{
				goovs.ConnectionTrackingState(goovs.SetState(goovs.CTStateTracked), goovs.SetState(goovs.CTStateEstablished)),
				goovs.ConnectionTrackingMark(ctMarkOVN, 0)}, Actions: []goovs.Action{goovs.Output(patch)}},
			&goovs.Flow{Table: replyTable, Priority: 100, Matches: []goovs.Match{
				goovs.ConnectionTrackingState(goovs.SetState(goovs.CTStateTracked), goovs.SetState(goovs.CTStateRelated)),
				goovs.ConnectionTrackingMark(ctMarkOVN, 0)}, Actions: []goovs.Action{goovs.Output(patch)}},
			&goovs.Flow{Table: replyTable, Priority: 0, Actions: []goovs.Action{goovs.Local()}},
		)
		// The host's traffic to services goes to the gateway router, whose
		// load balancers serve it; the replies come back to the host.
		for _, cidr := range h.ServiceCIDRs {
			flows = append(flows, &goovs.Flow{Priority: 110, Protocol: ipProto(cidr.Addr()), InPort: local,
				Matches: []goovs.Match{dstMatch(cidr.Addr(), cidr.Masked().String())}, Actions: []goovs.Action{goovs.Output(patch)}})
		}
		for _, ip := range h.MasqueradeIPs {
			flows = append(flows, &goovs.Flow{Priority: 110, Protocol: ipProto(ip), InPort: patch,
				Matches: []goovs.Match{dstMatch(ip, ip.String())},
				Actions: []goovs.Action{goovs.ModDataLinkDestination(h.MAC), goovs.Local()}})
		}
	}
	cookie := flowsCookie(flows)
	for _, f := range flows {
		f.Cookie = cookie
	}
	return flows
}

// ServiceFlows returns the flows that hand a service's frontends arriving
// on the uplink to the gateway router, stateless (every packet of the
// connection, whatever conntrack thinks of it), under a cookie of the
// service's own: a service change rewrites only its flows. None until the
// patch port exists.
func ServiceFlows(p BridgePorts, key string, frontends []Frontend) []*goovs.Flow {
	if p.Patch == 0 || len(frontends) == 0 {
		return nil
	}
	var flows []*goovs.Flow
	for _, fe := range frontends {
		flows = append(flows, &goovs.Flow{Priority: 110, Protocol: l4Proto(fe.Protocol, fe.IP), InPort: p.Uplink,
			Matches: []goovs.Match{dstMatch(fe.IP, fe.IP.String()), goovs.TransportDestinationPort(uint16(fe.Port))},
			Actions: []goovs.Action{goovs.Output(p.Patch)}})
	}
	cookie := flowsCookie(flows, "service "+key)
	for _, f := range flows {
		f.Cookie = cookie
	}
	return flows
}

func ipProto(a netip.Addr) goovs.Protocol {
	if a.Is6() {
		return goovs.ProtocolIPv6
	}
	return goovs.ProtocolIPv4
}

func l4Proto(p corev1.Protocol, a netip.Addr) goovs.Protocol {
	proto := goovs.Protocol(strings.ToLower(string(p)))
	if a.Is6() {
		proto += "6"
	}
	return proto
}

func dstMatch(a netip.Addr, value string) goovs.Match {
	if a.Is6() {
		return goovs.IPv6Destination(value)
	}
	return goovs.NetworkDestination(value)
}

// flowsCookie hashes the flows' text (and salt); never 0, which
// go-openvswitch omits and OVS reads as "no cookie".
func flowsCookie(flows []*goovs.Flow, salt ...string) uint64 {
	h := fnv.New64a()
	for _, s := range salt {
		h.Write([]byte(s + "\n"))
	}
	for _, f := range flows {
		b, err := f.MarshalText()
		if err != nil {
			panic(fmt.Sprintf("br-ex flow %+v does not marshal: %v", f, err)) // a programming error, caught by the table test
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	if c := h.Sum64(); c != 0 {
		return c
	}
	return 1
}
