package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ClusterSubnet is one entry of --cluster-subnets: a pod network CIDR that is
// carved into per-node subnets of length HostPrefix. It is written
// "CIDR/HOSTPREFIX", e.g. "10.244.0.0/16/24" gives every node a /24 out of
// 10.244.0.0/16, the same notation OVN-Kubernetes uses.
type ClusterSubnet struct {
	CIDR       netip.Prefix
	HostPrefix int
}

// String returns the "CIDR/HOSTPREFIX" form that ParseClusterSubnet accepts,
// so a subnet can be printed in an error message or written back to a flag.
func (s ClusterSubnet) String() string {
	return s.CIDR.String() + "/" + strconv.Itoa(s.HostPrefix)
}

// MarshalText implements encoding.TextMarshaler so that a Config dumped as
// JSON or YAML shows cluster subnets in the same notation the flag takes.
func (s ClusterSubnet) MarshalText() ([]byte, error) {
	if err := checkClusterSubnet(s); err != nil {
		return nil, err
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it is the inverse of
// MarshalText.
func (s *ClusterSubnet) UnmarshalText(text []byte) error {
	parsed, err := ParseClusterSubnet(string(text))
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}

// IsIPv6 reports whether the subnet belongs to the IPv6 family.
func (s ClusterSubnet) IsIPv6() bool { return s.CIDR.Addr().Is6() }

// ParseClusterSubnet parses a single "CIDR/HOSTPREFIX" entry such as
// "10.244.0.0/16/24". The CIDR must be in canonical form (no host bits set)
// and the host prefix must be longer than the CIDR prefix and fit the
// address family, otherwise no node subnet could be allocated from it.
func ParseClusterSubnet(s string) (ClusterSubnet, error) {
	cs, err := parseClusterSubnet(strings.TrimSpace(s))
	if err != nil {
		return ClusterSubnet{}, fmt.Errorf("invalid cluster subnet %q: %w", s, err)
	}
	return cs, nil
}

// ParseClusterSubnets parses cluster subnets the way --cluster-subnets
// does: every argument may itself be a comma-separated list, blanks around
// entries are ignored, and empty entries are skipped. It therefore accepts
// both a raw flag value (ParseClusterSubnets("a,b")) and an already split
// list (ParseClusterSubnets(list...)). The first invalid entry is reported.
func ParseClusterSubnets(values ...string) ([]ClusterSubnet, error) {
	var out []ClusterSubnet
	for _, v := range splitList(values) {
		cs, err := ParseClusterSubnet(v)
		if err != nil {
			return nil, err
		}
		out = append(out, cs)
	}
	return out, nil
}

// ParsePrefix parses one CIDR such as "10.96.0.0/16". Unlike
// netip.ParsePrefix it rejects CIDRs with host bits set ("10.244.1.0/16"),
// which almost always hide a typo, and IPv4-mapped IPv6 prefixes, whose
// family would be ambiguous.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := parsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: %w", s, err)
	}
	return p, nil
}

// ParsePrefixes parses a CIDR list with the same splitting rules as
// ParseClusterSubnets.
func ParsePrefixes(values ...string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range splitList(values) {
		p, err := ParsePrefix(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// splitList flattens comma-separated values into trimmed, non-empty entries.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

func parseClusterSubnet(s string) (ClusterSubnet, error) {
	cidr, host, ok := cutLast(s, "/")
	if !ok || !strings.Contains(cidr, "/") {
		return ClusterSubnet{}, errors.New("missing host prefix (want CIDR/HOSTPREFIX, e.g. 10.244.0.0/16/24)")
	}
	p, err := parsePrefix(cidr)
	if err != nil {
		return ClusterSubnet{}, err
	}
	hp, err := parseBits(host)
	if err != nil {
		return ClusterSubnet{}, fmt.Errorf("host prefix %q is not a number", host)
	}
	cs := ClusterSubnet{CIDR: p, HostPrefix: hp}
	if err := checkClusterSubnet(cs); err != nil {
		return ClusterSubnet{}, err
	}
	return cs, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		// netip's message repeats the input; keep only the reason.
		reason := err.Error()
		if _, after, ok := strings.Cut(reason, "): "); ok {
			reason = after
		}
		if !strings.Contains(s, "/") {
			reason = "missing prefix length (want ADDRESS/BITS, e.g. 10.96.0.0/16)"
		}
		return netip.Prefix{}, errors.New(reason)
	}
	return p, checkPrefix(p)
}

// checkPrefix holds the rules every configured CIDR must satisfy. It is
// shared by the parsers and by Validate, so a Config filled in by code is
// held to the same rules as one parsed from flags.
func checkPrefix(p netip.Prefix) error {
	switch {
	case !p.IsValid():
		return errors.New("not a valid CIDR")
	case p.Addr().Is4In6():
		return errors.New("IPv4-mapped IPv6 addresses are not supported; use the plain IPv4 form")
	case p != p.Masked():
		return fmt.Errorf("host bits are set (did you mean %s?)", p.Masked())
	}
	return nil
}

// checkClusterSubnet adds the host prefix rules to checkPrefix.
func checkClusterSubnet(cs ClusterSubnet) error {
	if err := checkPrefix(cs.CIDR); err != nil {
		return err
	}
	maxBits := cs.CIDR.Addr().BitLen()
	switch {
	case cs.HostPrefix > maxBits:
		return fmt.Errorf("host prefix /%d is longer than an %s address (/%d)", cs.HostPrefix, familyName(cs.IsIPv6()), maxBits)
	case cs.HostPrefix <= cs.CIDR.Bits():
		return fmt.Errorf("host prefix /%d must be longer than the CIDR prefix /%d", cs.HostPrefix, cs.CIDR.Bits())
	case cs.HostPrefix > maxPodHostPrefix(cs.IsIPv6()):
		return fmt.Errorf("host prefix /%d leaves a node no pod address (the subnet's network address, .1 for the router and .2 for the management port%s come first); use /%d or shorter",
			cs.HostPrefix, map[bool]string{false: ", and the broadcast address last", true: ""}[cs.IsIPv6()], maxPodHostPrefix(cs.IsIPv6()))
	}
	return nil
}

// maxPodHostPrefix is the longest node subnet with an address left for a
// pod: an IPv4 /29 keeps 3-6 (0 network, 1 router, 2 management port, 7
// broadcast), an IPv6 /126 keeps ::3.
func maxPodHostPrefix(ipv6 bool) int {
	if ipv6 {
		return 126
	}
	return 29
}

// parseBits parses a prefix length; unlike strconv.Atoi it rejects signs
// and leading zeros so that "+24" or "024" is not silently accepted.
func parseBits(s string) (int, error) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func familyName(ipv6 bool) string {
	if ipv6 {
		return "IPv6"
	}
	return "IPv4"
}

// isIPv6 reports the family of a validated prefix. IPv4-mapped prefixes are
// rejected by checkPrefix, so Is6 is unambiguous here.
func isIPv6(p netip.Prefix) bool { return p.Addr().Is6() }
