package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/keyring"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/metrics"
	"github.com/trentkms/trent/internal/server"
)

// The node's Prometheus metrics: the families the request path updates
// (internal/metrics), and here the counters the node's parts keep, read
// at each scrape. Names and labels: see the metrics package.

// registerCollectors exposes the counters of the node's parts.
func (n *Node) registerCollectors(m *metrics.Metrics) {
	conn := func(f func(st server.ConnStats) float64) func() float64 {
		return func() float64 { return f(n.Server.Stats().Connections) }
	}
	m.GaugeFunc("connections_open", "Client connections open now.", conn(func(s server.ConnStats) float64 { return float64(s.Open) }))
	m.CounterFunc("connections_accepted_total", "Client connections admitted.", conn(func(s server.ConnStats) float64 { return float64(s.Accepted) }))
	m.CounterFunc("connections_refused_total", "Client connections refused over a connection limit (total or per client).", conn(func(s server.ConnStats) float64 { return float64(s.Rejected) }))
	m.CounterFunc("connections_evicted_total", "Idle client connections closed to admit new ones.", conn(func(s server.ConnStats) float64 { return float64(s.Evicted) }))
	m.CounterFunc("connections_timed_out_total", "Client connections closed for not delivering a request within the read timeout.", conn(func(s server.ConnStats) float64 { return float64(s.TimedOut) }))
	m.CounterFunc("connections_accept_errors_total", "Failed accepts (retried).", conn(func(s server.ConnStats) float64 { return float64(s.AcceptErrors) }))

	fa := func(f func(st authfail.Stats) float64) func() float64 {
		return func() float64 { return f(n.Server.Stats().FailedAuth) }
	}
	m.CounterFunc("authfail_lookups_refused_total", "Store lookups of unknown access keys refused by the lookup budget.", fa(func(s authfail.Stats) float64 { return float64(s.LookupsRefused) }))
	m.CounterFunc("authfail_floods_total", "Times the lookup budget for unknown access keys ran out (flood mode began).", fa(func(s authfail.Stats) float64 { return float64(s.Floods) }))
	m.GaugeFunc("authfail_flood_mode", "1 while the node is in flood mode (unknown access keys are looked up within the budget only).", fa(func(s authfail.Stats) float64 { return b2f(s.Flooding) }))
	m.GaugeFunc("authfail_sources", "Source addresses tracked for failed authentication.", fa(func(s authfail.Stats) float64 { return float64(s.Sources) }))

	m.Registry().MustRegister(cacheCollector{n.Service})

	if n.Audit != nil {
		a := n.Audit
		m.CounterFunc("audit_records_total", "Records made durable in the audit trail.", func() float64 { return float64(a.Stats().Records) })
		m.GaugeFunc("audit_queue_records", "Records waiting to be written to the audit trail.", func() float64 { return float64(a.QueueDepth()) })
		m.GaugeFunc("audit_volume_free_bytes", "Free bytes of the audit trail's volume, as last checked.", func() float64 { f, _, _ := a.Space(); return float64(f) })
		m.GaugeFunc("audit_volume_size_bytes", "Size of the audit trail's volume.", func() float64 { _, t, _ := a.Space(); return float64(t) })
		m.GaugeFunc("audit_digest_age_seconds", "Time since the last signed digest of the audit trail.", func() float64 {
			t := a.LastDigest()
			if t.IsZero() {
				return 0
			}
			return time.Since(t).Seconds()
		})
		m.GaugeFunc("audit_accepting", "1 while the audit trail takes records; 0 while calls are refused (volume full, or the trail failed).", func() float64 { return b2f(a.Accepting() == nil) })
		m.CounterFunc("audit_sink_dropped_total", "Events not delivered to stdout or syslog (the trail has them).", func() float64 { return float64(a.Stats().SinkDropped) })
	}

	j := n.Jobs
	m.CounterFunc("scheduler_jobs_run_total", "Scheduled jobs (rotations, deletions, expiries) run on this node.", func() float64 { return float64(j.Stats().JobsRun) })
	m.CounterFunc("scheduler_jobs_failed_total", "Scheduled jobs that failed (they stay due).", func() float64 { return float64(j.Stats().JobsFailed) })
	m.GaugeFunc("change_feed_lag_seconds", "Time since the change feed was last read successfully: the caches are confirmed as of then (cluster coherence).", func() float64 { return j.Stats().FeedLag.Seconds() })
	m.GaugeFunc("cache_coherence_unconfirmed", "1 while the change feed cannot be read for longer than the cache grace: caches are purged and keys served from the store only.", func() float64 { return b2f(j.Stats().FeedUnconfirmed) })
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// MaxMetricsConns bounds the connections the metrics listener holds open at
// once (a Prometheus server needs one).
const MaxMetricsConns = 8

// startMetrics serves m on the configured metrics address, apart from the
// API. A default address another process holds is logged and skipped; a
// configured one that cannot be bound fails the start.
func (n *Node) startMetrics(cfg *config.File, m *metrics.Metrics, log *slog.Logger) error {
	addr, configured := cfg.MetricsAddr()
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if configured {
			return fmt.Errorf("metrics listener: %w", err)
		}
		log.Warn("metrics not served: the default metrics address is unavailable; set --metrics-listen (or \"off\")", "address", addr, "err", err)
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	n.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	n.MetricsEndpoint = "http://" + ln.Addr().String() + "/metrics"
	// No credential guards this listener: its connections must not take
	// the file descriptors the API's connection limit keeps for the store
	// and the audit trail. Past the limit, clients wait in the kernel's
	// backlog, which costs the process nothing.
	ln = netutil.LimitListener(ln, MaxMetricsConns)
	go func() {
		if err := n.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	return nil
}

// The key cache's families, by cache: "key" (keys and their material),
// "alias" (alias to key), "key_aliases" (a key's aliases).
var (
	cacheEntries = prometheus.NewDesc("trent_key_cache_entries", "Entries in the key cache, by cache.", []string{"cache"}, nil)
	cacheHits    = prometheus.NewDesc("trent_key_cache_hits_total", "Key cache lookups answered from the cache, by cache.", []string{"cache"}, nil)
	cacheMisses  = prometheus.NewDesc("trent_key_cache_misses_total", "Key cache lookups that found no fresh entry, by cache.", []string{"cache"}, nil)
	cacheLoads   = prometheus.NewDesc("trent_key_cache_loads_total", "Loads from the store into the key cache (concurrent misses of one entry share one), by cache.", []string{"cache"}, nil)
	cacheLoadErr = prometheus.NewDesc("trent_key_cache_load_errors_total", "Loads into the key cache that failed (not-found answers included), by cache.", []string{"cache"}, nil)
)

// cacheCollector exposes the key cache's counters.
type cacheCollector struct{ svc *kms.Service }

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheEntries, cacheHits, cacheMisses, cacheLoads, cacheLoadErr} {
		ch <- d
	}
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.svc.CacheStats()
	for _, k := range []struct {
		name string
		st   keyring.Stats
	}{{"key", st.Keys}, {"alias", st.Aliases}, {"key_aliases", st.KeyAliases}} {
		ch <- prometheus.MustNewConstMetric(cacheEntries, prometheus.GaugeValue, float64(k.st.Entries), k.name)
		ch <- prometheus.MustNewConstMetric(cacheHits, prometheus.CounterValue, float64(k.st.Hits), k.name)
		ch <- prometheus.MustNewConstMetric(cacheMisses, prometheus.CounterValue, float64(k.st.Misses), k.name)
		ch <- prometheus.MustNewConstMetric(cacheLoads, prometheus.CounterValue, float64(k.st.Loads), k.name)
		ch <- prometheus.MustNewConstMetric(cacheLoadErr, prometheus.CounterValue, float64(k.st.LoadErrors), k.name)
	}
}
