package node

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
	"github.com/ovnkube/ovnkube/pkg/topology/topotest"
)

func TestRows(t *testing.T) {
	tests := []struct {
		name        string
		in          Input
		ids         []string
		otherConfig map[string]string
		rtosMAC     string
		networks    []string
		mgmtAddrs   []string
	}{{
		name: "ipv4",
		in:   Input{Name: "node1", Subnets: topotest.Prefixes("10.244.1.0/24")},
		ids:  []string{"node1", "rtos-node1", "stor-node1", "k8s-node1", "mgmt-allow-10.244.1.2"},
		otherConfig: map[string]string{"subnet": "10.244.1.0/24", "exclude_ips": "10.244.1.2",
			"mcast_snoop": "true", "mcast_querier": "true", "mcast_eth_src": "0a:58:0a:f4:01:01", "mcast_ip4_src": "10.244.1.1"},
		rtosMAC:   "0a:58:0a:f4:01:01",
		networks:  []string{"10.244.1.1/24"},
		mgmtAddrs: []string{"0a:58:0a:f4:01:02 10.244.1.2"},
	}, {
		name: "dual-stack with chassis",
		in:   Input{Name: "n2", Subnets: topotest.Prefixes("10.244.2.0/24", "fd00:10:244:2::/64"), ChassisID: "c0ffee"},
		ids:  []string{"n2", "rtos-n2", "stor-n2", "k8s-n2", "rtos-n2-c0ffee", "mgmt-allow-10.244.2.2", "mgmt-allow-fd00:10:244:2::2"},
		otherConfig: map[string]string{"subnet": "10.244.2.0/24", "exclude_ips": "10.244.2.2", "ipv6_prefix": "fd00:10:244:2::",
			"mcast_snoop": "true", "mcast_querier": "true", "mcast_eth_src": "0a:58:0a:f4:02:01", "mcast_ip4_src": "10.244.2.1",
			"mcast_ip6_src": "fe80::858:aff:fef4:201"},
		rtosMAC:   "0a:58:0a:f4:02:01",
		networks:  []string{"10.244.2.1/24", "fd00:10:244:2::1/64"},
		mgmtAddrs: []string{"0a:58:0a:f4:02:02 10.244.2.2 fd00:10:244:2::2"},
	}, {
		name: "ipv6 only",
		in:   Input{Name: "n6", Subnets: topotest.Prefixes("fd00:10:244:3::/64")},
		ids:  []string{"n6", "rtos-n6", "stor-n6", "k8s-n6", "mgmt-allow-fd00:10:244:3::2"},
		otherConfig: map[string]string{"ipv6_prefix": "fd00:10:244:3::",
			"mcast_snoop": "true", "mcast_querier": "true", "mcast_eth_src": "0a:58:00:00:00:01", "mcast_ip6_src": "fe80::858:ff:fe00:1"},
		rtosMAC:   "0a:58:00:00:00:01",
		networks:  []string{"fd00:10:244:3::1/64"},
		mgmtAddrs: []string{"0a:58:00:00:00:02 fd00:10:244:3::2"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := Rows(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			m := topotest.ByID(rows)
			if len(m) != len(tt.ids) {
				t.Errorf("got %d rows, want %v", len(m), tt.ids)
			}
			for _, id := range tt.ids {
				if _, ok := m[id]; !ok {
					t.Errorf("missing row %q", id)
				}
				if acl, ok := m[id].Model.(*nbdb.ACL); ok {
					ip := strings.TrimPrefix(id, "mgmt-allow-")
					l3 := "ip4"
					if strings.Contains(ip, ":") {
						l3 = "ip6"
					}
					if acl.Match != l3+".src == "+ip || acl.Priority != 1001 || acl.Action != nbdb.ACLActionAllowRelated || acl.Direction != nbdb.ACLDirectionToLport {
						t.Errorf("management port ACL %+v", acl)
					}
				}
			}
			ls := m[tt.in.Name].Model.(*nbdb.LogicalSwitch)
			if !reflect.DeepEqual(ls.OtherConfig, tt.otherConfig) {
				t.Errorf("other_config = %v, want %v", ls.OtherConfig, tt.otherConfig)
			}
			lrp := m["rtos-"+tt.in.Name]
			if got := lrp.Model.(*nbdb.LogicalRouterPort); got.MAC != tt.rtosMAC || !reflect.DeepEqual(got.Networks, tt.networks) {
				t.Errorf("rtos = %s %v, want %s %v", got.MAC, got.Networks, tt.rtosMAC, tt.networks)
			}
			if !reflect.DeepEqual(lrp.Parents, []reconcile.Ref{topology.ClusterRouterRef}) {
				t.Errorf("rtos parents = %+v, want the cluster router", lrp.Parents)
			}
			if p := m["k8s-"+tt.in.Name].Parents; !reflect.DeepEqual(p, []reconcile.Ref{topology.NodeSwitchRef(tt.in.Name)}) {
				t.Errorf("management port parents = %+v, want the node switch", p)
			}
			// The router port relays multicast: it is in clusterRtrPortGroup.
			if p := m["stor-"+tt.in.Name].Parents; !reflect.DeepEqual(p, []reconcile.Ref{topology.NodeSwitchRef(tt.in.Name),
				topology.ClusterPortGroupRef(topology.ClusterRouterPortGroup)}) {
				t.Errorf("stor parents = %+v, want the node switch and clusterRtrPortGroup", p)
			}
			stor := m["stor-"+tt.in.Name].Model.(*nbdb.LogicalSwitchPort)
			if stor.Type != "router" || stor.Options["router-port"] != "rtos-"+tt.in.Name {
				t.Errorf("stor = %+v", stor)
			}
			mgmt := m["k8s-"+tt.in.Name].Model.(*nbdb.LogicalSwitchPort)
			if !reflect.DeepEqual(mgmt.Addresses, tt.mgmtAddrs) {
				t.Errorf("management addresses = %v, want %v", mgmt.Addresses, tt.mgmtAddrs)
			}
			if tt.in.ChassisID != "" {
				gc := m["rtos-"+tt.in.Name+"-"+tt.in.ChassisID]
				if got := gc.Model.(*nbdb.GatewayChassis); got.ChassisName != tt.in.ChassisID || got.Priority != 1 {
					t.Errorf("gateway chassis = %+v", got)
				}
				if !reflect.DeepEqual(gc.Parents, []reconcile.Ref{topology.NodeRouterPortRef(tt.in.Name)}) {
					t.Errorf("gateway chassis parents = %+v", gc.Parents)
				}
			}
		})
	}
}

func TestNodeRowsRejectsTinySubnet(t *testing.T) {
	if _, err := Rows(Input{Name: "n", Subnets: topotest.Prefixes("10.0.0.0/31")}); err == nil {
		t.Fatal("a /31 has no .2 for the management port; want an error")
	}
	if _, err := Rows(Input{Name: "n"}); err == nil {
		t.Fatal("want an error for a node without subnets")
	}
}
