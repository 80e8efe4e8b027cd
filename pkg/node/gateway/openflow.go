package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	goovs "github.com/digitalocean/go-openvswitch/ovs"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/node/ovs"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// flowResync bounds how long flows removed behind our back (an
// ovs-vswitchd restart, an operator's del-flows) stay missing when no
// OVSDB change tells us.
const flowResync = 30 * time.Second

// Flows keeps br-ex's OpenFlow table equal to SharedGatewayFlows of the
// bridge's current ports. Flows are written with ovs-ofctl (through
// go-openvswitch) in one bundle, so the bridge never forwards with half a
// table.
type Flows struct {
	oc       *ovs.Client
	of       *goovs.OpenFlowService
	target   string // what ovs-ofctl connects to
	bridge   string
	uplink   string
	localnet string // the node's localnet port, br-ex_<node>
}

// NewFlows returns the flow keeper of node's br-ex owning uplink.
// ovsAddress is the node's --ovs-address: with a unix socket, ovs-ofctl
// talks to the bridge's management socket in the same run directory
// (ovs-vswitchd puts <bridge>.mgmt beside db.sock), so no OVS_RUNDIR is
// needed in the agent's environment.
func NewFlows(oc *ovs.Client, ovsAddress, node string, up Uplink) *Flows {
	target := up.Bridge
	if path, ok := strings.CutPrefix(ovsAddress, "unix:"); ok {
		target = "unix:" + filepath.Join(filepath.Dir(path), up.Bridge+".mgmt")
	}
	return &Flows{
		oc:       oc,
		of:       goovs.New(goovs.Protocols([]string{goovs.ProtocolOpenFlow14})).OpenFlow,
		target:   target,
		bridge:   up.Bridge,
		uplink:   up.Port,
		localnet: topology.ExternalBridgeInterfaceID(up.Bridge, node),
	}
}

// Sync writes the flows unless the bridge already holds exactly them. It
// reports whether it wrote.
func (f *Flows) Sync(ctx context.Context) (bool, error) {
	ports, err := f.ports(ctx)
	if err != nil {
		return false, err
	}
	if ports.Uplink == 0 {
		// ovs-vswitchd assigns it in a moment; its Interface update wakes Run.
		klog.V(2).InfoS("Uplink has no OpenFlow port yet", "bridge", f.bridge, "uplink", f.uplink)
		return false, nil
	}
	want := SharedGatewayFlows(ports)
	have, err := f.of.DumpFlows(f.target)
	if err != nil {
		return false, fmt.Errorf("dump %s flows: %w", f.bridge, err)
	}
	if inPlace(have, want) {
		return false, nil
	}
	err = f.of.AddFlowBundle(f.target, func(tx *goovs.FlowTransaction) error {
		for _, t := range []int{0, replyTable} {
			tx.Delete(&goovs.MatchFlow{Table: t})
		}
		tx.Add(want...)
		return tx.Commit()
	})
	if err != nil {
		return false, fmt.Errorf("write %s flows: %w", f.bridge, err)
	}
	klog.InfoS("Wrote external bridge flows", "bridge", f.bridge, "uplinkOFPort", ports.Uplink, "patchOFPort", ports.Patch,
		"flows", len(want), "cookie", fmt.Sprintf("%#x", want[0].Cookie))
	return true, nil
}

// Run syncs at once, at every OVS interface change (the patch port
// appearing, an ofport reassigned after an ovs-vswitchd restart) and
// every flowResync, until ctx ends. Failures are logged and retried.
func (f *Flows) Run(ctx context.Context) {
	t := time.NewTicker(flowResync)
	defer t.Stop()
	for {
		changed := f.oc.InterfaceChanged()
		if _, err := f.Sync(ctx); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "External bridge flows not in place; retrying", "bridge", f.bridge)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

func (f *Flows) ports(ctx context.Context) (BridgePorts, error) {
	var p BridgePorts
	var err error
	if p.Uplink, err = f.oc.OFPort(ctx, f.uplink); err != nil {
		return p, err
	}
	patch, err := f.oc.LocalnetPatchPort(ctx, f.bridge, f.localnet)
	if err != nil || patch == "" {
		return p, err
	}
	p.Patch, err = f.oc.OFPort(ctx, patch)
	return p, err
}

// inPlace reports whether the bridge's flows are exactly want: as many,
// all with want's cookie (which hashes the whole set).
func inPlace(have, want []*goovs.Flow) bool {
	if len(have) != len(want) {
		return false
	}
	for _, h := range have {
		if h.Cookie != want[0].Cookie {
			return false
		}
	}
	return true
}
