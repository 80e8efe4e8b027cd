package sandbox

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// The API server listens on the root namespace's 127.0.0.1 only. A node
// namespace reaches it through a relay: socat listens on the node
// namespace's own 127.0.0.1:<port> and forwards each connection over a unix
// socket (reachable from every namespace through the shared filesystem) to
// a socat in the root namespace that connects to 127.0.0.1:<port>. The URL
// https://127.0.0.1:<port> is then the same everywhere, so one kubeconfig
// serves all and the serving certificate's 127.0.0.1 SAN stays valid.

// StartRelayHub starts the root-namespace side: a unix socket at sock
// forwarding to 127.0.0.1:port. One hub serves every node.
func StartRelayHub(sock string, port int, logFile string, l Launch) (*Process, error) {
	bin, err := DebianBin("socat")
	if err != nil {
		return nil, err
	}
	if err := checkSocketPath(sock); err != nil {
		return nil, err
	}
	p, err := l.start("api-relay", logFile, nil, bin,
		"UNIX-LISTEN:"+sock+",fork,unlink-early,mode=600",
		"TCP:127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	if err := waitReady("api-relay", 10*time.Second, func() (bool, error) { return unixDialable(sock) }, p); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// StartNodeRelay starts the node side inside the network namespace netns:
// 127.0.0.1:port there forwards to the hub's unix socket.
func StartNodeRelay(netns, sock string, port int, name, logFile string, l Launch) (*Process, error) {
	bin, err := DebianBin("socat")
	if err != nil {
		return nil, err
	}
	p, err := l.startIn(NetNSPath(netns), name, logFile, nil, bin,
		"TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,fork,reuseaddr",
		"UNIX-CONNECT:"+sock)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitReady(name, 10*time.Second, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := DialInNetNS(ctx, NetNSPath(netns), "tcp", addr)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	}, p); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// RelaySocket is the hub's socket path in dir.
func RelaySocket(dir string) string { return filepath.Join(dir, "api.sock") }

// PortOf returns the port of an https://127.0.0.1:PORT URL.
func PortOf(server string) (int, error) {
	var port int
	if _, err := fmt.Sscanf(server, "https://127.0.0.1:%d", &port); err != nil {
		return 0, fmt.Errorf("server %q is not https://127.0.0.1:PORT", server)
	}
	return port, nil
}
