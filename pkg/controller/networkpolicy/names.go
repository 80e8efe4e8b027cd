package networkpolicy

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxName bounds the names we write: OVN's ACL name column holds at most
// 63 characters, and port-group names stay within the same bound so one
// rule serves both.
const maxName = 63

// SafeName makes s a name OVN accepts in a match (@port_group, $address_set):
// letters, digits and '_' only ('-', '.' and '/' become '_'). Past maxName
// the tail is replaced by a hash of the whole, so names stay readable and
// unique.
func SafeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	out := string(b)
	if len(out) <= maxName {
		return out
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	suffix := fmt.Sprintf("_%016x", h.Sum64())
	return out[:maxName-len(suffix)] + suffix
}

// PortGroupName is a policy's port group: the pods it selects.
func PortGroupName(namespace, policy string) string { return SafeName(namespace + "_" + policy) }

// DefaultDenyPortGroupName is a namespace's default-deny port group of one
// direction, which every pod an isolating policy selects joins.
func DefaultDenyPortGroupName(namespace string, egress bool) string {
	if egress {
		return SafeName(namespace + "_egressDefaultDeny")
	}
	return SafeName(namespace + "_ingressDefaultDeny")
}

// ACLName names a policy's rule as ovn-controller logs it:
// <namespace>_<policy>_<ingress|egress>_<rule index>.
func ACLName(namespace, policy string, egress bool, rule int) string {
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	return SafeName(fmt.Sprintf("%s_%s_%s_%d", namespace, policy, dir, rule))
}

// PeerKey identifies the pods a peer selects: the same key, whichever
// policy names it, is one shared address set.
type PeerKey struct {
	// Namespace is the policy's namespace, when the peer has no
	// namespaceSelector (its pods are in that namespace).
	Namespace string `json:"namespace,omitempty"`
	// NamespaceSelector, when set, selects the namespaces ("{}" all).
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// PodSelector selects the pods in those namespaces; nil all of them.
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`
}

// String is the key's canonical form: JSON of the normalized selectors.
func (k PeerKey) String() string {
	b, err := json.Marshal(k)
	if err != nil {
		panic(fmt.Sprintf("marshal peer key: %v", err)) // plain structs always marshal
	}
	return string(b)
}

// ID is the key as an owner name: the canonical form in unpadded
// base64url, which has no ':' (row ids split on it) and decodes back.
func (k PeerKey) ID() string { return base64.RawURLEncoding.EncodeToString([]byte(k.String())) }

// ParsePeerKeyID decodes ID.
func ParsePeerKeyID(id string) (PeerKey, error) {
	var k PeerKey
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return k, fmt.Errorf("peer key id %q: %w", id, err)
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, fmt.Errorf("peer key id %q: %w", id, err)
	}
	return k, nil
}

// AddressSetName is the address set of a peer key's pods of one family:
// a hash (a key holds selectors, no readable name fits) with the family,
// the selectors themselves in the row's external_ids.
func AddressSetName(key string, ipv6 bool) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	fam := "v4"
	if ipv6 {
		fam = "v6"
	}
	return fmt.Sprintf("a%016x_%s", h.Sum64(), fam)
}

// normalize drops the ordering and empty parts of a selector, so two
// policies spelling the same selection differently share one key.
func normalize(s *metav1.LabelSelector) *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{}
	if len(s.MatchLabels) > 0 {
		out.MatchLabels = s.MatchLabels // json sorts map keys
	}
	for _, r := range s.MatchExpressions {
		r.Values = slices.Sorted(slices.Values(r.Values))
		out.MatchExpressions = append(out.MatchExpressions, r)
	}
	slices.SortFunc(out.MatchExpressions, func(a, b metav1.LabelSelectorRequirement) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(string(a.Operator), string(b.Operator)),
			slices.Compare(a.Values, b.Values))
	})
	return out
}
