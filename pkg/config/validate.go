package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate checks c and returns the first problem found, or nil. Checks run
// in a fixed order (Kubernetes client, OVN databases, subnets, metrics,
// node name) so the same bad Config always yields the same error. Every
// message names the flag (which is also the config file key) and the
// offending value, so it can be fixed without reading code.
//
// Validate does not touch the file system: certificate and kubeconfig
// paths are checked by whoever opens them.
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.validateKubeAPI,
		c.validateOVSDB,
		c.validateSubnets,
		c.validateMetrics,
		c.validateNodeName,
		c.validateACLLogging,
		c.validateLeaderElection,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateACLLogging() error {
	if c.ACLLoggingRateLimit < 1 || c.ACLLoggingRateLimit > 1<<31-1 {
		return fmt.Errorf("invalid --%s %d: at least 1 log line per second", flagACLLoggingRate, c.ACLLoggingRateLimit)
	}
	return nil
}

// validateLeaderElection enforces what client-go's elector requires, so a
// bad combination is a start-up error naming the flags, not a panic.
func (c *Config) validateLeaderElection() error {
	le := c.LeaderElection
	if !le.Enabled {
		return nil
	}
	for _, f := range []struct{ flag, value string }{{flagLeaseNamespace, le.Namespace}, {flagLeaseName, le.Name}} {
		if errs := validation.IsDNS1123Subdomain(f.value); len(errs) > 0 {
			return fmt.Errorf("invalid --%s %q: %s", f.flag, f.value, strings.Join(errs, "; "))
		}
	}
	if le.RetryPeriod <= 0 {
		return fmt.Errorf("invalid --%s %s: must be positive", flagRetryPeriod, le.RetryPeriod)
	}
	// client-go jitters retries by up to 1.2x.
	if le.RenewDeadline <= le.RetryPeriod*12/10 {
		return fmt.Errorf("invalid --%s %s: must exceed 1.2 x --%s (%s)", flagRenewDeadline, le.RenewDeadline, flagRetryPeriod, le.RetryPeriod)
	}
	if le.LeaseDuration <= le.RenewDeadline {
		return fmt.Errorf("invalid --%s %s: must exceed --%s (%s)", flagLeaseDuration, le.LeaseDuration, flagRenewDeadline, le.RenewDeadline)
	}
	return nil
}

func (c *Config) validateKubeAPI() error {
	q := float64(c.KubeAPIQPS)
	if q < 0 || math.IsNaN(q) || math.IsInf(q, 0) {
		return fmt.Errorf("invalid --%s %q: must be a finite number >= 0", flagKubeAPIQPS, strconv.FormatFloat(q, 'g', -1, 32))
	}
	if c.KubeAPIBurst < 0 {
		return fmt.Errorf("invalid --%s %q: must be >= 0", flagKubeAPIBurst, strconv.Itoa(c.KubeAPIBurst))
	}
	return nil
}

func (c *Config) validateOVSDB() error {
	for _, db := range []struct {
		addrFlag, addr string
		tls            TLS
		cert, key, ca  string
	}{
		{flagNBAddress, c.NBAddress, c.NBTLS, flagNBClientCert, flagNBClientKey, flagNBClientCACert},
		{flagSBAddress, c.SBAddress, c.SBTLS, flagSBClientCert, flagSBClientKey, flagSBClientCACert},
	} {
		ssl, err := checkOVSDBAddress(db.addrFlag, db.addr)
		if err != nil {
			return err
		}
		if !ssl {
			continue
		}
		var missing []string
		for _, f := range []struct{ flag, value string }{
			{db.cert, db.tls.CertFile}, {db.key, db.tls.KeyFile}, {db.ca, db.tls.CAFile},
		} {
			if strings.TrimSpace(f.value) == "" {
				missing = append(missing, "--"+f.flag)
			}
		}
		if len(missing) > 0 {
			verb := "is"
			if len(missing) > 1 {
				verb = "are"
			}
			return fmt.Errorf("--%s %q uses ssl: but %s %s not set",
				db.addrFlag, db.addr, strings.Join(missing, ", "), verb)
		}
	}
	return nil
}

// subnetList is one of the subnet flags in a form the cross-list checks
// can treat uniformly. For cluster subnets, shown keeps the
// CIDR/HOSTPREFIX form the user wrote, so errors quote what they typed.
type subnetList struct {
	flag     string
	prefixes []netip.Prefix
	shown    []string
}

func (l subnetList) value() string { return strings.Join(l.shown, ",") }

func (l subnetList) hasFamily(ipv6 bool) bool {
	for _, p := range l.prefixes {
		if isIPv6(p) == ipv6 {
			return true
		}
	}
	return false
}

func newPrefixList(flag string, ps []netip.Prefix) subnetList {
	l := subnetList{flag: flag, prefixes: ps}
	for _, p := range ps {
		l.shown = append(l.shown, p.String())
	}
	return l
}

// validateSubnets checks each subnet on its own, then the per-family rules
// within a list, then the families across lists, and finally overlaps.
// That order reports the most specific problem first: an overlap error
// about a malformed CIDR would be confusing.
func (c *Config) validateSubnets() error {
	cluster := subnetList{flag: flagClusterSubnets}
	for _, cs := range c.ClusterSubnets {
		if err := checkClusterSubnet(cs); err != nil {
			return fmt.Errorf("invalid --%s %q: %w", flagClusterSubnets, cs.String(), err)
		}
		cluster.prefixes = append(cluster.prefixes, cs.CIDR)
		cluster.shown = append(cluster.shown, cs.String())
	}
	if len(cluster.prefixes) == 0 {
		return fmt.Errorf("--%s must not be empty", flagClusterSubnets)
	}

	// The lists other than cluster subnets: one entry per cluster family.
	others := []subnetList{
		newPrefixList(flagServiceCIDRs, c.ServiceCIDRs),
		newPrefixList(flagJoinSubnets, c.JoinSubnets),
		newPrefixList(flagTransitSubnets, c.TransitSubnets),
		newPrefixList(flagMasqueradeSubnets, c.MasqueradeSubnets),
	}
	for _, l := range others {
		if err := l.checkEntries(); err != nil {
			return err
		}
	}
	for _, l := range others {
		if err := checkSameFamilies(cluster, l); err != nil {
			return err
		}
	}
	return checkOverlaps(append([]subnetList{cluster}, others...))
}

// checkEntries validates each CIDR of a list and allows at most one per
// family: Kubernetes accepts one service CIDR per family, and the join,
// transit and masquerade subnets each address a single per-family link.
func (l subnetList) checkEntries() error {
	var seen [2]bool // IPv4, IPv6
	for _, p := range l.prefixes {
		if err := checkPrefix(p); err != nil {
			return fmt.Errorf("invalid --%s %q: %w", l.flag, p.String(), err)
		}
		v6 := isIPv6(p)
		fam := 0
		if v6 {
			fam = 1
		}
		if seen[fam] {
			return fmt.Errorf("invalid --%s %q: more than one %s subnet (at most one per family)", l.flag, l.value(), familyName(v6))
		}
		seen[fam] = true
		if l.flag == flagMasqueradeSubnets {
			if err := checkMasqueradeSize(p); err != nil {
				return fmt.Errorf("invalid --%s %q: %w", l.flag, p.String(), err)
			}
		}
	}
	return nil
}

// checkMasqueradeSize requires room for the handful of well-known
// addresses ovnkube reserves in the masquerade subnet (host, gateway
// router, services...), the same minimum OVN-Kubernetes enforces.
func checkMasqueradeSize(p netip.Prefix) error {
	maxBits := 29
	if isIPv6(p) {
		maxBits = 125
	}
	if p.Bits() > maxBits {
		return fmt.Errorf("too small, must be /%d or larger for %s", maxBits, familyName(isIPv6(p)))
	}
	return nil
}

// checkSameFamilies requires l to cover exactly the cluster's families. A
// missing family would leave that family without services or gateway
// links; an extra one would configure a family that has no pod network.
func checkSameFamilies(cluster, l subnetList) error {
	for _, v6 := range []bool{false, true} {
		inCluster, inList := cluster.hasFamily(v6), l.hasFamily(v6)
		switch {
		case inCluster && !inList:
			return familyMismatch(l, cluster, v6)
		case inList && !inCluster:
			return familyMismatch(cluster, l, v6)
		}
	}
	return nil
}

func familyMismatch(missing, has subnetList, ipv6 bool) error {
	return fmt.Errorf("--%s %q has no %s entry but --%s %q does",
		missing.flag, missing.value(), familyName(ipv6), has.flag, has.value())
}

// checkOverlaps rejects any two overlapping subnets, within a list or
// across lists: an address must never be both a pod and a service, or a
// pod and a router port. Pairs are compared in list order, so the
// reported pair is deterministic.
func checkOverlaps(lists []subnetList) error {
	type entry struct {
		flag, shown string
		prefix      netip.Prefix
	}
	var all []entry
	for _, l := range lists {
		for i, p := range l.prefixes {
			all = append(all, entry{l.flag, l.shown[i], p})
		}
	}
	for i, a := range all {
		for _, b := range all[i+1:] {
			if a.prefix.Overlaps(b.prefix) {
				return fmt.Errorf("--%s %q overlaps --%s %q", a.flag, a.shown, b.flag, b.shown)
			}
		}
	}
	return nil
}

func (c *Config) validateMetrics() error {
	if !c.MetricsEnabled() {
		return nil
	}
	if err := checkHostPort(strings.TrimSpace(c.MetricsAddress), true); err != nil {
		return fmt.Errorf(`invalid --%s %q: %w (want HOST:PORT, e.g. %s; "" or "0" disables metrics)`,
			flagMetricsAddress, c.MetricsAddress, err, DefaultMetricsAddress)
	}
	return nil
}

// validateNodeName only checks the syntax: whether the name is required
// and whether the node exists is up to the command that uses it.
func (c *Config) validateNodeName() error {
	if c.NodeName == "" {
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(c.NodeName); len(errs) > 0 {
		return fmt.Errorf("invalid --%s %q: %s", flagNodeName, c.NodeName, strings.Join(errs, "; "))
	}
	return nil
}
