package cluster

import (
	"reflect"
	"testing"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
	"github.com/ovnkube/ovnkube/pkg/topology/topotest"
)

func TestClusterRows(t *testing.T) {
	rows, err := Rows(Input{JoinSubnets: topotest.Prefixes("100.64.0.0/16", "fd98::/64")})
	if err != nil {
		t.Fatal(err)
	}
	m := topotest.ByID(rows)
	rtoj := m["rtoj-ovn_cluster_router"].Model.(*nbdb.LogicalRouterPort)
	if rtoj.MAC != "0a:58:64:40:00:01" || !reflect.DeepEqual(rtoj.Networks, []string{"100.64.0.1/16", "fd98::1/64"}) {
		t.Errorf("rtoj = %s %v", rtoj.MAC, rtoj.Networks)
	}
	jtor := m["jtor-ovn_cluster_router"].Model.(*nbdb.LogicalSwitchPort)
	if jtor.Options["router-port"] != "rtoj-ovn_cluster_router" || jtor.Type != "router" {
		t.Errorf("jtor = %+v", jtor)
	}
	if _, ok := m["ovn_cluster_router"].Model.(*nbdb.LogicalRouter); !ok {
		t.Error("no ovn_cluster_router")
	}
	if _, ok := m["join"].Model.(*nbdb.LogicalSwitch); !ok {
		t.Error("no join switch")
	}
	if !reflect.DeepEqual(m["rtoj-ovn_cluster_router"].Parents, []reconcile.Ref{topology.ClusterRouterRef}) ||
		!reflect.DeepEqual(m["jtor-ovn_cluster_router"].Parents, []reconcile.Ref{topology.JoinSwitchRef}) {
		t.Errorf("join ports' parents = %+v, %+v", m["rtoj-ovn_cluster_router"].Parents, m["jtor-ovn_cluster_router"].Parents)
	}
}
