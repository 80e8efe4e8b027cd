package ovs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ovnkube/ovnkube/ovsdb-models/vswitch"
)

// WaitInstalled blocks until ovn-controller has set
// external_ids:ovn-installed="true" on interface name, which it does once
// the pod's flows are in br-int; before that a pod's first packets would
// be dropped. It is driven by the cache's update notifications, not by
// polling the database. The error after timeout says what was awaited.
func (c *Client) WaitInstalled(ctx context.Context, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		// Take the channel before reading, so a change between the read
		// and the wait is not missed.
		changed := c.InterfaceChanged()
		iface := &vswitch.Interface{Name: name}
		err := c.c.Get(ctx, iface)
		switch {
		case err == nil && iface.ExternalIDs[KeyOVNInstalled] == "true":
			return nil
		case err != nil && !errors.Is(err, client.ErrNotFound):
			return fmt.Errorf("look up interface %s: %w", name, err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for ovn-controller to set external_ids:%s=true on OVS interface %s (is ovn-controller running and connected to the southbound DB?)",
					timeout, KeyOVNInstalled, name)
			}
			return ctx.Err()
		}
	}
}
