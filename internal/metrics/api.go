package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// API measures the requests of one protocol. A nil *API measures nothing.
type API struct {
	m    *Metrics
	name string
	ops  map[string]*op
	// unknown measures the requests that named no operation of the table.
	unknown *op
}

// op is one operation's series, resolved once: a request that succeeds
// touches no map of the client library.
type op struct {
	name     string
	ok       prometheus.Counter
	duration prometheus.Observer
}

// API returns the measures of the protocol name (a label value: "kms",
// "iam", "sts") whose operations are operations. Their series exist from
// the start, at zero, so that a rate over them is defined before the
// first call. A nil *Metrics returns nil.
func (m *Metrics) API(name string, operations []string) *API {
	if m == nil {
		return nil
	}
	a := &API{m: m, name: name, ops: make(map[string]*op, len(operations))}
	for _, o := range operations {
		a.ops[o] = a.newOp(o)
	}
	a.unknown = a.newOp(UnknownOperation)
	for _, r := range []string{ThrottleSourceLimited, ThrottleFailureBudget} {
		m.throttled.WithLabelValues(name, r) // at zero from the start
	}
	return a
}

func (a *API) newOp(name string) *op {
	return &op{name: name,
		ok:       a.m.requests.WithLabelValues(a.name, name, OutcomeSuccess, ""),
		duration: a.m.duration.WithLabelValues(a.name, name)}
}

func (a *API) op(name string) *op {
	if o := a.ops[name]; o != nil {
		return o
	}
	return a.unknown
}

// Request records a request to operation that took d and was answered
// with the AWS error code (empty on success); serverError says the answer
// was a 5xx.
func (a *API) Request(operation, code string, serverError bool, d time.Duration) {
	if a == nil {
		return
	}
	o := a.op(operation)
	o.duration.Observe(d.Seconds())
	if code == "" {
		o.ok.Inc()
		return
	}
	outcome := OutcomeClientError
	if serverError {
		outcome = OutcomeServerError
	}
	a.m.requests.WithLabelValues(a.name, o.name, outcome, a.m.code(code)).Inc()
}

// AuthenticationFailure records a request that failed before its caller
// was authenticated, with the code of the error it got.
func (a *API) AuthenticationFailure(code string) {
	if a == nil {
		return
	}
	a.m.authFailures.WithLabelValues(a.name, a.m.code(code)).Inc()
}

// Reasons a request is throttled.
const (
	ThrottleSourceLimited = "source_limited"
	ThrottleFailureBudget = "failure_budget"
)

// Throttled records a request answered with a throttling error for
// reason (ThrottleSourceLimited, ThrottleFailureBudget).
func (a *API) Throttled(reason string) {
	if a == nil {
		return
	}
	a.m.throttled.WithLabelValues(a.name, reason).Inc()
}
