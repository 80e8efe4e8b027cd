// Package ovs is the node agent's contact with the local Open_vSwitch
// database: the chassis settings ovn-controller reads, br-int, and the
// ports of pods and of the management interface. Everything goes through
// one libovsdb client whose cache mirrors the few tables we touch, so reads
// (and the wait for ovn-installed) never cost a round trip.
package ovs

import (
	"context"
	"fmt"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovnkube/ovnkube/ovsdb-models/vswitch"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
)

// Client wraps a libovsdb client of the Open_vSwitch database.
type Client struct {
	c client.Client

	// changed is closed (and replaced) whenever an Interface row changes,
	// so waiters re-check the cache instead of polling it.
	mu      sync.Mutex
	changed chan struct{}
}

// Connect dials the Open_vSwitch database at address (unix:PATH or
// tcp:HOST:PORT) and fills the cache with Open_vSwitch, Bridge, Port and
// Interface.
func Connect(ctx context.Context, address string) (*Client, error) {
	dbModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("build Open_vSwitch model: %w", err)
	}
	oc := &Client{changed: make(chan struct{})}
	c, err := ovsdbclient.Connect(ctx, ovsdbclient.Options{
		Endpoints: []string{address},
		Model:     dbModel,
		Tables:    []string{vswitch.OpenvSwitchTable, vswitch.BridgeTable, vswitch.PortTable, vswitch.InterfaceTable, vswitch.SSLTable},
		Handler: &cache.EventHandlerFuncs{
			AddFunc:    func(table string, _ model.Model) { oc.notify(table) },
			UpdateFunc: func(table string, _, _ model.Model) { oc.notify(table) },
			DeleteFunc: func(table string, _ model.Model) { oc.notify(table) },
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open_vSwitch database (--ovs-address): %w", err)
	}
	oc.c = c
	return oc, nil
}

// Close disconnects.
func (c *Client) Close() { c.c.Close() }

// Raw returns the libovsdb client, for tests and callers that need a
// query this package does not offer.
func (c *Client) Raw() client.Client { return c.c }

func (c *Client) notify(table string) {
	if table != vswitch.InterfaceTable {
		return
	}
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// InterfaceChanged returns a channel closed at the next Interface change
// (a port added or removed, an ofport assigned, external_ids written):
// take it before reading the cache, so a change in between is not missed.
func (c *Client) InterfaceChanged() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// transact commits ops and turns OVSDB's per-operation errors into one
// error naming what was attempted.
func (c *Client) transact(ctx context.Context, what string, ops ...ovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	res, err := c.c.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("%s: transaction: %w", what, err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
