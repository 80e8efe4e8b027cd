// Package kube holds ovnkube's Kubernetes plumbing: the k8s.ovn.org/*
// annotation contract and its codecs, client construction, and Events.
package kube

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Annotation keys of the OVN-Kubernetes contract.
const (
	NodeSubnetsAnnotation   = "k8s.ovn.org/node-subnets"
	NodeIDAnnotation        = "k8s.ovn.org/node-id"
	NodeChassisIDAnnotation = "k8s.ovn.org/node-chassis-id"

	// DefaultNetwork is the network name keying per-network annotations.
	DefaultNetwork = "default"
)

// ParseNodeSubnets decodes k8s.ovn.org/node-subnets of the default network:
// {"default":["10.244.1.0/24","fd00:10:244:1::/64"]}; the older single-string
// form {"default":"10.244.1.0/24"} is accepted too. present is false when the
// annotation is absent. At most one subnet per family.
func ParseNodeSubnets(annotations map[string]string) (subnets []netip.Prefix, present bool, err error) {
	raw, ok := annotations[NodeSubnetsAnnotation]
	if !ok {
		return nil, false, nil
	}
	var byNetwork map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &byNetwork); err != nil {
		return nil, true, fmt.Errorf("annotation %s=%q is not a JSON object: %w", NodeSubnetsAnnotation, raw, err)
	}
	val, ok := byNetwork[DefaultNetwork]
	if !ok {
		return nil, true, fmt.Errorf("annotation %s=%q has no %q network", NodeSubnetsAnnotation, raw, DefaultNetwork)
	}
	var list []string
	if err := json.Unmarshal(val, &list); err != nil {
		var single string
		if err2 := json.Unmarshal(val, &single); err2 != nil {
			return nil, true, fmt.Errorf("annotation %s=%q: %q must be a list of CIDRs", NodeSubnetsAnnotation, raw, DefaultNetwork)
		}
		list = []string{single}
	}
	if len(list) == 0 {
		return nil, true, fmt.Errorf("annotation %s=%q lists no subnet", NodeSubnetsAnnotation, raw)
	}
	var v4, v6 bool
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, true, fmt.Errorf("annotation %s=%q: bad CIDR %q: %w", NodeSubnetsAnnotation, raw, s, err)
		}
		if p != p.Masked() {
			return nil, true, fmt.Errorf("annotation %s=%q: %q has host bits set", NodeSubnetsAnnotation, raw, s)
		}
		if (p.Addr().Is4() && v4) || (p.Addr().Is6() && v6) {
			return nil, true, fmt.Errorf("annotation %s=%q: two subnets of one family", NodeSubnetsAnnotation, raw)
		}
		v4 = v4 || p.Addr().Is4()
		v6 = v6 || p.Addr().Is6()
		subnets = append(subnets, p)
	}
	return subnets, true, nil
}

// FormatNodeSubnets encodes subnets as k8s.ovn.org/node-subnets.
func FormatNodeSubnets(subnets []netip.Prefix) string {
	list := make([]string, len(subnets))
	for i, s := range subnets {
		list[i] = s.String()
	}
	b, _ := json.Marshal(map[string][]string{DefaultNetwork: list})
	return string(b)
}

// ParseNodeID decodes k8s.ovn.org/node-id, a positive integer.
func ParseNodeID(annotations map[string]string) (id int, present bool, err error) {
	raw, ok := annotations[NodeIDAnnotation]
	if !ok {
		return 0, false, nil
	}
	id, err = strconv.Atoi(raw)
	if err != nil || id <= 0 {
		return 0, true, fmt.Errorf("annotation %s=%q is not a positive integer", NodeIDAnnotation, raw)
	}
	return id, true, nil
}

// chassisIDPattern accepts what OVS allows as a system-id in practice (a UUID
// usually, a hostname sometimes) and nothing that could break a row name.
var chassisIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ParseChassisID decodes k8s.ovn.org/node-chassis-id ("" when absent).
func ParseChassisID(annotations map[string]string) (string, error) {
	raw, ok := annotations[NodeChassisIDAnnotation]
	if !ok {
		return "", nil
	}
	if !chassisIDPattern.MatchString(raw) {
		return "", fmt.Errorf("annotation %s=%q is not a valid chassis id", NodeChassisIDAnnotation, strings.TrimSpace(raw))
	}
	return raw, nil
}
