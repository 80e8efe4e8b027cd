package ovs

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/netip"
	"slices"
)

// External_ids keys of the Open_vSwitch row that ovn-controller reads.
const (
	KeySystemID         = "system-id"
	KeyHostname         = "hostname"
	KeyOVNRemote        = "ovn-remote"
	KeyEncapType        = "ovn-encap-type"
	KeyEncapIP          = "ovn-encap-ip"
	KeyBridgeDatapathTy = "ovn-bridge-datapath-type"
	KeyBridgeMappings   = "ovn-bridge-mappings"
)

// ChassisSettings are the values the node agent owns in the Open_vSwitch
// row's external_ids.
type ChassisSettings struct {
	// Hostname must equal the Kubernetes node name: OVN binds a pod's
	// logical port only on the chassis whose hostname matches the port's
	// requested-chassis option, which the master sets to the node name.
	Hostname     string
	OVNRemote    string // the OVN Southbound, e.g. unix:/var/run/ovn/ovnsb_db.sock
	EncapIP      netip.Addr
	DatapathType string // system or netdev
	// BridgeMappings maps OVN physical network names to local bridges
	// ("physnet:br-ex"): the gateway router's localnet port reaches the
	// outside through br-ex. Empty leaves the key alone.
	BridgeMappings string
}

// DesiredExternalIDs returns the external_ids the chassis should carry.
// systemID is the existing system-id or a freshly generated one.
func DesiredExternalIDs(s ChassisSettings, systemID string) map[string]string {
	ids := map[string]string{
		KeySystemID:         systemID,
		KeyHostname:         s.Hostname,
		KeyOVNRemote:        s.OVNRemote,
		KeyEncapType:        "geneve",
		KeyEncapIP:          s.EncapIP.String(),
		KeyBridgeDatapathTy: s.DatapathType,
	}
	if s.BridgeMappings != "" {
		ids[KeyBridgeMappings] = s.BridgeMappings
	}
	return ids
}

// ExternalIDsDiff returns the pairs of desired whose key is missing from
// current or holds another value (to insert), and the current pairs those
// replace (to delete first). Keys not in desired are someone else's and
// are left alone. Both maps are nil when nothing differs, so an unchanged
// node restarts without writing.
func ExternalIDsDiff(current, desired map[string]string) (insert, remove map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		want := desired[k]
		have, ok := current[k]
		if ok && have == want {
			continue
		}
		if insert == nil {
			insert = map[string]string{}
		}
		insert[k] = want
		if ok {
			if remove == nil {
				remove = map[string]string{}
			}
			remove[k] = have
		}
	}
	return insert, remove
}

// NewSystemID returns a random (version 4) UUID. The system-id is the OVN
// chassis name; it is generated once and persists in conf.db, so a
// restarted agent keeps its chassis and the tunnels pointing at it.
func NewSystemID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on Linux (Go 1.24+ crashes instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
