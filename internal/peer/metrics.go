package peer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trentkms/trent/internal/replica"
)

// Collector exports replication's counters per peer Region
// (metrics.ReplicationCollector): no key ID is a label.
type Collector struct {
	R *replica.Service

	delivered, failed, received, refused, lag *prometheus.Desc
}

// NewCollector returns the collector of r.
func NewCollector(r *replica.Service) *Collector {
	l := []string{"region"}
	return &Collector{R: r,
		delivered: prometheus.NewDesc("trent_replication_delivered_total", "Key states delivered to a peer Region and applied there.", l, nil),
		failed:    prometheus.NewDesc("trent_replication_failed_total", "Deliveries to a peer Region that failed (retried with backoff).", l, nil),
		received:  prometheus.NewDesc("trent_replication_received_total", "Authenticated messages from a peer Region applied here.", l, nil),
		refused:   prometheus.NewDesc("trent_replication_refused_total", "Authenticated messages from a peer Region refused (not its key to change).", l, nil),
		lag:       prometheus.NewDesc("trent_replication_last_lag_seconds", "How long the last change delivered to a peer Region waited.", l, nil),
	}
}

// Replication marks the collector (metrics.ReplicationCollector).
func (c *Collector) Replication() {}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.delivered, c.failed, c.received, c.refused, c.lag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counters := c.R.Counters()
	for _, r := range c.R.Peers() {
		x := counters[r]
		ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(x.Delivered), r)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(x.Failed), r)
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(x.Received), r)
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(x.Refused), r)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, x.LastLag.Seconds(), r)
	}
}
