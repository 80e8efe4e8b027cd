package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/controller/cluster"
	"github.com/ovnkube/ovnkube/pkg/controller/node"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// floor commits the rows ovnkube writes for n nodes straight with libovsdb:
// no Kubernetes, no diff, the fewest transactions the same 5000-operation
// bound allows, one mutation of the router's ports per transaction. It is
// the cost of the NB writes alone.
func floor(addr string, n int) (time.Duration, int, int, error) {
	m, err := nbdb.FullDatabaseModel()
	if err != nil {
		return 0, 0, 0, err
	}
	c, err := ovsdbclient.Connect(context.Background(), ovsdbclient.Options{
		// The same cache the master keeps: every committed row comes back as
		// an update to decode, as it must for any controller.
		Endpoints: []string{addr}, Model: m, Tables: topologyTables,
	})
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()

	// Build every model before the clock starts.
	clusterRows, err := cluster.Rows(cluster.Input{JoinSubnets: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/16")}})
	if err != nil {
		return 0, 0, 0, err
	}
	nodes := make([][]reconcile.Row, n)
	base := netip.MustParseAddr("10.128.0.0").As4()
	for i := range nodes {
		v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(i)<<8
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 24)
		nodes[i], err = node.Rows(node.Input{Name: nodeName(i), Subnets: []netip.Prefix{subnet}, ChassisID: fmt.Sprintf("chassis-%04d", i)})
		if err != nil {
			return 0, 0, 0, err
		}
	}

	start := time.Now()
	txns, ops := 0, 0
	commit := func(batch []ovsdb.Operation) error {
		res, err := c.Transact(context.Background(), batch...)
		if err == nil {
			_, err = ovsdb.CheckOperationResults(res, batch)
		}
		txns++
		ops += len(batch)
		return err
	}
	// Cluster rows.
	router := clusterRows[0].Model.(*nbdb.LogicalRouter)
	join := clusterRows[1].Model.(*nbdb.LogicalSwitch)
	rtoj := clusterRows[2].Model.(*nbdb.LogicalRouterPort)
	jtor := clusterRows[3].Model.(*nbdb.LogicalSwitchPort)
	rtoj.UUID, jtor.UUID, router.UUID, join.UUID = "rtoj", "jtor", "router", "join"
	router.Ports, join.Ports = []string{"rtoj"}, []string{"jtor"}
	batch, err := create(c, rtoj, jtor, router, join)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := commit(batch); err != nil {
		return 0, 0, 0, err
	}
	routerUUID := ""
	for uuid := range c.Cache().Table(nbdb.LogicalRouterTable).Rows() {
		routerUUID = uuid
	}
	batch = nil
	var rtos []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		lr := &nbdb.LogicalRouter{UUID: routerUUID}
		mut, err := c.Where(lr).Mutate(lr, model.Mutation{Field: &lr.Ports, Mutator: ovsdb.MutateOperationInsert, Value: rtos})
		if err != nil {
			return err
		}
		err = commit(append(batch, mut...))
		batch, rtos = nil, nil
		return err
	}
	for i, rows := range nodes {
		ls := rows[0].Model.(*nbdb.LogicalSwitch)
		lrp := rows[1].Model.(*nbdb.LogicalRouterPort)
		stor := rows[2].Model.(*nbdb.LogicalSwitchPort)
		mgmt := rows[3].Model.(*nbdb.LogicalSwitchPort)
		gc := rows[4].Model.(*nbdb.GatewayChassis)
		p := fmt.Sprintf("n%d", i)
		stor.UUID, mgmt.UUID, lrp.UUID, gc.UUID = p+"stor", p+"mgmt", p+"lrp", p+"gc"
		ls.Ports = []string{stor.UUID, mgmt.UUID}
		lrp.GatewayChassis = []string{gc.UUID}
		for _, r := range rows {
			setOwnerIDs(r.Model, nodeName(i), r.ID, r.Parents)
		}
		ops, err := create(c, stor, mgmt, gc, lrp, ls)
		if err != nil {
			return 0, 0, 0, err
		}
		batch = append(batch, ops...)
		rtos = append(rtos, lrp.UUID)
		if len(batch) >= 5000-5 {
			if err := flush(); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, 0, err
	}
	return time.Since(start), txns, ops, nil
}

// topologyTables are the tables the master monitors for nodes and pods.
var topologyTables = []string{nbdb.LogicalRouterTable, nbdb.LogicalRouterPortTable,
	nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.GatewayChassisTable}

// setOwnerIDs gives the floor's rows the same external_ids ovnkube writes,
// the parent it records included.
func setOwnerIDs(m model.Model, node, id string, parents []reconcile.Ref) {
	ids := map[string]string{
		reconcile.OwnerControllerKey: reconcile.DefaultController,
		reconcile.OwnerTypeKey:       topology.OwnerTypeNode,
		reconcile.OwnerKey:           node,
		reconcile.IDKey:              reconcile.DefaultController + ":Node:" + node + ":" + id,
	}
	for _, p := range parents { // one each in the node topology
		ids[reconcile.ParentKey] = p.Table + ":" + reconcile.DefaultController + ":" + p.Owner.Type + ":" + p.Owner.Name + ":" + p.ID
	}
	switch r := m.(type) {
	case *nbdb.LogicalSwitch:
		r.ExternalIDs = ids
	case *nbdb.LogicalSwitchPort:
		r.ExternalIDs = ids
	case *nbdb.LogicalRouterPort:
		r.ExternalIDs = ids
	case *nbdb.GatewayChassis:
		r.ExternalIDs = ids
	}
}

// create renders inserts one model at a time (libovsdb's Create takes models
// of one table per call).
func create(c client.Client, models ...model.Model) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, m := range models {
		op, err := c.Create(m)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op...)
	}
	return ops, nil
}
