package devapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/devclock"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/metrics"
	"github.com/trentkms/trent/internal/pipeline"
	"github.com/trentkms/trent/internal/sigv4"
)

// TargetPrefix is the X-Amz-Target prefix of the development API, up to
// the dot before the operation name.
const TargetPrefix = "TrentDevelopment"

// EventSource is the eventSource of the records of development calls.
const EventSource = "development.trent"

// MaxBody bounds a request body.
const MaxBody = 1 << 10

// deadline is how long a call may run (a few conditional writes).
const deadline = 10 * time.Second

// Config configures a Handler.
type Config struct {
	// Clock is the development clock. Required.
	Clock *devclock.Clock
	// Directory holds the principals. Required.
	Directory *iam.Directory
	// Account is the administrator's account: only its root moves the
	// clock.
	Account string
	// Audit receives the record of every call.
	Audit *audit.Log
	// Region is the server's Region: requests are signed for it.
	Region string
	Logger *slog.Logger
	// FailedAuth limits and records requests that fail before their caller
	// is authenticated (shared with the other APIs).
	FailedAuth *authfail.Limiter
	// Metrics, when set, measures the requests (api="development").
	Metrics *metrics.Metrics
	// Advanced is called after every step of the clock (the node nudges
	// its scheduler), with the offsets before and after.
	Advanced func(before, after time.Duration)
}

// Handler serves the development API. It is safe for concurrent use.
type Handler struct {
	cfg      Config
	verifier *sigv4.Verifier
	pipe     *pipeline.Pipeline
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FailedAuth == nil {
		cfg.FailedAuth = authfail.New(authfail.Config{Audit: cfg.Audit, Logger: cfg.Logger})
	}
	h := &Handler{cfg: cfg}
	// Signed as the KMS API is (the same endpoint and credentials), or for
	// service "trent"; with the wall clock, never the development clock.
	h.verifier = &sigv4.Verifier{Source: cfg.Directory, Region: cfg.Region, Services: []string{"kms", "trent"}}
	h.pipe = &pipeline.Pipeline{Directory: cfg.Directory, Audit: cfg.Audit, Failed: cfg.FailedAuth, Log: cfg.Logger, Errors: devErrors,
		Metrics: cfg.Metrics.API("development", []string{"AdvanceClock", "GetClock"})}
	return h
}

var devErrors = pipeline.Errors{
	Throttled:   awserr.New(awserr.Throttling, "Rate exceeded"),
	Internal:    awserr.Internal(),
	Cancelled:   awserr.New(awserr.InternalFailure, "The request was cancelled."),
	Unavailable: awserr.New(awserr.DependencyTimeout, "The service is unavailable. Retry the request."),
	UnknownKey:  awserr.UnrecognizedClient,
	Status:      status,
}

func status(code string) int {
	switch code {
	case awserr.KMSInternal, awserr.InternalFailure:
		return http.StatusInternalServerError
	case awserr.DependencyTimeout:
		return http.StatusServiceUnavailable
	case awserr.RequestEntityTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// call is one request as the pipeline serves it (its Codec).
type call struct {
	pipeline.Call
	req    pipeline.Request
	h      *Handler
	r      *http.Request
	target string
	body   []byte
	in     advanceInput
	before time.Duration
}

// advanceInput is AdvanceClock's request (GetClock takes none).
type advanceInput struct {
	Seconds *int64 `json:"Seconds"`
}

// ClockOutput is the answer of both operations: how far the clock runs
// ahead of the wall clock, and its time (epoch seconds).
type ClockOutput struct {
	OffsetSeconds int64 `json:"OffsetSeconds"`
	Now           int64 `json:"Now"`
}

// ServeHTTP implements http.Handler: AWS JSON 1.1 in and out.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{h: h, r: r, target: r.Header.Get("X-Amz-Target")}
	c.ReqID, c.Start = w.Header().Get("X-Amzn-Requestid"), time.Now()
	if c.ReqID == "" {
		c.ReqID = audit.NewEventID()
		w.Header().Set("X-Amzn-Requestid", c.ReqID)
	}
	c.req = pipeline.Request{Ctx: r.Context(), Sig: sigv4.HTTPRequest(r), Body: r.Body, RemoteIP: pipeline.SourceIP(r.RemoteAddr),
		TLS: r.TLS != nil, Host: r.Host, UserAgent: r.UserAgent()}
	h.pipe.Serve(c, &c.req)
	if c.Err != nil {
		hd := w.Header()
		hd["Content-Type"] = []string{awsjson.ContentType}
		hd["X-Amzn-Errortype"] = []string{c.Err.Code}
		w.WriteHeader(status(c.Err.Code))
		w.Write(awsjson.ErrorBody(c.Err))
		return
	}
	if err := awsjson.WriteResponse(w, c.Out); err != nil {
		h.cfg.Logger.Warn("write response", "requestId", c.ReqID, "err", err)
	}
}

// TooLarge answers a request whose body the HTTP server refused, unread,
// as over its limit: a request that failed before its caller was known.
func (h *Handler) TooLarge(r *pipeline.Request, reqID string) *awserr.Error {
	target, _ := r.Sig.Header("X-Amz-Target", 0)
	target = strings.Clone(target)
	c := &call{h: h, req: *r, target: target}
	c.ReqID, c.Start, c.Name = reqID, time.Now(), operation(target)
	h.pipe.Reject(c, &c.req, awsjson.ErrTooLarge(MaxBody))
	return c.Err
}

// Open implements pipeline.Codec: the method, and the body within MaxBody.
func (c *call) Open(*pipeline.Request) *awserr.Error {
	body, err := awsjson.ReadPost(c.r, MaxBody)
	c.body = body
	return err
}

// Peek implements pipeline.Codec.
func (c *call) Peek(*pipeline.Request) { c.Name = operation(c.target) }

func operation(target string) string { return awsjson.Operation(target, TargetPrefix) }

// Lookup implements pipeline.Codec. An unknown operation is answered as
// the KMS API answers one.
func (c *call) Lookup(*pipeline.Request) ([]byte, *awserr.Error) {
	c.Name = operation(c.target)
	switch c.Name {
	case "AdvanceClock", "GetClock":
		return c.body, nil
	}
	return nil, awserr.New(awserr.UnknownOperation, "The requested operation is not recognized by the service: "+c.target)
}

// Verifier implements pipeline.Codec.
func (c *call) Verifier(*pipeline.Request) *sigv4.Verifier { return c.h.verifier }

// Deadline implements pipeline.Codec.
func (c *call) Deadline() time.Duration { return deadline }

// Describe implements pipeline.Codec.
func (c *call) Describe(f *authfail.Failure) {
	f.EventSource, f.EventName, f.Region, f.ReadOnly = EventSource, c.Name, c.h.cfg.Region, c.Name == "GetClock"
}

// Finish implements pipeline.Codec.
func (c *call) Finish() {}

// Record implements pipeline.Codec: the step asked for, and the offsets
// before and after it.
func (c *call) Record(_ *pipeline.Request, ev *audit.Event) {
	ev.EventSource, ev.EventName, ev.AWSRegion, ev.ReadOnly = EventSource, c.Name, c.h.cfg.Region, c.Name == "GetClock"
	if c.Name == "AdvanceClock" && c.in.Seconds != nil {
		ev.RequestParameters = map[string]any{"seconds": *c.in.Seconds}
	}
	if out, ok := c.Out.(*ClockOutput); ok && c.Err == nil && c.Name == "AdvanceClock" {
		ev.ResponseElements = map[string]any{"previousOffsetSeconds": int64(c.before / time.Second), "offsetSeconds": out.OffsetSeconds}
	}
}

// Run implements pipeline.Codec: decode, authorize, act.
func (c *call) Run(ctx context.Context) error {
	if c.Name == "AdvanceClock" {
		if err := awsjson.Decode(c.Body, &c.in); err != nil {
			return err
		}
	} else if err := awsjson.Decode(c.Body, &struct{}{}); err != nil {
		return err
	}
	if err := c.authorize(); err != nil {
		return err
	}
	clock := c.h.cfg.Clock
	if c.Name == "AdvanceClock" {
		if c.in.Seconds == nil {
			return awserr.New(awserr.Validation, "1 validation error detected: Value null at 'seconds' failed to satisfy constraint: Member must not be null")
		}
		max := int64(devclock.MaxOffset / time.Second)
		if s := *c.in.Seconds; s < 1 || s > max {
			return awserr.Newf(awserr.Validation, "1 validation error detected: Value '%d' at 'seconds' failed to satisfy constraint: Member must have value between 1 and %d (the clock never goes back)", s, max)
		}
		before, after, err := clock.Advance(ctx, time.Duration(*c.in.Seconds)*time.Second)
		if errors.Is(err, devclock.ErrRange) {
			return awserr.Newf(awserr.Validation, "The development clock is %d seconds ahead: a step of %d seconds would take it past %d seconds (100 years).",
				int64(before/time.Second), *c.in.Seconds, max)
		}
		if err != nil {
			return err
		}
		c.before = before
		c.h.cfg.Logger.Warn("development clock advanced", "requestId", c.ReqID, "principal", c.Caller.ARN,
			"step", fmt.Sprint(after-before), "offset", after.String())
		if c.h.cfg.Advanced != nil {
			c.h.cfg.Advanced(before, after)
		}
	}
	c.Out = &ClockOutput{OffsetSeconds: int64(clock.Offset() / time.Second), Now: clock.Now().Unix()}
	return nil
}

// authorize lets the administrator account's root in, and nobody else: the
// clock is the whole server's, not one account's.
func (c *call) authorize() error {
	caller := c.Caller
	if caller.Type == "Root" && caller.Account == c.h.cfg.Account {
		return nil
	}
	return awserr.Newf(awserr.AccessDenied, "User: %s is not authorized to perform: trent:%s because only the root user of account %s may move the development clock",
		caller.ARN, c.Name, c.h.cfg.Account)
}
