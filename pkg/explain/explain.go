package explain

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/ovsdb-models/sbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/pod"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Input is everything an explanation depends on.
type Input struct {
	Owner reconcile.Owner
	// Object is the Kubernetes object named by Owner (*corev1.Pod,
	// *corev1.Node, ...); nil when it does not exist.
	Object metav1.Object
	// Node is a pod's node; nil when it does not exist.
	Node *corev1.Node
	// NB and SB are the rows read: the owner's and those of the Query.
	NB, SB []model.Model
}

// rows indexes the rows read by table and name.
type rows struct {
	byName map[string]map[string]model.Model
	// SB
	bindings map[string]*sbdb.PortBinding // by logical_port
	chassis  map[string]*sbdb.Chassis     // by name and by uuid
}

func index(nb, sb []model.Model) rows {
	r := rows{byName: map[string]map[string]model.Model{}, bindings: map[string]*sbdb.PortBinding{}, chassis: map[string]*sbdb.Chassis{}}
	for _, m := range nb {
		t := tableOf(m)
		if r.byName[t] == nil {
			r.byName[t] = map[string]model.Model{}
		}
		if n := stringField(m, "Name"); n != "" {
			r.byName[t][n] = m
		}
	}
	for _, m := range sb {
		switch s := m.(type) {
		case *sbdb.PortBinding:
			r.bindings[s.LogicalPort] = s
		case *sbdb.Chassis:
			r.chassis[s.Name] = s
			r.chassis[s.UUID] = s
		}
	}
	return r
}

func (r rows) get(table, name string) model.Model { return r.byName[table][name] }

func (r rows) lsp(name string) *nbdb.LogicalSwitchPort {
	m, _ := r.get(nbdb.LogicalSwitchPortTable, name).(*nbdb.LogicalSwitchPort)
	return m
}

func (r rows) ls(name string) *nbdb.LogicalSwitch {
	m, _ := r.get(nbdb.LogicalSwitchTable, name).(*nbdb.LogicalSwitch)
	return m
}

func (r rows) lr(name string) *nbdb.LogicalRouter {
	m, _ := r.get(nbdb.LogicalRouterTable, name).(*nbdb.LogicalRouter)
	return m
}

func (r rows) lrp(name string) *nbdb.LogicalRouterPort {
	m, _ := r.get(nbdb.LogicalRouterPortTable, name).(*nbdb.LogicalRouterPort)
	return m
}

// binding reads a port's SB binding and the chassis that claimed it.
func (r rows) binding(port string) (*Binding, *sbdb.PortBinding) {
	pb := r.bindings[port]
	if pb == nil {
		return nil, nil
	}
	b := &Binding{LogicalPort: port, Up: pb.Up != nil && *pb.Up}
	if pb.Chassis != nil {
		b.Chassis = *pb.Chassis // a uuid until the chassis row is known
		if c := r.chassis[*pb.Chassis]; c != nil {
			b.Chassis, b.Hostname = c.Name, c.Hostname
		}
	}
	return b, pb
}

// report collects the missing lines.
type report struct {
	Report
}

func (r *report) miss(format string, a ...any) {
	r.Missing = append(r.Missing, fmt.Sprintf(format, a...))
}

// Explain builds the report of in.Owner from what was read: pure, so every
// missing line is table-tested.
func Explain(in Input) Report {
	r := &report{Report{Kind: in.Owner.Type, Name: in.Owner.Name, Rows: []TableRows{}, Missing: []string{}}}
	var owned []model.Model
	for _, m := range in.NB {
		if ownedBy(m, in.Owner) {
			owned = append(owned, m)
		}
	}
	r.Rows = group(owned)
	k := kindOf(in.Owner.Type)
	exists := in.Object != nil
	if k.Object {
		r.Exists = &exists
		if exists {
			r.Annotations = ovnAnnotations(in.Object.GetAnnotations())
		}
	}
	idx := index(in.NB, in.SB)
	switch in.Owner.Type {
	case topology.OwnerTypePod:
		r.pod(in, idx)
	case topology.OwnerTypeNode:
		r.node(in, idx)
	default:
		if k.Object && !exists {
			r.miss("%s %s does not exist", in.Owner.Type, in.Owner.Name)
			if len(owned) > 0 {
				r.miss("its %d rows in the NB are left over: the master removes them", len(owned))
			}
		} else if len(owned) == 0 {
			r.miss("no NB row is owned by %s", in.Owner)
		}
	}
	return r.Report
}

func (r *report) pod(in Input, idx rows) {
	ns, name := splitKey(in.Owner.Name)
	portName := pod.PortName(ns, name)
	p, _ := in.Object.(*corev1.Pod)
	lsp := idx.lsp(portName)
	if p == nil {
		r.miss("pod %s does not exist", in.Owner.Name)
		if lsp != nil {
			r.miss("its port %s is still in the NB: the master removes it", portName)
		}
		return
	}
	info := &PodInfo{Phase: string(p.Status.Phase), NodeName: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork}
	r.Pod = info
	leftover := func() {
		if lsp != nil {
			r.miss("its port %s is still in the NB: the master removes it", portName)
		}
	}
	switch {
	case p.Spec.HostNetwork:
		r.miss("no address and no port: the pod uses the host network, which ovnkube does not manage")
		leftover()
		return
	case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		r.miss("no address and no port: the pod has finished (phase %s)", p.Status.Phase)
		leftover()
		return
	case p.Spec.NodeName == "":
		r.miss("the pod is not scheduled (phase %s, no spec.nodeName): it gets an address and a port once it is bound to a node", p.Status.Phase)
		return
	}
	nodeName := p.Spec.NodeName

	// The allocation: the node's subnets and the pod's addresses in them.
	var subnets []netip.Prefix
	subnetsOK := false
	if in.Node == nil {
		r.miss("node %s does not exist: the pod gets no address until it does", nodeName)
	} else {
		var present bool
		var err error
		subnets, present, err = kube.ParseNodeSubnets(in.Node.Annotations)
		switch {
		case err != nil:
			r.miss("node %s: %v", nodeName, err)
		case !present:
			r.miss("node %s has no %s yet: the master has not given it a subnet, and the pod waits for one", nodeName, kube.NodeSubnetsAnnotation)
		default:
			subnetsOK = true
			for _, s := range subnets {
				info.NodeSubnets = append(info.NodeSubnets, s.String())
			}
		}
	}
	addrs, present, err := kube.ParsePodNetworks(p.Annotations)
	allocated := false
	switch {
	case err != nil:
		r.miss("%v: the master re-allocates it", err)
	case !present:
		if subnetsOK {
			r.miss("no %s annotation yet: the master has not allocated the pod's address", kube.PodNetworksAnnotation)
		}
	default:
		allocated = true
		info.MAC = addrs.MAC.String()
		for _, ip := range addrs.IPs {
			info.IPs = append(info.IPs, ip.String())
			if subnetsOK && !slices.ContainsFunc(subnets, func(s netip.Prefix) bool { return s.Contains(ip.Addr()) }) {
				r.miss("address %s is outside node %s's subnets %v: the master re-allocates it", ip, nodeName, info.NodeSubnets)
			}
		}
		for _, g := range addrs.Gateways {
			info.Gateways = append(info.Gateways, g.String())
		}
	}

	// The port, on the node switch.
	nodeSwitch := idx.ls(topology.NodeSwitch(nodeName))
	if lsp == nil {
		if allocated {
			r.miss("no Logical_Switch_Port %s: the master has not programmed the pod's port", portName)
		}
	} else {
		info.Port = &Port{Name: lsp.Name, Addresses: lsp.Addresses, PortSecurity: lsp.PortSecurity,
			RequestedChassis: lsp.Options["requested-chassis"], Up: lsp.Up != nil && *lsp.Up}
		if nodeSwitch != nil && slices.Contains(nodeSwitch.Ports, lsp.UUID) {
			info.Port.Switch = nodeSwitch.Name
		} else if nodeSwitch != nil {
			r.miss("port %s is not in Logical_Switch %s's ports", portName, nodeSwitch.Name)
		}
		if uid := lsp.Options["iface-id-ver"]; uid != "" && uid != string(p.UID) {
			r.miss("port %s is for an earlier pod of the same name (iface-id-ver %s, pod UID %s): the master has not replaced it yet", portName, uid, p.UID)
		}
		if rc := lsp.Options["requested-chassis"]; rc != "" && rc != nodeName {
			r.miss("port %s requests chassis %s, not the pod's node %s", portName, rc, nodeName)
		}
		if allocated {
			ips := make([]netip.Addr, len(addrs.IPs))
			for i, ip := range addrs.IPs {
				ips[i] = ip.Addr()
			}
			want := topology.AddressLine(addrs.MAC, ips)
			if !slices.Equal(lsp.Addresses, []string{want}) {
				r.miss("port %s has addresses %q, the pod's allocation is %q: the master has not programmed it yet", portName, lsp.Addresses, want)
			}
		}
		if !info.Port.Up {
			r.miss("port %s is not up: ovn-controller on %s has not bound it (the pod's interface is not plugged: CNI ADD not done or failed, or ovn-controller is down)", portName, nodeName)
		}
	}

	// Its SB binding and the chassis that claimed it.
	b, pb := idx.binding(portName)
	info.Binding = b
	switch {
	case pb == nil && lsp != nil:
		r.miss("no SB Port_Binding for %s: ovn-northd has not processed the port yet (is ovn-northd running?)", portName)
	case pb != nil && pb.Chassis == nil:
		r.miss("SB Port_Binding %s has no chassis: no ovn-controller has claimed it (is the pod's sandbox on %s, and ovn-controller up there?)", portName, nodeName)
	case pb != nil && b.Hostname != "" && b.Hostname != nodeName:
		r.miss("SB Port_Binding %s is bound on chassis %s (hostname %s), not on the pod's node %s", portName, b.Chassis, b.Hostname, nodeName)
	}

	// The way out: node switch, ovn_cluster_router, join, gateway router.
	info.Path = r.hops(idx, clusterPath(nodeName), subnetsOK)
	gw := gatewayPath(nodeName, false)
	if ready, why := gatewayReady(in.Node); ready || idx.lr(topology.GatewayRouter(nodeName)) != nil {
		info.Path = append(info.Path, r.hops(idx, gw, ready)...)
	} else if subnetsOK {
		r.miss("node %s has no gateway router %s yet: %s; pods reach the cluster but not the outside", nodeName, topology.GatewayRouter(nodeName), why)
	}
	r.members(idx, nodeName)
}

// gatewayReady says whether the master has what a node's gateway router
// needs (its chassis, the agent's l3-gateway-config and the join
// addresses), or what is missing.
func gatewayReady(n *corev1.Node) (bool, string) {
	if n == nil {
		return false, "the node does not exist"
	}
	var missing []string
	for _, k := range []string{kube.NodeChassisIDAnnotation, kube.L3GatewayConfigAnnotation, kube.NodeGatewayRouterLRPIfAddrsAnnotation} {
		if _, ok := n.Annotations[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return true, ""
	}
	return false, "the node has no " + strings.Join(missing, ", ")
}

// hops renders a path; a row not in the NB is a missing line when it is
// expected (its inputs are there), and is left out of the path otherwise.
func (r *report) hops(idx rows, specs []hopSpec, expected bool) []Hop {
	var out []Hop
	for _, h := range specs {
		m := idx.get(h.table, h.name)
		if m == nil && !expected {
			continue
		}
		hop := Hop{Table: h.table, Name: h.name, Role: h.role, Found: m != nil}
		if m != nil {
			hop.Detail = summary(m)
		} else {
			r.miss("no %s %s (%s): the master has not programmed it", h.table, h.name, h.role)
		}
		out = append(out, hop)
	}
	return out
}

// members checks the links of a node's rows: the ports in their switch and
// router, which a row present on its own does not prove.
func (r *report) members(idx rows, node string) {
	sw := idx.ls(topology.NodeSwitch(node))
	for _, name := range []string{topology.SwitchToRouterPort(node), topology.ManagementPort(node)} {
		if lsp := idx.lsp(name); lsp != nil && sw != nil && !slices.Contains(sw.Ports, lsp.UUID) {
			r.miss("port %s is not in Logical_Switch %s's ports", name, sw.Name)
		}
	}
	if lrp, cr := idx.lrp(topology.RouterToSwitchPort(node)), idx.lr(topology.ClusterRouter); lrp != nil && cr != nil && !slices.Contains(cr.Ports, lrp.UUID) {
		r.miss("port %s is not in %s's ports", lrp.Name, cr.Name)
	}
}

func (r *report) node(in Input, idx rows) {
	n, _ := in.Object.(*corev1.Node)
	name := in.Owner.Name
	if n == nil {
		r.miss("node %s does not exist", name)
		if len(r.Rows) > 0 {
			r.miss("its rows in the NB are left over: the master removes them")
		}
		return
	}
	info := &NodeInfo{}
	r.Node = info
	subnets, present, err := kube.ParseNodeSubnets(n.Annotations)
	subnetsOK := present && err == nil
	switch {
	case err != nil:
		r.miss("%v", err)
	case !present:
		r.miss("no %s yet: the master has not allocated the node's subnet (is it running? is the cluster network full? see the node's Events)", kube.NodeSubnetsAnnotation)
	}
	for _, s := range subnets {
		info.Subnets = append(info.Subnets, s.String())
	}
	id, err := kube.ParseChassisID(n.Annotations)
	switch {
	case err != nil:
		r.miss("%v", err)
	case id == "":
		r.miss("no %s: ovnkube node has not started on %s (no chassis, no gateway)", kube.NodeChassisIDAnnotation, name)
	}
	info.ChassisID = id

	info.Topology = r.hops(idx, nodeHops(name, id), subnetsOK)
	gw := gatewayPath(name, true)
	if ready, why := gatewayReady(n); ready || idx.lr(topology.GatewayRouter(name)) != nil {
		info.Topology = append(info.Topology, r.hops(idx, gw, ready)...)
	} else if id != "" {
		r.miss("no gateway router %s yet: %s", topology.GatewayRouter(name), why)
	}
	r.members(idx, name)

	mp := topology.ManagementPort(name)
	if b, pb := idx.binding(mp); pb != nil {
		info.ManagementPort = b
		if pb.Chassis == nil || !b.Up {
			r.miss("management port %s is not bound: ovnkube node has not plugged ovn-k8s-mp0 on %s, or ovn-controller there is down", mp, name)
		}
	} else if idx.lsp(mp) != nil {
		r.miss("no SB Port_Binding for %s: ovn-northd has not processed it yet (is ovn-northd running?)", mp)
	}

	if id != "" {
		c := idx.chassis[id]
		if c == nil {
			r.miss("chassis %s is not registered in the SB: ovn-controller on %s has not connected (check its ovn-remote)", id, name)
		} else {
			info.Chassis = &Chassis{Name: c.Name, Hostname: c.Hostname}
			if c.Hostname != name {
				r.miss("chassis %s reports hostname %q, not %s: pods' requested-chassis=%s never binds there", id, c.Hostname, name, name)
			}
		}
	}
}
