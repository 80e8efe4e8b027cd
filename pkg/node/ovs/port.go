package ovs

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/ovsdb-models/vswitch"
)

// Interface external_ids keys shared with ovn-controller.
const (
	KeyIfaceID      = "iface-id"      // the logical switch port name
	KeyIfaceIDVer   = "iface-id-ver"  // the pod UID; must match the LSP option
	KeySandbox      = "sandbox"       // the CNI container id
	KeyAttachedMAC  = "attached-mac"  // the pod's MAC
	KeyOVNInstalled = "ovn-installed" // set to "true" by ovn-controller once flows are in
)

// PortSpec describes a single-interface port.
type PortSpec struct {
	Name        string
	Type        string // "" for a system device (veth), "internal" for an OVS-created one
	ExternalIDs map[string]string
	MAC         string // Interface mac column (internal ports only); "" leaves it unset
	MTURequest  int    // 0 leaves mtu_request unset
}

// EnsurePort makes bridge have port spec.Name with one interface of the same
// name carrying spec. A missing port is created in one transaction
// (Interface, Port, the bridge's ports), so ovn-controller never sees an
// interface without its iface-id. An existing interface gets only the
// columns that differ.
func (c *Client) EnsurePort(ctx context.Context, bridge string, spec PortSpec) error {
	what := fmt.Sprintf("add port %s to %s", spec.Name, bridge)
	br := &vswitch.Bridge{Name: bridge}
	if err := c.c.Get(ctx, br); err != nil {
		return fmt.Errorf("%s: look up bridge: %w", what, err)
	}
	iface := &vswitch.Interface{Name: spec.Name}
	err := c.c.Get(ctx, iface)
	switch {
	case err == nil:
		return c.updateInterface(ctx, what, iface, spec)
	case !errors.Is(err, client.ErrNotFound):
		return fmt.Errorf("%s: look up interface: %w", what, err)
	}
	iface = &vswitch.Interface{UUID: "iface", Name: spec.Name, Type: spec.Type, ExternalIDs: maps.Clone(spec.ExternalIDs)}
	if spec.MAC != "" {
		iface.MAC = &spec.MAC
	}
	if spec.MTURequest > 0 {
		iface.MTURequest = &spec.MTURequest
	}
	port := &vswitch.Port{UUID: "port", Name: spec.Name, Interfaces: []string{iface.UUID}}
	var ops []ovsdb.Operation
	for _, m := range []model.Model{iface, port} {
		o, err := c.c.Create(m)
		if err != nil {
			return fmt.Errorf("%s: build insert: %w", what, err)
		}
		ops = append(ops, o...)
	}
	o, err := c.c.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID}})
	if err != nil {
		return fmt.Errorf("%s: build bridge mutation: %w", what, err)
	}
	return c.transact(ctx, what, append(ops, o...)...)
}

func (c *Client) updateInterface(ctx context.Context, what string, iface *vswitch.Interface, spec PortSpec) error {
	var fields []any
	if spec.MAC != "" && (iface.MAC == nil || *iface.MAC != spec.MAC) {
		iface.MAC = &spec.MAC
		fields = append(fields, &iface.MAC)
	}
	if spec.MTURequest > 0 && (iface.MTURequest == nil || *iface.MTURequest != spec.MTURequest) {
		iface.MTURequest = &spec.MTURequest
		fields = append(fields, &iface.MTURequest)
	}
	var ops []ovsdb.Operation
	if len(fields) > 0 {
		o, err := c.c.Where(iface).Update(iface, fields...)
		if err != nil {
			return fmt.Errorf("%s: build interface update: %w", what, err)
		}
		ops = append(ops, o...)
	}
	insert, remove := ExternalIDsDiff(iface.ExternalIDs, spec.ExternalIDs)
	if insert != nil {
		var muts []model.Mutation
		if remove != nil {
			muts = append(muts, model.Mutation{Field: &iface.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: remove})
		}
		muts = append(muts, model.Mutation{Field: &iface.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: insert})
		o, err := c.c.Where(iface).Mutate(iface, muts...)
		if err != nil {
			return fmt.Errorf("%s: build external_ids mutation: %w", what, err)
		}
		ops = append(ops, o...)
	}
	return c.transact(ctx, what, ops...)
}

// DeletePort removes port name (and its interfaces) from bridge. A port
// that does not exist is not an error: CNI DEL must be idempotent.
func (c *Client) DeletePort(ctx context.Context, bridge, name string) error {
	what := fmt.Sprintf("delete port %s from %s", name, bridge)
	port := &vswitch.Port{Name: name}
	if err := c.c.Get(ctx, port); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("%s: look up port: %w", what, err)
	}
	br := &vswitch.Bridge{Name: bridge}
	if err := c.c.Get(ctx, br); err != nil {
		return fmt.Errorf("%s: look up bridge: %w", what, err)
	}
	// Removing the reference is enough: Port and Interface are non-root
	// tables, so OVSDB garbage-collects them in the same commit.
	ops, err := c.c.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{port.UUID}})
	if err != nil {
		return fmt.Errorf("%s: build bridge mutation: %w", what, err)
	}
	return c.transact(ctx, what, ops...)
}

// PortExists reports whether a port named name is in the cache.
func (c *Client) PortExists(ctx context.Context, name string) (bool, error) {
	err := c.c.Get(ctx, &vswitch.Port{Name: name})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, client.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("look up port %s: %w", name, err)
	}
}

// Interface returns the cached interface row named name.
func (c *Client) Interface(ctx context.Context, name string) (*vswitch.Interface, error) {
	iface := &vswitch.Interface{Name: name}
	if err := c.c.Get(ctx, iface); err != nil {
		return nil, fmt.Errorf("look up interface %s: %w", name, err)
	}
	return iface, nil
}
