package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	dto "github.com/prometheus/client_model/go"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// nbWatch follows the NB through a libovsdb monitor, so convergence is seen
// the moment the rows land, without polling ovn-nbctl.
type nbWatch struct{ c client.Client }

func newNBWatch(addr string) (*nbWatch, error) {
	m, err := nbdb.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	c, err := ovsdbclient.Connect(context.Background(), ovsdbclient.Options{
		Endpoints: []string{addr}, Model: m,
		Tables: []string{nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.LogicalRouterPortTable, nbdb.GatewayChassisTable},
	})
	if err != nil {
		return nil, err
	}
	return &nbWatch{c: c}, nil
}

func (w *nbWatch) close() { w.c.Close() }

// waitNodes waits until n nodes have their switch (plus join), two switch
// ports each (plus jtor), a router port each (plus rtoj) and a gateway chassis.
func (w *nbWatch) waitNodes(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ls := w.c.Cache().Table(nbdb.LogicalSwitchTable).Len()
		lsp := w.c.Cache().Table(nbdb.LogicalSwitchPortTable).Len()
		lrp := w.c.Cache().Table(nbdb.LogicalRouterPortTable).Len()
		gc := w.c.Cache().Table(nbdb.GatewayChassisTable).Len()
		if ls == n+1 && lsp == 2*n+1 && lrp == n+1 && gc == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not converged after %s: %d switches, %d switch ports, %d router ports, %d gateway chassis", timeout, ls, lsp, lrp, gc)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quantiles estimates p50 and p99 of a histogram series (the upper bound of
// the bucket holding the quantile).
func quantiles(m sandbox.Metrics, name, ownerType string) (p50, p99 float64) {
	fam, ok := m[name]
	if !ok {
		return 0, 0
	}
	for _, s := range fam.Metric {
		if !labelIs(s, "owner_type", ownerType) || s.Histogram == nil {
			continue
		}
		return bucketQuantile(s.Histogram, 0.5), bucketQuantile(s.Histogram, 0.99)
	}
	return 0, 0
}

func labelIs(s *dto.Metric, k, v string) bool {
	for _, lp := range s.Label {
		if lp.GetName() == k && lp.GetValue() == v {
			return true
		}
	}
	return false
}

func bucketQuantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return 0
	}
	for _, b := range h.Bucket {
		if float64(b.GetCumulativeCount()) >= q*total {
			return b.GetUpperBound()
		}
	}
	return math.Inf(1)
}
