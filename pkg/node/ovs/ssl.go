package ovs

import (
	"context"
	"fmt"

	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/vswitch"
)

// SSLFiles are the PEM files ovn-controller presents to and verifies an
// ssl: Southbound with. It reads them from the Open_vSwitch row's ssl
// reference (what `ovs-vsctl set-ssl` writes).
type SSLFiles struct {
	PrivateKey, Certificate, CACert string
}

// EnsureSSL points the Open_vSwitch row's ssl at a row with files,
// writing only when the current one differs. Open vSwitch verifies the
// peer's chain against CACert, not its name.
func (c *Client) EnsureSSL(ctx context.Context, files SSLFiles) error {
	row, err := c.openvSwitchRow(ctx)
	if err != nil {
		return err
	}
	if row.SSL != nil {
		cur := &vswitch.SSL{UUID: *row.SSL}
		if err := c.c.Get(ctx, cur); err == nil && cur.PrivateKey == files.PrivateKey &&
			cur.Certificate == files.Certificate && cur.CaCert == files.CACert {
			return nil
		}
	}
	ssl := &vswitch.SSL{UUID: "newssl", PrivateKey: files.PrivateKey, Certificate: files.Certificate, CaCert: files.CACert}
	ops, err := c.c.Create(ssl)
	if err != nil {
		return fmt.Errorf("build SSL row: %w", err)
	}
	ref := "newssl"
	row.SSL = &ref
	upd, err := c.c.Where(row).Update(row, &row.SSL)
	if err != nil {
		return fmt.Errorf("build Open_vSwitch ssl update: %w", err)
	}
	// The old SSL row, no longer referenced, is garbage-collected by
	// ovsdb-server (SSL is not a root table).
	if err := c.transact(ctx, "set Open_vSwitch ssl", append(ops, upd...)...); err != nil {
		return err
	}
	klog.InfoS("Set the Open_vSwitch SSL files for ovn-controller", "certificate", files.Certificate, "caCert", files.CACert)
	return nil
}
