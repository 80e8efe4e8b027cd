package config

import (
	"fmt"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of TCP/UDP ports, written "FIRST-LAST"
// as the API server's --service-node-port-range.
type PortRange struct{ First, Last int }

// DefaultNodePortRange is Kubernetes' default node-port range.
var DefaultNodePortRange = PortRange{First: 30000, Last: 32767}

// ParsePortRange parses "FIRST-LAST" with 1 <= FIRST <= LAST <= 65535.
func ParsePortRange(s string) (PortRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return PortRange{}, fmt.Errorf("%q is not FIRST-LAST", s)
	}
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return PortRange{}, fmt.Errorf("%q is not FIRST-LAST with 1 <= FIRST <= LAST <= 65535", s)
	}
	return PortRange{First: first, Last: last}, nil
}

// Contains reports whether port is in the range.
func (r PortRange) Contains(port int32) bool { return int(port) >= r.First && int(port) <= r.Last }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Set implements pflag.Value.
func (r *PortRange) Set(s string) error {
	v, err := ParsePortRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Type implements pflag.Value.
func (r *PortRange) Type() string { return "range" }
