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

// ExternalBridge is the bridge that owns the node's uplink.
const ExternalBridge = "br-ex"

// EnsureExternalBridge makes bridge own uplink: the bridge (created if
// missing, standalone so it forwards like a switch until flows are added,
// its local port carrying mac so the host keeps the uplink's MAC) and the
// uplink as one of its ports. An existing bridge keeps its datapath type;
// only a differing hwaddr is rewritten.
func (c *Client) EnsureExternalBridge(ctx context.Context, bridge, datapathType, mac, uplink string) error {
	br := &vswitch.Bridge{Name: bridge}
	err := c.c.Get(ctx, br)
	switch {
	case errors.Is(err, client.ErrNotFound):
		if err := c.createExternalBridge(ctx, bridge, datapathType, mac); err != nil {
			return err
		}
		klog.InfoS("Created bridge", "bridge", bridge, "datapathType", datapathType, "mac", mac)
	case err != nil:
		return fmt.Errorf("look up bridge %s: %w", bridge, err)
	case br.OtherConfig["hwaddr"] != mac:
		muts := []model.Mutation{}
		if old, ok := br.OtherConfig["hwaddr"]; ok {
			muts = append(muts, model.Mutation{Field: &br.OtherConfig, Mutator: ovsdb.MutateOperationDelete, Value: map[string]string{"hwaddr": old}})
		}
		muts = append(muts, model.Mutation{Field: &br.OtherConfig, Mutator: ovsdb.MutateOperationInsert, Value: map[string]string{"hwaddr": mac}})
		ops, err := c.c.Where(br).Mutate(br, muts...)
		if err != nil {
			return fmt.Errorf("build %s hwaddr mutation: %w", bridge, err)
		}
		if err := c.transact(ctx, "set "+bridge+" other_config:hwaddr", ops...); err != nil {
			return err
		}
	}
	return c.EnsurePort(ctx, bridge, PortSpec{Name: uplink})
}

func (c *Client) createExternalBridge(ctx context.Context, name, datapathType, mac string) error {
	return c.insertBridge(ctx, &vswitch.Bridge{Name: name, DatapathType: datapathType, OtherConfig: map[string]string{"hwaddr": mac}})
}

// BridgeUplink returns the port of bridge that is a system device (not the
// bridge's own internal port, not a patch or tunnel port): the NIC it owns.
// "" when there is none.
func (c *Client) BridgeUplink(ctx context.Context, bridge string) (string, error) {
	ports, err := c.bridgePorts(ctx, bridge)
	if err != nil {
		return "", err
	}
	for _, p := range ports {
		if p.Name == bridge || len(p.Interfaces) != 1 {
			continue
		}
		i := &vswitch.Interface{UUID: p.Interfaces[0]}
		if err := c.c.Get(ctx, i); err == nil && (i.Type == "" || i.Type == "system") {
			return i.Name, nil
		}
	}
	return "", nil
}

// OFPort returns the OpenFlow port number of interface name, or 0 while
// the interface does not exist or ovs-vswitchd has not assigned one yet
// (or has refused it: -1 is reported as 0 too).
func (c *Client) OFPort(ctx context.Context, name string) (int, error) {
	i := &vswitch.Interface{Name: name}
	if err := c.c.Get(ctx, i); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return 0, nil
		}
		return 0, fmt.Errorf("look up interface %s: %w", name, err)
	}
	if i.Ofport == nil || *i.Ofport < 0 {
		return 0, nil
	}
	return *i.Ofport, nil
}

// LocalnetPatchPort returns the name of the patch port ovn-controller made
// on bridge for the localnet logical port localnet (external_ids
// ovn-localnet-port), or "" until it exists: ovn-controller creates it once
// a datapath with that localnet port is bound to this chassis.
func (c *Client) LocalnetPatchPort(ctx context.Context, bridge, localnet string) (string, error) {
	ports, err := c.bridgePorts(ctx, bridge)
	if err != nil {
		return "", err
	}
	for _, p := range ports {
		if p.ExternalIDs["ovn-localnet-port"] == localnet {
			return p.Name, nil
		}
	}
	return "", nil
}

// bridgePorts returns bridge's ports from the cache; none when the bridge
// does not exist.
func (c *Client) bridgePorts(ctx context.Context, bridge string) ([]*vswitch.Port, error) {
	br := &vswitch.Bridge{Name: bridge}
	if err := c.c.Get(ctx, br); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up bridge %s: %w", bridge, err)
	}
	var ports []*vswitch.Port
	for _, pu := range br.Ports {
		p := &vswitch.Port{UUID: pu}
		if err := c.c.Get(ctx, p); err == nil {
			ports = append(ports, p)
		}
	}
	return ports, nil
}
