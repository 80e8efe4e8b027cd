package reconcile

import "testing"

func TestRowOwner(t *testing.T) {
	pod := Owner{Type: "Pod", Name: "ns/web"}
	tests := []struct {
		name  string
		ids   map[string]string
		owner Owner
		local string
		ok    bool
	}{
		{"ours", map[string]string{OwnerControllerKey: DefaultController, IDKey: rowID(DefaultController, pod, "ns_web")}, pod, "ns_web", true},
		{"local id with colons", map[string]string{OwnerControllerKey: DefaultController,
			IDKey: rowID(DefaultController, Owner{Type: "Node", Name: "n1"}, "join-route-fd98::2")},
			Owner{Type: "Node", Name: "n1"}, "join-route-fd98::2", true},
		{"someone else's row", map[string]string{"note": "keep"}, Owner{}, "", false},
		{"another controller", map[string]string{OwnerControllerKey: "other", IDKey: rowID("other", pod, "x")}, Owner{}, "", false},
		{"malformed id", map[string]string{OwnerControllerKey: DefaultController, IDKey: "garbage"}, Owner{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, local, ok := RowOwner(tt.ids, DefaultController)
			if o != tt.owner || local != tt.local || ok != tt.ok {
				t.Errorf("RowOwner = %v, %q, %v; want %v, %q, %v", o, local, ok, tt.owner, tt.local, tt.ok)
			}
		})
	}
}
