package ovs

import (
	"net/netip"
	"reflect"
	"regexp"
	"testing"
)

func TestExternalIDsDiff(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		current, desired       map[string]string
		wantInsert, wantRemove map[string]string
	}{
		{name: "empty row", current: nil, desired: map[string]string{"a": "1"}, wantInsert: map[string]string{"a": "1"}},
		{name: "unchanged", current: map[string]string{"a": "1", "other": "x"}, desired: map[string]string{"a": "1"}},
		{name: "changed value", current: map[string]string{"a": "1", "b": "2"}, desired: map[string]string{"a": "9", "b": "2"},
			wantInsert: map[string]string{"a": "9"}, wantRemove: map[string]string{"a": "1"}},
		{name: "foreign keys untouched", current: map[string]string{"rundir": "/x"}, desired: map[string]string{"a": "1"},
			wantInsert: map[string]string{"a": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ins, rem := ExternalIDsDiff(tc.current, tc.desired)
			if !reflect.DeepEqual(ins, tc.wantInsert) || !reflect.DeepEqual(rem, tc.wantRemove) {
				t.Fatalf("diff = %v, %v; want %v, %v", ins, rem, tc.wantInsert, tc.wantRemove)
			}
		})
	}
}

func TestDesiredExternalIDs(t *testing.T) {
	got := DesiredExternalIDs(ChassisSettings{Hostname: "n1", OVNRemote: "unix:/sb.sock", EncapIP: netip.MustParseAddr("172.31.255.1"), DatapathType: "netdev"}, "id1")
	want := map[string]string{"system-id": "id1", "hostname": "n1", "ovn-remote": "unix:/sb.sock", "ovn-encap-type": "geneve",
		"ovn-encap-ip": "172.31.255.1", "ovn-bridge-datapath-type": "netdev"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestNewSystemID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := NewSystemID(), NewSystemID()
	if !re.MatchString(a) || a == b {
		t.Fatalf("NewSystemID = %q, %q", a, b)
	}
}
