package pod

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
	"github.com/ovnkube/ovnkube/pkg/topology/topotest"
)

func TestPodRows(t *testing.T) {
	mac := topology.MACFromIP(netip.MustParseAddr("10.244.1.5"))
	rows := Rows(Input{Namespace: "ns1", Name: "web-0", UID: "u-1", Node: "node1", MAC: mac,
		IPs: topotest.Prefixes("10.244.1.5/24", "fd00:10:244:1::5/64")})
	if len(rows) != 1 {
		t.Fatalf("rows = %v", rows)
	}
	lsp := rows[0].Model.(*nbdb.LogicalSwitchPort)
	line := []string{"0a:58:0a:f4:01:05 10.244.1.5 fd00:10:244:1::5"}
	if lsp.Name != "ns1_web-0" || !reflect.DeepEqual(lsp.Addresses, line) || !reflect.DeepEqual(lsp.PortSecurity, line) {
		t.Errorf("port = %+v", lsp)
	}
	if lsp.Options["requested-chassis"] != "node1" || lsp.Options["iface-id-ver"] != "u-1" {
		t.Errorf("options = %v", lsp.Options)
	}
	want := []reconcile.Ref{{Owner: reconcile.Owner{Type: "Node", Name: "node1"}, Table: nbdb.LogicalSwitchTable, ID: "node1"}}
	if !reflect.DeepEqual(rows[0].Parents, want) {
		t.Errorf("parents = %+v, want %+v", rows[0].Parents, want)
	}
}
