package networkpolicy

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The fuzz targets below feed arbitrary strings to the parsers of values
// another party controls: address-set owner names read back from NB rows
// (ParsePeerKeyID) and a namespace's k8s.ovn.org/acl-logging annotation
// (ParseLogging). Seeds are the values of the table tests next to them.
// `make fuzz` runs each target; `go test` runs the seeds only.

// FuzzParsePeerKeyID: the ID of a key ParsePeerKeyID accepts parses back to
// an equal key (apimachinery's semantic equality: an empty selector map or
// list is the same selection as an absent one), with the same ID.
func FuzzParsePeerKeyID(f *testing.F) {
	normalized := normalize(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "b", Operator: metav1.LabelSelectorOpIn, Values: []string{"2", "1"}}, {Key: "a", Operator: metav1.LabelSelectorOpExists}}})
	for _, k := range []PeerKey{
		{Namespace: "ns-x", PodSelector: sel("app", "client")},
		{NamespaceSelector: sel("team", "mon"), PodSelector: sel("app", "prom")},
		{NamespaceSelector: sel("team", "mon")},
		{NamespaceSelector: sel()},
		{Namespace: "n", PodSelector: normalized},
		{Namespace: "team-a"},
		{},
	} {
		f.Add(k.ID())
	}
	for _, raw := range []string{`[1]`, `{"podSelector":5}`, `{"namespace":"a"} x`, `null`, `{"podSelector":{"matchLabels":{}}}`} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(raw)))
	}
	for _, s := range []string{"", "!!!", "e30=", "e3", "eyJuYW1lc3BhY2UiOiJucy14In0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		k, err := ParsePeerKeyID(id)
		if err != nil {
			return
		}
		kid := k.ID()
		again, err := ParsePeerKeyID(kid)
		if err != nil || !apiequality.Semantic.DeepEqual(again, k) {
			t.Fatalf("ParsePeerKeyID(%q) = %s; its ID %q parses back to %s, %v", id, k, kid, again, err)
		}
		if again.ID() != kid {
			t.Fatalf("ParsePeerKeyID(%q) = %s; its ID %q parses back to a key with ID %q", id, k, kid, again.ID())
		}
	})
}

// FuzzParseLogging: ParseLogging accepts only OVN's severities (or none),
// returns no logging with its errors and for an absent (empty) value, and
// the documented JSON form of what it accepted parses back to it.
func FuzzParseLogging(f *testing.F) {
	for _, s := range []string{
		`{"deny": "alert", "allow": "notice"}`, `{"deny": "alert"}`, `{"allow": "debug"}`, `{"deny":"warning","allow":"info"}`, `{}`, ``, `null`,
		`{"deny": "loud"}`, `{"allow": "ALERT"}`, `{"deny": 5}`, `{`, `[]`, `"alert"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		l, err := ParseLogging(v)
		if err != nil || v == "" {
			if l != (Logging{}) {
				t.Fatalf("ParseLogging(%q) = %+v, %v: want no logging", v, l, err)
			}
			return
		}
		for _, sev := range []string{l.Deny, l.Allow} {
			switch sev {
			case "", "alert", "warning", "notice", "info", "debug":
			default:
				t.Fatalf("ParseLogging(%q) = %+v: severity %q is not OVN's", v, l, sev)
			}
		}
		b, err := json.Marshal(map[string]string{"deny": l.Deny, "allow": l.Allow})
		if err != nil {
			t.Fatal(err)
		}
		if again, err := ParseLogging(string(b)); err != nil || again != l {
			t.Fatalf("ParseLogging(%q) = %+v; %s parses back to %+v, %v", v, l, b, again, err)
		}
	})
}
