package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
// bridge's current ports plus ServiceFlows of every service. Flows are
// written with ovs-ofctl (through go-openvswitch) in bundles, so the bridge
// never forwards with half a change, and by cookie group: a service's
// change deletes and adds that service's flows only.
type Flows struct {
	oc       *ovs.Client
	of       *goovs.OpenFlowService
	target   string // what ovs-ofctl connects to
	bridge   string
	uplink   string
	localnet string // the node's localnet port, br-ex_<node>
	host     HostAccess

	mu        sync.Mutex
	services  map[string][]Frontend // by service key
	installed map[uint64]int        // cookie -> flows, as last written or dumped
	dirty     chan struct{}         // a service changed
}

// NewFlows returns the flow keeper of node's br-ex owning uplink.
// ovsAddress is the node's --ovs-address: with a unix socket, ovs-ofctl
// talks to the bridge's management socket in the same run directory
// (ovs-vswitchd puts <bridge>.mgmt beside db.sock), so no OVS_RUNDIR is
// needed in the agent's environment.
func NewFlows(oc *ovs.Client, ovsAddress, node string, up Uplink, host HostAccess) *Flows {
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
		host:     host,
		services: map[string][]Frontend{},
		dirty:    make(chan struct{}, 1),
	}
}

// SetService records what service key exposes on this node (nil: nothing,
// or deleted) and wakes Run when it differs.
func (f *Flows) SetService(key string, frontends []Frontend) {
	f.mu.Lock()
	if slices.Equal(f.services[key], frontends) {
		f.mu.Unlock()
		return
	}
	if len(frontends) == 0 {
		delete(f.services, key)
	} else {
		f.services[key] = frontends
	}
	f.mu.Unlock()
	select {
	case f.dirty <- struct{}{}:
	default:
	}
}

// Sync brings the bridge to the desired flows and reports whether it
// wrote. full re-reads the bridge's table first (flows removed behind our
// back, a restart); otherwise the table is taken to be what was last
// written, so a service change costs only its own flows.
func (f *Flows) Sync(ctx context.Context, full bool) (bool, error) {
	ports, err := f.ports(ctx)
	if err != nil {
		return false, err
	}
	if ports.Uplink == 0 {
		// ovs-vswitchd assigns it in a moment; its Interface update wakes Run.
		klog.V(2).InfoS("Uplink has no OpenFlow port yet", "bridge", f.bridge, "uplink", f.uplink)
		return false, nil
	}
	want := map[uint64][]*goovs.Flow{}
	group := func(flows []*goovs.Flow) {
		if len(flows) > 0 {
			want[flows[0].Cookie] = flows
		}
	}
	group(SharedGatewayFlows(ports, f.host))
	f.mu.Lock()
	for key, fes := range f.services {
		group(ServiceFlows(ports, key, fes))
	}
	installed := f.installed
	f.mu.Unlock()
	if full || installed == nil {
		have, err := f.of.DumpFlows(f.target)
		if err != nil {
			return false, fmt.Errorf("dump %s flows: %w", f.bridge, err)
		}
		installed = map[uint64]int{}
		for _, h := range have {
			installed[h.Cookie]++
		}
	}
	var del []uint64
	var add []*goovs.Flow
	for c, n := range installed {
		if len(want[c]) != n {
			del = append(del, c)
		}
	}
	for c, flows := range want {
		if installed[c] != len(flows) {
			add = append(add, flows...)
		}
	}
	if len(del) == 0 && len(add) == 0 {
		f.setInstalled(installed)
		return false, nil
	}
	err = f.of.AddFlowBundle(f.target, func(tx *goovs.FlowTransaction) error {
		for _, c := range del {
			tx.Delete(&goovs.MatchFlow{Cookie: c, CookieMask: ^uint64(0)})
		}
		tx.Add(add...)
		return tx.Commit()
	})
	if err != nil {
		f.setInstalled(nil) // unknown now: re-read at the next sync
		return false, fmt.Errorf("write %s flows: %w", f.bridge, err)
	}
	now := map[uint64]int{}
	for c, flows := range want {
		now[c] = len(flows)
	}
	f.setInstalled(now)
	klog.InfoS("Wrote external bridge flows", "bridge", f.bridge, "uplinkOFPort", ports.Uplink, "patchOFPort", ports.Patch,
		"groupsRemoved", len(del), "flowsAdded", len(add), "groups", len(want))
	return true, nil
}

func (f *Flows) setInstalled(m map[uint64]int) {
	f.mu.Lock()
	f.installed = m
	f.mu.Unlock()
}

// Run syncs at once, fully at every OVS interface change (the patch port
// appearing, an ofport reassigned after an ovs-vswitchd restart) and every
// flowResync, incrementally at every service change, until ctx ends.
// Failures are logged and retried.
func (f *Flows) Run(ctx context.Context) {
	t := time.NewTicker(flowResync)
	defer t.Stop()
	full := true
	for {
		changed := f.oc.InterfaceChanged()
		if _, err := f.Sync(ctx, full); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "External bridge flows not in place; retrying", "bridge", f.bridge)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			full = true
		case <-t.C:
			full = true
		case <-f.dirty:
			full = false
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
