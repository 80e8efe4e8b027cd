package explain

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/ovsdb-models/sbdb"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

func TestParseOwner(t *testing.T) {
	tests := []struct {
		kind, name string
		want       reconcile.Owner
		err        string
	}{
		{"pod", "ns/web", topology.PodOwner("ns/web"), ""},
		{"po", "web", topology.PodOwner("default/web"), ""},
		{"Pod", "ns/web", topology.PodOwner("ns/web"), ""},
		{"nodes", "node-1", topology.NodeOwner("node-1"), ""},
		{"svc", "kube-system/dns", topology.ServiceOwner("kube-system/dns"), ""},
		{"netpol", "ns/deny", reconcile.Owner{Type: "NetworkPolicy", Name: "ns/deny"}, ""},
		{"cluster", "", topology.ClusterOwner, ""},
		{"defaultdeny", "ns/ingress", reconcile.Owner{Type: "DefaultDeny", Name: "ns/ingress"}, ""},
		{"pod", "", reconcile.Owner{}, "needs a name"},
		{"pod", "a/b/c", reconcile.Owner{}, "want NAMESPACE/NAME"},
		{"pod", "/web", reconcile.Owner{}, "want NAMESPACE/NAME"},
		{"node", "ns/node-1", reconcile.Owner{}, "has no namespace"},
		{"deployment", "ns/x", reconcile.Owner{}, `unknown kind "deployment"`},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.name, func(t *testing.T) {
			got, err := ParseOwner(tt.kind, tt.name)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseOwner = %v, %v; want error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseOwner = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// checkMissing asserts the missing lines: as many as want, each containing
// its fragment, in order.
func checkMissing(t *testing.T, got []string, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(got[i], want[i])
	}
	if !ok {
		t.Errorf("missing lines:\n  %s\nwant lines containing, in order:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestExplainPod(t *testing.T) {
	base := func(t *testing.T) *world {
		w := newWorld(t)
		w.addNode("node-1", "10.244.1.0/24", chassis1, 1)
		w.addNode("node-2", "10.244.2.0/24", chassis2, 2)
		w.addPod("ns", "web", "node-1", "10.244.1.5/24")
		return w
	}
	tests := []struct {
		name    string
		mutate  func(w *world)
		missing []string
		check   func(t *testing.T, r Report)
	}{{
		name:    "programmed and bound",
		mutate:  func(*world) {},
		missing: nil,
		check: func(t *testing.T, r Report) {
			p := r.Pod
			if p.Port == nil || p.Port.Name != "ns_web" || p.Port.Switch != "node-1" || !p.Port.Up ||
				!reflect.DeepEqual(p.Port.Addresses, []string{"0a:58:0a:f4:01:05 10.244.1.5"}) ||
				!reflect.DeepEqual(p.Port.PortSecurity, p.Port.Addresses) || p.Port.RequestedChassis != "node-1" {
				t.Errorf("port = %+v", p.Port)
			}
			if !reflect.DeepEqual(p.IPs, []string{"10.244.1.5/24"}) || p.MAC != "0a:58:0a:f4:01:05" ||
				!reflect.DeepEqual(p.Gateways, []string{"10.244.1.1"}) || !reflect.DeepEqual(p.NodeSubnets, []string{"10.244.1.0/24"}) {
				t.Errorf("allocation = %v %v %v %v", p.IPs, p.MAC, p.Gateways, p.NodeSubnets)
			}
			if b := p.Binding; b == nil || b.Chassis != chassis1 || b.Hostname != "node-1" || !b.Up {
				t.Errorf("binding = %+v", b)
			}
			var path []string
			for _, h := range p.Path {
				if !h.Found {
					t.Errorf("hop %s %s not found", h.Table, h.Name)
				}
				path = append(path, h.Name)
			}
			want := []string{"node-1", "stor-node-1", "rtos-node-1", "ovn_cluster_router", "rtoj-ovn_cluster_router", "join",
				"jtor-GR_node-1", "rtoj-GR_node-1", "GR_node-1"}
			if !reflect.DeepEqual(path, want) {
				t.Errorf("path = %v, want %v", path, want)
			}
			if len(r.Rows) != 1 || r.Rows[0].Table != "Logical_Switch_Port" || r.Rows[0].Rows[0].Name != "ns_web" {
				t.Errorf("owned rows = %+v", r.Rows)
			}
			if r.Exists == nil || !*r.Exists || r.Annotations[kube.PodNetworksAnnotation] == "" {
				t.Errorf("exists %v, annotations %v", r.Exists, r.Annotations)
			}
		},
	}, {
		name: "pending: not scheduled",
		mutate: func(w *world) {
			p := w.pods["ns/web"]
			p.Spec.NodeName, p.Status.Phase = "", corev1.PodPending
			delete(p.Annotations, kube.PodNetworksAnnotation)
			w.dropNB(nbdb.LogicalSwitchPortTable, "ns_web")
			w.dropSB(func(m model.Model) bool { pb, ok := m.(*sbdb.PortBinding); return ok && pb.LogicalPort == "ns_web" })
		},
		missing: []string{"the pod is not scheduled (phase Pending, no spec.nodeName)"},
		check: func(t *testing.T, r Report) {
			if r.Pod.Port != nil || r.Pod.Binding != nil || len(r.Pod.Path) != 0 || len(r.Rows) != 0 {
				t.Errorf("an unscheduled pod has %+v, rows %v", r.Pod, r.Rows)
			}
		},
	}, {
		name:    "host network",
		mutate:  func(w *world) { w.pods["ns/web"].Spec.HostNetwork = true },
		missing: []string{"uses the host network", "its port ns_web is still in the NB"},
	}, {
		name:    "finished",
		mutate:  func(w *world) { w.pods["ns/web"].Status.Phase = corev1.PodSucceeded },
		missing: []string{"the pod has finished (phase Succeeded)", "its port ns_web is still in the NB"},
	}, {
		name:    "pod deleted, port left over",
		mutate:  func(w *world) { delete(w.pods, "ns/web") },
		missing: []string{"pod ns/web does not exist", "its port ns_web is still in the NB"},
		check: func(t *testing.T, r Report) {
			if r.Exists == nil || *r.Exists {
				t.Errorf("exists = %v", r.Exists)
			}
		},
	}, {
		name: "node has no subnet yet",
		mutate: func(w *world) {
			delete(w.nodes["node-1"].Annotations, kube.NodeSubnetsAnnotation)
			delete(w.pods["ns/web"].Annotations, kube.PodNetworksAnnotation)
			w.dropNB(nbdb.LogicalSwitchPortTable, "ns_web")
			w.dropSB(func(m model.Model) bool { pb, ok := m.(*sbdb.PortBinding); return ok && pb.LogicalPort == "ns_web" })
		},
		missing: []string{"node node-1 has no k8s.ovn.org/node-subnets yet"},
	}, {
		name:    "node object missing",
		mutate:  func(w *world) { delete(w.nodes, "node-1") },
		missing: []string{"node node-1 does not exist"},
	}, {
		name: "no pod-networks annotation yet",
		mutate: func(w *world) {
			delete(w.pods["ns/web"].Annotations, kube.PodNetworksAnnotation)
			w.dropNB(nbdb.LogicalSwitchPortTable, "ns_web")
			w.dropSB(func(m model.Model) bool { pb, ok := m.(*sbdb.PortBinding); return ok && pb.LogicalPort == "ns_web" })
		},
		missing: []string{"no k8s.ovn.org/pod-networks annotation yet"},
	}, {
		name: "allocated, no port yet",
		mutate: func(w *world) {
			w.dropNB(nbdb.LogicalSwitchPortTable, "ns_web")
			w.dropSB(func(m model.Model) bool { pb, ok := m.(*sbdb.PortBinding); return ok && pb.LogicalPort == "ns_web" })
		},
		missing: []string{"no Logical_Switch_Port ns_web: the master has not programmed the pod's port"},
	}, {
		name: "port not bound yet",
		mutate: func(w *world) {
			w.lsp("ns_web").Up = nil
			pb := w.binding("ns_web")
			pb.Chassis, pb.Up = nil, nil
		},
		missing: []string{"port ns_web is not up: ovn-controller on node-1 has not bound it",
			"SB Port_Binding ns_web has no chassis"},
	}, {
		name: "northd has not created the binding",
		mutate: func(w *world) {
			w.lsp("ns_web").Up = nil
			w.dropSB(func(m model.Model) bool { pb, ok := m.(*sbdb.PortBinding); return ok && pb.LogicalPort == "ns_web" })
		},
		missing: []string{"port ns_web is not up", "no SB Port_Binding for ns_web: ovn-northd has not processed"},
	}, {
		name:    "bound on another node's chassis",
		mutate:  func(w *world) { w.binding("ns_web").Chassis = w.chassisUUID("node-2") },
		missing: []string{"SB Port_Binding ns_web is bound on chassis " + chassis2 + " (hostname node-2), not on the pod's node node-1"},
	}, {
		name: "port has an older allocation and an older incarnation",
		mutate: func(w *world) {
			l := w.lsp("ns_web")
			l.Addresses = []string{"0a:58:0a:f4:01:09 10.244.1.9"}
			l.Options["iface-id-ver"] = "uid-old"
		},
		missing: []string{"is for an earlier pod of the same name (iface-id-ver uid-old, pod UID uid-web)",
			`has addresses ["0a:58:0a:f4:01:09 10.244.1.9"], the pod's allocation is "0a:58:0a:f4:01:05 10.244.1.5"`},
	}, {
		name: "address outside the node's subnet",
		mutate: func(w *world) {
			w.pods["ns/web"].Spec.NodeName = "node-2"
			w.lsp("ns_web").Options["requested-chassis"] = "node-2"
		},
		missing: []string{"address 10.244.1.5/24 is outside node node-2's subnets", "port ns_web is not in Logical_Switch node-2's ports", "bound on chassis"},
	}, {
		name: "node switch and router port gone",
		mutate: func(w *world) {
			w.dropNB(nbdb.LogicalSwitchTable, "node-1")
			w.dropNB(nbdb.LogicalRouterPortTable, "rtos-node-1")
		},
		missing: []string{"no Logical_Switch node-1 (node switch)", "no Logical_Router_Port rtos-node-1 (ovn_cluster_router port on the node switch"},
		check: func(t *testing.T, r Report) {
			if r.Pod.Port.Switch != "" {
				t.Errorf("port switch = %q without a switch", r.Pod.Port.Switch)
			}
		},
	}, {
		name: "node without a gateway yet",
		mutate: func(w *world) {
			delete(w.nodes["node-1"].Annotations, kube.L3GatewayConfigAnnotation)
			for _, n := range []struct{ table, name string }{{nbdb.LogicalRouterTable, "GR_node-1"},
				{nbdb.LogicalRouterPortTable, "rtoj-GR_node-1"}, {nbdb.LogicalSwitchPortTable, "jtor-GR_node-1"}} {
				w.dropNB(n.table, n.name)
			}
		},
		missing: []string{"node node-1 has no gateway router GR_node-1 yet: the node has no k8s.ovn.org/l3-gateway-config"},
		check: func(t *testing.T, r Report) {
			if n := len(r.Pod.Path); n != 6 {
				t.Errorf("path has %d hops, want the 6 up to join: %+v", n, r.Pod.Path)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := base(t)
			tt.mutate(w)
			r := Explain(w.input(topology.PodOwner("ns/web")))
			checkMissing(t, r.Missing, tt.missing)
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestExplainNode(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(w *world)
		missing []string
		check   func(t *testing.T, r Report)
	}{{
		name:   "programmed with chassis and gateway",
		mutate: func(*world) {},
		check: func(t *testing.T, r Report) {
			n := r.Node
			if n == nil || n.ChassisID != chassis1 || !reflect.DeepEqual(n.Subnets, []string{"10.244.1.0/24"}) {
				t.Fatalf("node = %+v", n)
			}
			if n.Chassis == nil || n.Chassis.Name != chassis1 || n.Chassis.Hostname != "node-1" {
				t.Errorf("chassis = %+v", n.Chassis)
			}
			if b := n.ManagementPort; b == nil || b.LogicalPort != "k8s-node-1" || !b.Up || b.Hostname != "node-1" {
				t.Errorf("management port = %+v", b)
			}
			var names []string
			for _, h := range n.Topology {
				if !h.Found {
					t.Errorf("hop %s %s not found", h.Table, h.Name)
				}
				names = append(names, h.Name)
			}
			want := []string{"node-1", "stor-node-1", "rtos-node-1", "k8s-node-1", "rtos-node-1-" + chassis1,
				"jtor-GR_node-1", "rtoj-GR_node-1", "GR_node-1", "rtoe-GR_node-1", "ext_node-1"}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("topology = %v, want %v", names, want)
			}
			var tables []string
			for _, tr := range r.Rows {
				tables = append(tables, tr.Table)
			}
			for _, want := range []string{"ACL", "Gateway_Chassis", "Logical_Router", "Logical_Router_Port", "Logical_Router_Static_Route",
				"Logical_Switch", "Logical_Switch_Port", "NAT"} {
				if !slices.Contains(tables, want) {
					t.Errorf("owned rows have no %s: %v", want, tables)
				}
			}
			if !sort.SliceIsSorted(r.Rows, func(i, j int) bool { return r.Rows[i].Table < r.Rows[j].Table }) {
				t.Errorf("tables not sorted: %v", tables)
			}
		},
	}, {
		name: "new node: no subnet, no chassis",
		mutate: func(w *world) {
			n := w.nodes["node-1"]
			n.Annotations = map[string]string{}
			w.nb = w.nb[:0]
			w.sb = nil
		},
		missing: []string{"no k8s.ovn.org/node-subnets yet", "no k8s.ovn.org/node-chassis-id: ovnkube node has not started on node-1"},
		check: func(t *testing.T, r Report) {
			if len(r.Node.Topology) != 0 {
				t.Errorf("topology of a node without subnet: %+v", r.Node.Topology)
			}
		},
	}, {
		name: "chassis not registered, management port not bound",
		mutate: func(w *world) {
			w.dropSB(func(m model.Model) bool { _, ok := m.(*sbdb.Chassis); return ok })
			pb := w.binding("k8s-node-1")
			pb.Chassis, pb.Up = nil, nil
		},
		missing: []string{"management port k8s-node-1 is not bound", "chassis " + chassis1 + " is not registered in the SB"},
	}, {
		name: "chassis with another hostname",
		mutate: func(w *world) {
			for _, m := range w.sb {
				if c, ok := m.(*sbdb.Chassis); ok {
					c.Hostname = "node-1.example.com"
				}
			}
		},
		missing: []string{`reports hostname "node-1.example.com", not node-1`},
	}, {
		name: "router port not in ovn_cluster_router",
		mutate: func(w *world) {
			for _, m := range w.nb {
				if r, ok := m.(*nbdb.LogicalRouter); ok && r.Name == topology.ClusterRouter {
					r.Ports = nil
				}
			}
		},
		missing: []string{"port rtos-node-1 is not in ovn_cluster_router's ports"},
	}, {
		name:    "node deleted",
		mutate:  func(w *world) { delete(w.nodes, "node-1") },
		missing: []string{"node node-1 does not exist", "its rows in the NB are left over"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.addNode("node-1", "10.244.1.0/24", chassis1, 1)
			tt.mutate(w)
			r := Explain(w.input(topology.NodeOwner("node-1")))
			checkMissing(t, r.Missing, tt.missing)
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestExplainOtherKinds(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	owner := topology.ServiceOwner("ns/web")
	lb := &nbdb.LoadBalancer{UUID: "u1", Name: "Service_ns/web_TCP_cluster", Vips: map[string]string{"10.96.0.10:80": "10.244.1.5:8080"},
		ExternalIDs: map[string]string{reconcile.OwnerControllerKey: reconcile.DefaultController, reconcile.OwnerTypeKey: "Service",
			reconcile.OwnerKey: "ns/web", reconcile.IDKey: "default-network-controller:Service:ns/web:Service_ns/web_TCP_cluster"}}
	other := &nbdb.LoadBalancer{UUID: "u2", Name: "Service_ns/db_TCP_cluster"}
	tests := []struct {
		name    string
		in      Input
		rows    int
		missing []string
	}{
		{"service with its load balancer", Input{Owner: owner, Object: svc, NB: []model.Model{lb, other}}, 1, nil},
		{"service without rows", Input{Owner: owner, Object: svc, NB: []model.Model{other}}, 0, []string{"no NB row is owned by Service/ns/web"}},
		{"deleted service, rows left over", Input{Owner: owner, NB: []model.Model{lb}}, 1,
			[]string{"Service ns/web does not exist", "its 1 rows in the NB are left over"}},
		{"cluster has no object", Input{Owner: topology.ClusterOwner}, 0, []string{"no NB row is owned by Cluster/default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Explain(tt.in)
			n := 0
			for _, tr := range r.Rows {
				n += len(tr.Rows)
			}
			if n != tt.rows {
				t.Errorf("rows = %+v, want %d", r.Rows, tt.rows)
			}
			if n == 1 && (r.Rows[0].Rows[0].Name != lb.Name || r.Rows[0].Rows[0].Summary != "10.96.0.10:80 -> 10.244.1.5:8080") {
				t.Errorf("row = %+v", r.Rows[0].Rows[0])
			}
			checkMissing(t, r.Missing, tt.missing)
		})
	}
}

func TestRowNames(t *testing.T) {
	w := newWorld(t)
	w.addNode("node-1", "10.244.1.0/24", chassis1, 1)
	r := Explain(w.input(topology.NodeOwner("node-1")))
	names := map[string][]string{}
	for _, tr := range r.Rows {
		for _, row := range tr.Rows {
			if row.Name == row.UUID {
				t.Errorf("%s row named only by its uuid: %+v", tr.Table, row)
			}
			names[tr.Table] = append(names[tr.Table], row.Name)
		}
	}
	for table, want := range map[string]string{"ACL": "mgmt-allow-10.244.1.2", "NAT": "snat-10.244.1.0/24",
		"Logical_Router_Static_Route": "default-0.0.0.0/0"} {
		if !slices.Contains(names[table], want) {
			t.Errorf("%s rows %v, want one named %s", table, names[table], want)
		}
	}
}

func TestPlan(t *testing.T) {
	w := newWorld(t)
	w.addNode("node-1", "10.244.1.0/24", chassis1, 1)
	p := w.addPod("ns", "web", "node-1", "10.244.1.5/24")
	has := func(ls []Lookup, table, value string) bool {
		return slices.ContainsFunc(ls, func(l Lookup) bool { return l.Table == table && l.Value == value })
	}
	q := Plan(topology.PodOwner("ns/web"), p, w.nodes["node-1"])
	for _, want := range []Lookup{{"Logical_Switch_Port", "name", "ns_web"}, {"Logical_Switch", "name", "node-1"},
		{"Logical_Router_Port", "name", "rtos-node-1"}, {"Logical_Router", "name", "GR_node-1"}} {
		if !has(q.NB, want.Table, want.Value) {
			t.Errorf("pod plan NB %v lacks %v", q.NB, want)
		}
	}
	if !has(q.SB, "Port_Binding", "ns_web") || !has(q.SB, "Chassis", chassis1) {
		t.Errorf("pod plan SB = %v", q.SB)
	}
	// Every hop the report shows is read: a hop the plan forgets would
	// always be reported missing.
	r := Explain(w.input(topology.PodOwner("ns/web")))
	for _, h := range r.Pod.Path {
		if !has(q.NB, h.Table, h.Name) {
			t.Errorf("path hop %s %s is not in the plan", h.Table, h.Name)
		}
	}
	nq := Plan(topology.NodeOwner("node-1"), w.nodes["node-1"], w.nodes["node-1"])
	nr := Explain(w.input(topology.NodeOwner("node-1")))
	for _, h := range nr.Node.Topology {
		if !has(nq.NB, h.Table, h.Name) {
			t.Errorf("node hop %s %s is not in the plan", h.Table, h.Name)
		}
	}
	if !has(nq.SB, "Port_Binding", "k8s-node-1") || !has(nq.SB, "Chassis", chassis1) {
		t.Errorf("node plan SB = %v", nq.SB)
	}
	pending := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	if q := Plan(topology.PodOwner("ns/p"), pending, nil); len(q.NB) != 1 || len(q.SB) != 1 {
		t.Errorf("a pending pod reads its port and binding only: %+v", q)
	}
}

// TestReportJSON pins the JSON field names scripts read.
func TestReportJSON(t *testing.T) {
	w := newWorld(t)
	w.addNode("node-1", "10.244.1.0/24", chassis1, 1)
	w.addPod("ns", "web", "node-1", "10.244.1.5/24")
	b, err := json.Marshal(Explain(w.input(topology.PodOwner("ns/web"))))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kind    string   `json:"kind"`
		Name    string   `json:"name"`
		Exists  bool     `json:"exists"`
		Missing []string `json:"missing"`
		Rows    []struct {
			Table string `json:"table"`
			Rows  []struct {
				Name, UUID, Summary string
			} `json:"rows"`
		} `json:"rows"`
		Pod struct {
			NodeName string   `json:"nodeName"`
			IPs      []string `json:"ips"`
			Port     struct {
				Name      string   `json:"name"`
				Switch    string   `json:"switch"`
				Addresses []string `json:"addresses"`
				Up        bool     `json:"up"`
			} `json:"port"`
			Path []struct {
				Table, Name string
				Found       bool `json:"found"`
			} `json:"path"`
			Binding struct {
				Chassis  string `json:"chassis"`
				Hostname string `json:"hostname"`
			} `json:"binding"`
		} `json:"pod"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "Pod" || got.Name != "ns/web" || !got.Exists || got.Missing == nil || len(got.Missing) != 0 ||
		got.Pod.NodeName != "node-1" || got.Pod.Port.Name != "ns_web" || got.Pod.Port.Switch != "node-1" || !got.Pod.Port.Up ||
		got.Pod.Binding.Hostname != "node-1" || len(got.Pod.Path) != 9 || got.Rows[0].Table != "Logical_Switch_Port" {
		t.Errorf("JSON report:\n%s", b)
	}
	if !strings.Contains(string(b), `"missing":[]`) {
		t.Errorf("an empty missing list must be [] for scripts, not null: %s", b)
	}
}

func TestWriteText(t *testing.T) {
	w := newWorld(t)
	w.addNode("node-1", "10.244.1.0/24", chassis1, 1)
	w.addPod("ns", "web", "node-1", "10.244.1.5/24")
	w.lsp("ns_web").Up = nil
	var b strings.Builder
	if err := WriteText(&b, Explain(w.input(topology.PodOwner("ns/web")))); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Pod ns/web\n", "Logical_Switch_Port ns_web", "switch:             node-1", "up:                 false",
		"SB Port_Binding ns_web", "hostname:  node-1", "Router path", "rtos-node-1", "GR_node-1",
		"NB rows owned by Pod/ns/web", "Missing\n  - port ns_web is not up"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}
