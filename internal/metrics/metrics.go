package metrics

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every family.
const Namespace = "trent"

// MaxCodes bounds the distinct error codes of one family: codes past it
// count as "other". Trent's protocols answer with a few dozen codes.
const MaxCodes = 128

// Outcomes of a request.
const (
	OutcomeSuccess     = "success"
	OutcomeClientError = "client_error"
	OutcomeServerError = "server_error"
)

// UnknownOperation is the operation label of a request that named no
// operation of its protocol's table.
const UnknownOperation = "unknown"

// latencyBuckets are the request and store latency buckets, in seconds:
// from an Encrypt served from the cache (tens of microseconds) to a call
// that waits on a remote store or HSM for seconds.
var latencyBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics is one node's registry and the families the request path
// updates. A nil *Metrics measures nothing: every method is a no-op.
type Metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	throttled    *prometheus.CounterVec

	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec

	auditBatch prometheus.Histogram
	auditWrite prometheus.Histogram
	auditSync  prometheus.Histogram

	codesMu sync.Mutex
	codes   map[string]bool // error codes seen, at most MaxCodes
}

// New returns a registry with the Go runtime's and the process's
// collectors and Trent's request families.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), codes: map[string]bool{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_total",
		Help: "Requests answered, by protocol (kms, iam, sts), operation, outcome (success, client_error, server_error) and AWS error code (empty on success)."},
		[]string{"api", "operation", "outcome", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "request_duration_seconds",
		Help: "Time from a request's arrival to its answer (its audit record durable), by protocol and operation.", Buckets: latencyBuckets},
		[]string{"api", "operation"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "authentication_failures_total",
		Help: "Requests that failed before their caller was authenticated, by protocol and reason (the AWS error code they got)."},
		[]string{"api", "reason"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "throttled_requests_total",
		Help: "Requests answered with a throttling error, by protocol and reason: source_limited (refused unverified, the source being past its failure budget), failure_budget (a failure that spent the last of it)."},
		[]string{"api", "reason"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_duration_seconds",
		Help: "Latency of calls to the store, by call.", Buckets: latencyBuckets}, []string{"call"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "store_errors_total",
		Help: "Store calls that returned an error, by call and error (not_found, exists, conflict, unavailable, feed_truncated, canceled, other)."},
		[]string{"call", "error"})
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "audit_batch_records",
		Help: "Records written by one audit trail write and fdatasync (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 12)})
	write := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "audit_write_duration_seconds",
		Help: "Time to write one batch of audit records.", Buckets: latencyBuckets})
	sync := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "audit_fsync_duration_seconds",
		Help: "Time to make one batch of audit records durable (fdatasync).", Buckets: latencyBuckets})
	m.auditBatch, m.auditWrite, m.auditSync = batch, write, sync
	m.reg.MustRegister(m.requests, m.duration, m.authFailures, m.throttled, m.storeDuration, m.storeErrors, batch, write, sync)
	return m
}

// Registry returns the registry, for collectors of other packages'
// counters.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus's exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil, ErrorHandling: promhttp.ContinueOnError})
}

// code returns c as a label value: itself if it is one of the first
// MaxCodes codes seen, else "other". Only error paths call it.
func (m *Metrics) code(c string) string {
	m.codesMu.Lock()
	defer m.codesMu.Unlock()
	if m.codes[c] {
		return c
	}
	if len(m.codes) >= MaxCodes || len(c) > 64 {
		return "other"
	}
	m.codes[c] = true
	return c
}

// CounterFunc registers a counter whose value f reads at each scrape.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, f))
}

// GaugeFunc registers a gauge whose value f reads at each scrape.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, f))
}

// AuditBatch records one batch of the audit trail: its records, and the
// time its write and its fdatasync took. It implements audit.Observer.
func (m *Metrics) AuditBatch(records int, write, sync time.Duration) {
	if m == nil {
		return
	}
	m.auditBatch.Observe(float64(records))
	m.auditWrite.Observe(write.Seconds())
	m.auditSync.Observe(sync.Seconds())
}

// errorKind is the bounded name of a store error.
func errorKind(err error, kinds []kindOf) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}

type kindOf struct {
	err  error
	name string
}
