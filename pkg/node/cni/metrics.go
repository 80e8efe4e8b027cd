package cni

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnkube/ovnkube/pkg/metrics"
)

var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ovnkube",
		Name:      "cni_requests_total",
		Help:      "CNI requests served by ovnkube node, by command (ADD, DEL, CHECK) and result (success, error).",
	}, []string{"command", "result"})

	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "ovnkube",
		Name:      "cni_request_duration_seconds",
		Help:      "Time to serve one CNI request, by command; ADD includes the waits for the pod annotation and for ovn-installed.",
		Buckets:   prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"command"})

	// ovnInstalledDuration is ADD's wait for ovn-controller, the part of pod
	// network latency that OVN (not ovnkube) accounts for.
	ovnInstalledDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "ovnkube",
		Name:      "cni_ovn_installed_duration_seconds",
		Help:      "Time from adding a pod's OVS port until ovn-controller set ovn-installed=true on it.",
		Buckets:   prometheus.ExponentialBuckets(0.001, 2, 16),
	})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, requestDuration, ovnInstalledDuration)
	for _, c := range []string{"ADD", "DEL", "CHECK"} {
		for _, r := range []string{"success", "error"} {
			requestsTotal.WithLabelValues(c, r)
		}
	}
}
