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
	if r := m["ovn_cluster_router"].Model.(*nbdb.LogicalRouter); r.Options["mcast_relay"] != "true" {
		t.Errorf("ovn_cluster_router options %v: no mcast_relay", r.Options)
	}
	for _, pg := range []string{"clusterPortGroup", "clusterRtrPortGroup"} {
		if g, ok := m[pg].Model.(*nbdb.PortGroup); !ok || g.Name != pg {
			t.Errorf("no port group %s", pg)
		}
	}
	if !reflect.DeepEqual(m["rtoj-ovn_cluster_router"].Parents, []reconcile.Ref{topology.ClusterRouterRef}) ||
		!reflect.DeepEqual(m["jtor-ovn_cluster_router"].Parents, []reconcile.Ref{topology.JoinSwitchRef}) {
		t.Errorf("join ports' parents = %+v, %+v", m["rtoj-ovn_cluster_router"].Parents, m["jtor-ovn_cluster_router"].Parents)
	}
}

// TestACLLoggingMeter: the acl-logging meter is one Meter with one drop
// band at the configured rate, linked through the meter's bands.
func TestACLLoggingMeter(t *testing.T) {
	rows, err := Rows(Input{JoinSubnets: topotest.Prefixes("100.64.0.0/16"), ACLLoggingRate: 20})
	if err != nil {
		t.Fatal(err)
	}
	var meter *nbdb.Meter
	var band *nbdb.MeterBand
	var bandParents []reconcile.Ref
	for _, r := range rows {
		switch m := r.Model.(type) {
		case *nbdb.Meter:
			meter = m
		case *nbdb.MeterBand:
			band, bandParents = m, r.Parents
		}
	}
	if meter == nil || meter.Name != ACLLoggingMeter || meter.Unit != nbdb.MeterUnitPktps || meter.Fair == nil || !*meter.Fair {
		t.Fatalf("meter %+v", meter)
	}
	if band == nil || band.Rate != 20 || band.Action != nbdb.MeterBandActionDrop || len(bandParents) != 1 || bandParents[0].Column != "bands" || bandParents[0].ID != ACLLoggingMeter {
		t.Fatalf("band %+v parents %+v", band, bandParents)
	}
	if rows, _ := Rows(Input{JoinSubnets: topotest.Prefixes("100.64.0.0/16")}); len(rows) != 13 {
		t.Errorf("without a rate: %d rows, want 13 (no meter)", len(rows))
	}
}
