package explain

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/ovsdb-models/sbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/cluster"
	nodectl "github.com/ovnkube/ovnkube/pkg/controller/node"
	podctl "github.com/ovnkube/ovnkube/pkg/controller/pod"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
	"github.com/ovnkube/ovnkube/pkg/topology/topotest"
)

// world is a cluster as explain reads it: objects, and the NB rows the
// master's own translations produce for them, tagged as the reconciler
// tags them, with the parents' reference columns filled, plus the SB rows
// northd and ovn-controller would add.
type world struct {
	t     *testing.T
	pods  map[string]*corev1.Pod
	nodes map[string]*corev1.Node
	nb    []model.Model
	sb    []model.Model
	rows  map[string]model.Model // "<owner>|<table>|<local id>"
	n     int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, pods: map[string]*corev1.Pod{}, nodes: map[string]*corev1.Node{}, rows: map[string]model.Model{}}
	rows, err := cluster.Rows(cluster.Input{JoinSubnets: topotest.Prefixes("100.64.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	w.add(topology.ClusterOwner, rows)
	return w
}

func (w *world) uuid() string {
	w.n++
	return fmt.Sprintf("00000000-0000-0000-0000-%012d", w.n)
}

// add stores an owner's rows as the reconciler writes them.
func (w *world) add(owner reconcile.Owner, rows []reconcile.Row) {
	w.t.Helper()
	for _, r := range rows {
		m := model.Clone(r.Model)
		v := reflect.ValueOf(m).Elem()
		v.FieldByName("UUID").SetString(w.uuid())
		if f := v.FieldByName("ExternalIDs"); f.IsValid() {
			ids := map[string]string{}
			for k, val := range f.Interface().(map[string]string) {
				ids[k] = val
			}
			ids[reconcile.OwnerControllerKey] = reconcile.DefaultController
			ids[reconcile.OwnerTypeKey] = owner.Type
			ids[reconcile.OwnerKey] = owner.Name
			ids[reconcile.IDKey] = reconcile.DefaultController + ":" + owner.Type + ":" + owner.Name + ":" + r.ID
			f.Set(reflect.ValueOf(ids))
		}
		table := tableOf(m)
		w.rows[owner.String()+"|"+table+"|"+r.ID] = m
		w.nb = append(w.nb, m)
		for _, p := range r.Parents {
			parent := w.rows[p.Owner.String()+"|"+p.Table+"|"+p.ID]
			if parent == nil {
				continue // not needed by explain (port groups of other owners)
			}
			col := map[[2]string]string{
				{nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable}:        "Ports",
				{nbdb.LogicalRouterTable, nbdb.LogicalRouterPortTable}:        "Ports",
				{nbdb.LogicalRouterPortTable, nbdb.GatewayChassisTable}:       "GatewayChassis",
				{nbdb.LogicalRouterTable, nbdb.LogicalRouterStaticRouteTable}: "StaticRoutes",
			}[[2]string{p.Table, table}]
			if col == "" {
				continue
			}
			f := reflect.ValueOf(parent).Elem().FieldByName(col)
			f.Set(reflect.Append(f, reflect.ValueOf(uuidOf(m))))
		}
	}
}

const (
	chassis1 = "c1c1c1c1-0000-4000-8000-000000000001"
	chassis2 = "c2c2c2c2-0000-4000-8000-000000000002"
)

// addNode adds a node with a subnet, a chassis and a gateway, programmed,
// its chassis registered and its management port bound.
func (w *world) addNode(name, subnet, chassisID string, index int) {
	w.t.Helper()
	s := netip.MustParsePrefix(subnet)
	join := netip.MustParsePrefix(fmt.Sprintf("100.64.0.%d/16", index+1))
	nodeIP := netip.MustParsePrefix(fmt.Sprintf("172.18.0.%d/24", index+1))
	gwMAC, _ := net.ParseMAC(fmt.Sprintf("02:42:ac:12:00:%02x", index+1))
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
		kube.NodeSubnetsAnnotation:   kube.FormatNodeSubnets([]netip.Prefix{s}),
		kube.NodeChassisIDAnnotation: chassisID,
		kube.L3GatewayConfigAnnotation: kube.FormatL3GatewayConfig(kube.GatewayConfig{
			InterfaceID: "br-ex_" + name, MAC: gwMAC, IPs: []netip.Prefix{nodeIP},
			NextHops: []netip.Addr{netip.MustParseAddr("172.18.0.254")},
		}),
		kube.NodeGatewayRouterLRPIfAddrsAnnotation: kube.FormatJoinAddrs([]netip.Prefix{join}),
	}}}
	w.nodes[name] = n
	rows, err := nodectl.Rows(nodectl.Input{Name: name, Subnets: []netip.Prefix{s}, ChassisID: chassisID})
	if err != nil {
		w.t.Fatal(err)
	}
	gw, err := nodectl.GatewayRows(nodectl.GatewayInput{Node: name, ChassisID: chassisID, Subnets: []netip.Prefix{s},
		JoinAddrs: []netip.Prefix{join}, InterfaceID: "br-ex_" + name, MAC: gwMAC, NodeIPs: []netip.Prefix{nodeIP},
		NextHops: []netip.Addr{netip.MustParseAddr("172.18.0.254")}, ClusterCIDRs: topotest.Prefixes("10.244.0.0/16"),
		ClusterJoinIP: []netip.Addr{netip.MustParseAddr("100.64.0.1")}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.add(topology.NodeOwner(name), append(rows, gw...))
	chassisUUID := w.uuid()
	up := true
	w.sb = append(w.sb,
		&sbdb.Chassis{UUID: chassisUUID, Name: chassisID, Hostname: name},
		&sbdb.PortBinding{UUID: w.uuid(), LogicalPort: topology.ManagementPort(name), Chassis: &chassisUUID, Up: &up})
	w.setUp(topology.ManagementPort(name))
}

// addPod adds a running pod on node with its address, its port (up) and
// its binding on the node's chassis.
func (w *world) addPod(ns, name, node, ip string) *corev1.Pod {
	w.t.Helper()
	addr := netip.MustParsePrefix(ip)
	mac := topology.MACFromIP(addr.Addr())
	gw, _ := topology.GatewayIP(addr.Masked())
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Annotations: map[string]string{
			kube.PodNetworksAnnotation: kube.FormatPodNetworks(kube.PodAddresses{IPs: []netip.Prefix{addr}, MAC: mac, Gateways: []netip.Addr{gw}}),
		}},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	w.pods[ns+"/"+name] = p
	w.add(topology.PodOwner(ns+"/"+name), podctl.Rows(podctl.Input{Namespace: ns, Name: name, UID: string(p.UID),
		Node: node, MAC: mac, IPs: []netip.Prefix{addr}}))
	port := podctl.PortName(ns, name)
	w.setUp(port)
	up := true
	w.sb = append(w.sb, &sbdb.PortBinding{UUID: w.uuid(), LogicalPort: port, Chassis: w.chassisUUID(node), Up: &up})
	return p
}

func (w *world) chassisUUID(node string) *string {
	id := w.nodes[node].Annotations[kube.NodeChassisIDAnnotation]
	for _, m := range w.sb {
		if c, ok := m.(*sbdb.Chassis); ok && c.Name == id {
			return &c.UUID
		}
	}
	return nil
}

func (w *world) setUp(lspName string) {
	up := true
	w.lsp(lspName).Up = &up
}

func (w *world) lsp(name string) *nbdb.LogicalSwitchPort {
	for _, m := range w.nb {
		if l, ok := m.(*nbdb.LogicalSwitchPort); ok && l.Name == name {
			return l
		}
	}
	w.t.Fatalf("no LSP %s in the fixture", name)
	return nil
}

// dropNB removes an NB row by table and name.
func (w *world) dropNB(table, name string) {
	for i, m := range w.nb {
		if tableOf(m) == table && stringField(m, "Name") == name {
			w.nb = append(w.nb[:i], w.nb[i+1:]...)
			return
		}
	}
	w.t.Fatalf("no %s %s in the fixture", table, name)
}

func (w *world) binding(port string) *sbdb.PortBinding {
	for _, m := range w.sb {
		if pb, ok := m.(*sbdb.PortBinding); ok && pb.LogicalPort == port {
			return pb
		}
	}
	w.t.Fatalf("no Port_Binding %s in the fixture", port)
	return nil
}

func (w *world) dropSB(match func(model.Model) bool) {
	var keep []model.Model
	for _, m := range w.sb {
		if !match(m) {
			keep = append(keep, m)
		}
	}
	w.sb = keep
}

// input is the Input for owner, with the world's object (if any).
func (w *world) input(owner reconcile.Owner) Input {
	in := Input{Owner: owner, NB: w.nb, SB: w.sb}
	switch owner.Type {
	case topology.OwnerTypePod:
		if p := w.pods[owner.Name]; p != nil {
			in.Object = p
			in.Node = w.nodes[p.Spec.NodeName]
		}
	case topology.OwnerTypeNode:
		if n := w.nodes[owner.Name]; n != nil {
			in.Object, in.Node = n, n
		}
	}
	return in
}
