package gateway

import (
	"fmt"
	"hash/fnv"

	goovs "github.com/digitalocean/go-openvswitch/ovs"
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

// SharedGatewayFlows returns br-ex's flows for ports, every one carrying a
// cookie that hashes the whole set: equal cookies on the bridge mean the
// flows in place are these, so a restart or resync checks one number
// instead of parsing what ovs-ofctl prints back.
func SharedGatewayFlows(p BridgePorts) []*goovs.Flow {
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
	}
	cookie := flowsCookie(flows)
	for _, f := range flows {
		f.Cookie = cookie
	}
	return flows
}

// flowsCookie hashes the flows' text; never 0, which go-openvswitch
// omits and OVS reads as "no cookie".
func flowsCookie(flows []*goovs.Flow) uint64 {
	h := fnv.New64a()
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
