package sandbox

import (
	"fmt"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Metrics is one scrape of a /metrics endpoint.
type Metrics map[string]*dto.MetricFamily

// Scrape reads and parses a Prometheus text endpoint.
func Scrape(url string) (Metrics, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var parser expfmt.TextParser
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return fams, nil
}

// Value returns the value of the counter or gauge series of name whose labels
// include labels, or the sample count of a histogram; 0 when absent.
func (m Metrics) Value(name string, labels map[string]string) float64 {
	return m.total(name, labels, func(s *dto.Metric) float64 {
		switch {
		case s.Counter != nil:
			return s.Counter.GetValue()
		case s.Gauge != nil:
			return s.Gauge.GetValue()
		case s.Histogram != nil:
			return float64(s.Histogram.GetSampleCount())
		}
		return 0
	})
}

// Sum returns the sum of the observations of a histogram's series whose
// labels include labels; 0 when absent.
func (m Metrics) Sum(name string, labels map[string]string) float64 {
	return m.total(name, labels, func(s *dto.Metric) float64 { return s.GetHistogram().GetSampleSum() })
}

// total adds value over the series of name whose labels include labels.
func (m Metrics) total(name string, labels map[string]string, value func(*dto.Metric) float64) float64 {
	fam, ok := m[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, s := range fam.Metric {
		if hasLabels(s, labels) {
			total += value(s)
		}
	}
	return total
}

func hasLabels(s *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, lp := range s.Label {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
