package ovs

import (
	"context"
	"errors"
	"fmt"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/vswitch"
)

// openvSwitchRow returns the single row of the Open_vSwitch table. A
// database without one was never initialized (ovs-vsctl --no-wait init).
func (c *Client) openvSwitchRow(ctx context.Context) (*vswitch.OpenvSwitch, error) {
	var rows []vswitch.OpenvSwitch
	if err := c.c.List(ctx, &rows); err != nil {
		return nil, fmt.Errorf("list Open_vSwitch: %w", err)
	}
	switch len(rows) {
	case 1:
		return &rows[0], nil
	case 0:
		return nil, errors.New("the Open_vSwitch table is empty: the database was not initialized (run ovs-vsctl --no-wait init)")
	default:
		return nil, fmt.Errorf("the Open_vSwitch table has %d rows, want 1", len(rows))
	}
}

// EnsureChassis writes the chassis settings into the Open_vSwitch row's
// external_ids, touching only keys whose value differs, and returns the
// system-id (the chassis name). An existing system-id is kept; one is
// generated only when absent.
func (c *Client) EnsureChassis(ctx context.Context, s ChassisSettings) (string, error) {
	row, err := c.openvSwitchRow(ctx)
	if err != nil {
		return "", err
	}
	systemID := row.ExternalIDs[KeySystemID]
	if systemID == "" {
		systemID = NewSystemID()
		klog.InfoS("Generated OVS system-id", "node", s.Hostname, "systemID", systemID)
	}
	insert, remove := ExternalIDsDiff(row.ExternalIDs, DesiredExternalIDs(s, systemID))
	if insert == nil {
		klog.InfoS("Open_vSwitch external_ids already up to date", "node", s.Hostname, "systemID", systemID)
		return systemID, nil
	}
	var muts []model.Mutation
	if remove != nil {
		muts = append(muts, model.Mutation{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: remove})
	}
	muts = append(muts, model.Mutation{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: insert})
	ops, err := c.c.Where(row).Mutate(row, muts...)
	if err != nil {
		return "", fmt.Errorf("build Open_vSwitch external_ids mutation: %w", err)
	}
	if err := c.transact(ctx, "set Open_vSwitch external_ids", ops...); err != nil {
		return "", err
	}
	klog.InfoS("Set Open_vSwitch external_ids", "node", s.Hostname, "changed", insert)
	return systemID, nil
}
