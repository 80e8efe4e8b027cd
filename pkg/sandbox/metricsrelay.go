package sandbox

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// A node agent serves /metrics on its node namespace's own loopback
// (127.0.0.1:9410 in every node namespace), which the root namespace cannot
// reach, and the networking rule forbids the usual ways out: an address
// routable from the root namespace, or a route to the underlay. A metrics
// relay is the API relay (relay.go) in the opposite direction:
//
//	root namespace                          node namespace
//	127.0.0.1:<free port>  --socat-->  unix socket  --socat-->  127.0.0.1:9410
//
// socat inside the node namespace listens on a unix socket in the node's
// directory (reachable from every namespace through the shared filesystem)
// and connects to the agent's loopback port; socat in the root namespace
// listens on a free port of 127.0.0.1 and connects to that socket. No
// packet leaves a loopback device and no namespace gets a new address, and
// Prometheus, curl or a test in the root namespace scrape each agent at
// http://127.0.0.1:<port>/metrics.
//
// Prometheus stays in the root namespace for the same reason: the master
// and the API server listen on the root namespace's loopback and the user's
// browser reaches it there; moved into the fabric or a node namespace it
// would need a relay for the master instead, and still one per node (each
// agent listens on its own namespace's loopback only).

// MetricsRelay is a running metrics relay of one node.
type MetricsRelay struct {
	// Address is the root namespace's 127.0.0.1:<port> that reaches the
	// target inside the namespace.
	Address string
	// URL is http://<Address>/metrics.
	URL string
	// InNetNS listens on the unix socket inside the namespace; Root listens
	// on Address in the root namespace.
	InNetNS, Root *Process
}

// StartMetricsRelay makes target (host:port on the loopback of the network
// namespace netns) reachable on a free port of the root namespace's
// 127.0.0.1, through the unix socket sock. The processes are name+"-netns"
// (inside the namespace) and name (root namespace), both logging to
// logFile. It returns once both listen; the target itself need not be up
// yet (a connection made before it is refused, as a direct one would be).
func StartMetricsRelay(netns, target, sock, name, logFile string, l Launch) (*MetricsRelay, error) {
	bin, err := DebianBin("socat")
	if err != nil {
		return nil, err
	}
	if err := checkSocketPath(sock); err != nil {
		return nil, err
	}
	inNS, err := l.startIn(NetNSPath(netns), name+"-netns", logFile, nil, bin,
		"UNIX-LISTEN:"+sock+",fork,unlink-early,mode=600",
		"TCP:"+target)
	if err != nil {
		return nil, err
	}
	if err := waitReady(name+"-netns", 10*time.Second, func() (bool, error) { return unixDialable(sock) }, inNS); err != nil {
		inNS.Stop()
		return nil, err
	}
	r := &MetricsRelay{InNetNS: inNS}
	err = retryOnPortRace(func() (*Process, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		p, err := l.start(name, logFile, nil, bin,
			"TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,fork,reuseaddr",
			"UNIX-CONNECT:"+sock)
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := waitReady(name, 10*time.Second, func() (bool, error) { return tcpDialable(addr) }, p); err != nil {
			p.Stop()
			return p, err
		}
		r.Root, r.Address, r.URL = p, addr, fmt.Sprintf("http://%s/metrics", addr)
		return p, nil
	})
	if err != nil {
		inNS.Stop()
		return nil, fmt.Errorf("metrics relay for %s in %s: %w", target, netns, err)
	}
	return r, nil
}

// Processes lists the relay's processes in start order.
func (r *MetricsRelay) Processes() []*Process { return []*Process{r.InNetNS, r.Root} }

// Stop stops both processes. Idempotent.
func (r *MetricsRelay) Stop() {
	if r != nil {
		StopInReverse(r.Processes()...)
	}
}

func tcpDialable(addr string) (bool, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false, err
	}
	c.Close()
	return true, nil
}
