// Package cluster registers the Cluster owner: the rows every node links into
// (ovn_cluster_router, the join switch and their ports).
package cluster

import (
	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// OwnerType returns the Cluster owner type for cfg.
func OwnerType(cfg *config.Config) reconcile.OwnerType {
	return reconcile.OwnerType{
		Name: topology.OwnerTypeCluster,
		Tables: []string{nbdb.LogicalRouterTable, nbdb.LogicalRouterPortTable,
			nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.LoadBalancerGroupTable, nbdb.MeterTable, nbdb.MeterBandTable,
			nbdb.PortGroupTable, nbdb.ACLTable},
		List: func() ([]string, error) { return []string{topology.ClusterOwner.Name}, nil },
		Desired: func(name string) ([]reconcile.Row, error) {
			if name != topology.ClusterOwner.Name {
				return nil, nil // a stale cluster owner of another name: remove its rows
			}
			return Rows(Input{JoinSubnets: cfg.JoinSubnets, ACLLoggingRate: cfg.ACLLoggingRateLimit})
		},
	}
}
