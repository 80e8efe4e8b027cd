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
		Tables: topologyTables,
	})
	if err != nil {
		return nil, err
	}
	return &nbWatch{c: c}, nil
}

func (w *nbWatch) close() { w.c.Close() }

// watchedOVN starts a new, empty OVN in dir with the benchmark's monitor on
// its NB: every measured NB (the master's, the cold start's, the floor's)
// feeds one such monitor besides its writer. stop stops both.
func watchedOVN(dir string) (ovn *sandbox.OVN, w *nbWatch, stop func(), err error) {
	if ovn, err = sandbox.StartOVN(dir); err != nil {
		return nil, nil, nil, err
	}
	if w, err = newNBWatch(ovn.NBAddress); err != nil {
		ovn.Stop()
		return nil, nil, nil, err
	}
	return ovn, w, func() { w.close(); ovn.Stop() }, nil
}

// waitRows waits until every table holds the expected number of rows.
func (w *nbWatch) waitRows(want map[string]int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		have := map[string]int{}
		done := true
		for table, n := range want {
			have[table] = w.c.Cache().Table(table).Len()
			done = done && have[table] == n
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not converged after %s: have %v, want %v", timeout, have, want)
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
