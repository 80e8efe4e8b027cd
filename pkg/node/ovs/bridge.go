package ovs

import (
	"context"
	"errors"
	"fmt"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/vswitch"
)

// IntegrationBridge is the bridge ovn-controller programs.
const IntegrationBridge = "br-int"

// EnsureBridge creates bridge name with datapathType unless it exists
// ("may-exist"): ovn-controller creates br-int too, and whichever of us
// comes first wins; an existing bridge is left as it is. The bridge is
// created the way ovn-controller would (fail_mode secure, in-band control
// off, its own internal port), so nothing changes when ovn-controller later
// adopts it.
func (c *Client) EnsureBridge(ctx context.Context, name, datapathType string) error {
	for attempt := 0; ; attempt++ {
		br := &vswitch.Bridge{Name: name}
		err := c.c.Get(ctx, br)
		if err == nil {
			if br.DatapathType != datapathType {
				klog.InfoS("Bridge exists with another datapath type; leaving it", "bridge", name,
					"datapathType", br.DatapathType, "wanted", datapathType)
			}
			return nil
		}
		if !errors.Is(err, client.ErrNotFound) {
			return fmt.Errorf("look up bridge %s: %w", name, err)
		}
		err = c.createBridge(ctx, name, datapathType)
		if err == nil {
			klog.InfoS("Created bridge", "bridge", name, "datapathType", datapathType)
			return nil
		}
		// A concurrent creator (ovn-controller) makes our insert violate
		// the unique name; the cache then has its bridge.
		if attempt > 0 {
			return err
		}
		klog.InfoS("Creating bridge failed, retrying once", "bridge", name, "err", err)
	}
}

func (c *Client) createBridge(ctx context.Context, name, datapathType string) error {
	secure := vswitch.BridgeFailModeSecure
	return c.insertBridge(ctx, &vswitch.Bridge{
		Name: name, DatapathType: datapathType, FailMode: &secure,
		OtherConfig: map[string]string{"disable-in-band": "true"},
	})
}

// insertBridge creates br (its name, datapath and config set by the caller)
// with its own internal port, and adds it to the Open_vSwitch row, in one
// transaction.
func (c *Client) insertBridge(ctx context.Context, br *vswitch.Bridge) error {
	root, err := c.openvSwitchRow(ctx)
	if err != nil {
		return err
	}
	iface := &vswitch.Interface{UUID: "iface", Name: br.Name, Type: "internal"}
	port := &vswitch.Port{UUID: "port", Name: br.Name, Interfaces: []string{iface.UUID}}
	br.UUID, br.Ports = "bridge", []string{port.UUID}
	var ops []ovsdb.Operation
	for _, m := range []model.Model{iface, port, br} {
		o, err := c.c.Create(m)
		if err != nil {
			return fmt.Errorf("build insert of bridge %s: %w", br.Name, err)
		}
		ops = append(ops, o...)
	}
	o, err := c.c.Where(root).Mutate(root, model.Mutation{Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{br.UUID}})
	if err != nil {
		return fmt.Errorf("build Open_vSwitch bridges mutation: %w", err)
	}
	return c.transact(ctx, "create bridge "+br.Name, append(ops, o...)...)
}
