// Package ovsdbclient connects ovnkube to an OVSDB database (the OVN
// Northbound today) with the options every caller needs: all endpoints of a
// clustered database, TLS for ssl: endpoints, leader-only for RAFT, automatic
// reconnect, and a cache restricted to the tables we read.
package ovsdbclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/config"
)

// Options describe one database connection.
type Options struct {
	Endpoints []string // unix:/path, tcp:host:port, ssl:host:port
	TLS       config.TLS
	Model     model.ClientDBModel
	Indexes   map[string][]model.ClientIndex
	// Tables are the tables to monitor (cache). None: no monitor and an
	// empty cache, for a reader that selects only the rows it needs
	// (ovnkube explain).
	Tables  []string
	Handler cache.EventHandler // registered before the initial monitor, optional
	Timeout time.Duration      // connect timeout, default 20s
	// MaxBackoff caps the wait between reconnect attempts (default 5s).
	// There is no cap on how long the client keeps trying.
	MaxBackoff time.Duration
}

// reconnectBackoff waits 100 ms, then longer, up to max between attempts,
// and never gives up: libovsdb panics when its backoff stops (the
// library's default stops after 15 minutes), and a controller must
// outlive any database outage.
func reconnectBackoff(max time.Duration) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = max
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

// WatchConnection reports c's connection state changes until ctx ends:
// onChange(false) once it is lost, onChange(true) once it is back with
// every monitor re-established and the cache refilled. It polls every
// period. A reconnect quicker than a period is still seen: libovsdb
// refills the cache of a reconnected monitor into new row caches, so
// the row cache of table (one of the monitored tables) changing identity
// means the connection went and came back (reported as false, then true).
func WatchConnection(ctx context.Context, c client.Client, table string, period time.Duration, onChange func(connected bool)) {
	rowCache := func() *cache.RowCache {
		if tc := c.Cache(); tc != nil { // nil once the client is closed
			return tc.Table(table)
		}
		return nil
	}
	rows := rowCache()
	up := Connected(c)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The row cache first: Connected waits for a reconnect under way
		// to finish, so a new row cache read before it is refilled by then.
		nowRows := rowCache()
		now := Connected(c)
		if nowRows != rows && up {
			up = false
			onChange(false)
		}
		rows = nowRows
		if now != up {
			up = now
			onChange(up)
		}
	}
}

// Connected reports whether c is connected with its cache current.
// libovsdb's own Connected stays true while it reconnects after the server
// went away; its endpoint is cleared then, and reading it waits while a
// reconnect (dial, monitors, cache refill) is under way.
func Connected(c client.Client) bool { return c.Connected() && c.CurrentEndpoint() != "" }

// Connect dials the database, registers the handler and monitors Tables. When
// it returns the cache holds the whole content of those tables.
func Connect(ctx context.Context, o Options) (client.Client, error) {
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Second
	}
	dbModel := o.Model
	if o.Indexes != nil {
		dbModel.SetIndexes(o.Indexes)
	}
	logger := klog.Background().WithName("libovsdb")
	opts := []client.Option{
		client.WithLogger(&logger),
		client.WithLeaderOnly(true),
		client.WithReconnect(o.Timeout, reconnectBackoff(o.MaxBackoff)),
	}
	for _, ep := range o.Endpoints {
		opts = append(opts, client.WithEndpoint(ep))
	}
	if usesSSL(o.Endpoints) {
		tlsCfg, err := tlsConfig(o.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLSConfig(tlsCfg))
	}
	c, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("create %s client: %w", dbModel.Name(), err)
	}
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		return nil, fmt.Errorf("connect to %s at %s: %w", dbModel.Name(), strings.Join(o.Endpoints, ","), err)
	}
	if o.Handler != nil {
		c.Cache().AddEventHandler(o.Handler)
	}
	if len(o.Tables) == 0 {
		return c, nil
	}
	var monOpts []client.MonitorOption
	for _, t := range o.Tables {
		typ, ok := dbModel.Types()[t]
		if !ok {
			c.Close()
			return nil, fmt.Errorf("table %s is not in the %s model", t, dbModel.Name())
		}
		monOpts = append(monOpts, client.WithTable(reflect.New(typ.Elem()).Interface().(model.Model)))
	}
	if _, err := c.Monitor(cctx, c.NewMonitor(monOpts...)); err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor %s: %w", dbModel.Name(), err)
	}
	return c, nil
}

func usesSSL(endpoints []string) bool {
	for _, ep := range endpoints {
		if strings.HasPrefix(ep, "ssl:") {
			return true
		}
	}
	return false
}

func tlsConfig(t config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load OVSDB client certificate %s / key %s: %w", t.CertFile, t.KeyFile, err)
	}
	ca, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read OVSDB CA certificate %s: %w", t.CAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate found in OVSDB CA file %s", t.CAFile)
	}
	// Go's own check wants the server name in a SAN; ovs-pki issues OVN's
	// certificates with the name in the CN only. So the standard check is
	// off and VerifyConnection does it: the chain against the CA, then the
	// name (--nb-cert-common-name, or the host dialed) in a SAN or the CN.
	// Without the name, any certificate of the CA (a node's) could pose as
	// the database.
	return &tls.Config{
		Certificates:       []tls.Certificate{cert},
		RootCAs:            pool,
		ServerName:         t.ServerName,
		InsecureSkipVerify: true, //nolint:gosec // chain and name verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs.PeerCertificates, pool, cs.ServerName)
		},
		MinVersion: tls.VersionTLS12,
	}, nil
}

// verifyServer checks the server's chain against roots and that its
// certificate names name.
func verifyServer(certs []*x509.Certificate, roots *x509.CertPool, name string) error {
	if len(certs) == 0 {
		return fmt.Errorf("OVSDB server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	leaf := certs[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return fmt.Errorf("OVSDB server certificate: %w", err)
	}
	if name == "" {
		return fmt.Errorf("OVSDB server certificate: no server name to verify (set the database's cert-common-name)")
	}
	if leaf.VerifyHostname(name) == nil || leaf.Subject.CommonName == name {
		return nil
	}
	return fmt.Errorf("OVSDB server certificate is for CN %q (SANs %v), not the expected server %q: "+
		"set --nb-cert-common-name / --sb-cert-common-name to the name the database's certificate carries",
		leaf.Subject.CommonName, append(leaf.DNSNames, ipStrings(leaf.IPAddresses)...), name)
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
