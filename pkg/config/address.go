package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// checkOVSDBAddress validates a comma-separated OVSDB endpoint list and
// reports whether any entry uses ssl:. Only the active (client) schemes
// are accepted: ovnkube connects to the databases, it never listens, so
// ptcp:/pssl:/punix: are configuration mistakes.
func checkOVSDBAddress(flag, value string) (ssl bool, err error) {
	if strings.TrimSpace(value) == "" {
		return false, fmt.Errorf("--%s must not be empty", flag)
	}
	for _, ep := range strings.Split(value, ",") {
		ep = strings.TrimSpace(ep)
		isSSL, err := checkOVSDBEndpoint(ep)
		if err != nil {
			return false, fmt.Errorf("invalid --%s %q: %w", flag, ep, err)
		}
		ssl = ssl || isSSL
	}
	return ssl, nil
}

func checkOVSDBEndpoint(ep string) (ssl bool, err error) {
	const want = "want unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT"
	if ep == "" {
		return false, errors.New("empty entry in list")
	}
	scheme, rest, ok := strings.Cut(ep, ":")
	if !ok {
		return false, fmt.Errorf("missing scheme (%s)", want)
	}
	switch scheme {
	case "unix":
		if rest == "" {
			return false, errors.New("missing socket path (want unix:PATH)")
		}
		return false, nil
	case "tcp", "ssl":
		if err := checkHostPort(rest, false); err != nil {
			return false, fmt.Errorf("%w (want %s:HOST:PORT; bracket IPv6 hosts)", err, scheme)
		}
		return scheme == "ssl", nil
	default:
		return false, fmt.Errorf("unsupported scheme %q (%s)", scheme, want)
	}
}

// checkHostPort validates HOST:PORT with a port in 1-65535. An empty host is
// allowed only for listening addresses, where it means "all addresses".
func checkHostPort(hp string, emptyHostOK bool) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err)
		}
		return err
	}
	if host == "" && !emptyHostOK {
		return errors.New("missing host")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}
