package gateway

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"k8s.io/klog/v2"
)

// Check reads the default routes of families through nl and decides the
// gateway. Each family that found its way out is logged with the line
// operators search for ("Found default gateway interface eth0 10.0.0.1");
// a refused host gets an error whose text is the fatal line.
func Check(nl *netlink.Handle, families []Family, o Overrides) (Gateway, error) {
	routes := map[Family][]DefaultRoute{}
	for _, f := range families {
		r, err := DefaultRoutes(nl, f)
		if err != nil {
			return Gateway{}, fmt.Errorf("read the default routes: %w", err)
		}
		routes[f] = r
	}
	gw, err := Decide(families, routes, o)
	for _, line := range FoundLines(families, gw) {
		// The exact text is the contract, so no key/value pairs here.
		klog.Info(line)
	}
	return gw, err
}
