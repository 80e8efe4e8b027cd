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
	Tables    []string           // tables to monitor (cache)
	Handler   cache.EventHandler // registered before the initial monitor, optional
	Timeout   time.Duration      // connect timeout, default 20s
}

// Connect dials the database, registers the handler and monitors Tables. When
// it returns the cache holds the whole content of those tables.
func Connect(ctx context.Context, o Options) (client.Client, error) {
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	dbModel := o.Model
	if o.Indexes != nil {
		dbModel.SetIndexes(o.Indexes)
	}
	logger := klog.Background().WithName("libovsdb")
	opts := []client.Option{
		client.WithLogger(&logger),
		client.WithLeaderOnly(true),
		client.WithReconnect(o.Timeout, backoff.NewExponentialBackOff()),
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
	// OVN's certificates are issued to the database by ovs-pki and rarely
	// carry the address we dial; verify the chain against the CA only.
	return &tls.Config{
		Certificates:       []tls.Certificate{cert},
		RootCAs:            pool,
		InsecureSkipVerify: true, //nolint:gosec // chain verified below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool)
		},
		MinVersion: tls.VersionTLS12,
	}, nil
}

func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return fmt.Errorf("OVSDB server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return fmt.Errorf("parse OVSDB server certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	return err
}
