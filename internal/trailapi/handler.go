package trailapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/metrics"
	"github.com/trentkms/trent/internal/pipeline"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/internal/wire"
)

// TargetPrefix is the X-Amz-Target prefix of the CloudTrail API; a target
// is TargetPrefix + "." + operation.
const TargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"

// MaxBody bounds a request body: one attribute value of at most 2000
// characters (escaped, up to 12 bytes each), two times and a token.
const MaxBody = 32 << 10

// Action is the IAM action that LookupEvents requires.
const Action = "cloudtrail:LookupEvents"

// EventSource is the eventSource of the records of CloudTrail calls.
const EventSource = "cloudtrail.amazonaws.com"

// maxResults is the largest and default MaxResults.
const maxResults = 50

// deadline is how long a lookup may run.
const deadline = 30 * time.Second

// Config configures a Handler.
type Config struct {
	// Directory holds the principals. Required.
	Directory *iam.Directory
	// Index reads the trail; nil answers every lookup with
	// OperationNotPermittedException (the node keeps no trail).
	Index *audit.Index
	// Audit receives the record of every call.
	Audit *audit.Log
	// Region is the server's region: requests are signed for it.
	Region string
	Logger *slog.Logger
	// Now is the clock for signature verification (default time.Now).
	Now func() time.Time
	// FailedAuth limits and records requests that fail before their
	// caller is authenticated (shared with the other APIs).
	FailedAuth *authfail.Limiter
	// Metrics, when set, measures the requests (api="cloudtrail").
	Metrics *metrics.Metrics
	// Verification reports the state of the trail's digests for
	// GetTrailVerification (verification.go); nil answers it with
	// OperationNotPermittedException.
	Verification func(context.Context) (*Verification, error)
}

// Handler serves the CloudTrail API. It is safe for concurrent use.
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
	h.verifier = &sigv4.Verifier{Source: cfg.Directory, Region: cfg.Region, Services: []string{"cloudtrail"}, Now: cfg.Now}
	h.pipe = &pipeline.Pipeline{Directory: cfg.Directory, Audit: cfg.Audit, Failed: cfg.FailedAuth, Log: cfg.Logger, Errors: trailErrors,
		Metrics: cfg.Metrics.API("cloudtrail", []string{"LookupEvents", VerificationOperation})}
	return h
}

// The pipeline's errors in CloudTrail's form.
var (
	errInternal  = awserr.New(awserr.InternalFailure, "An internal error occurred. Retry the request; the server log has details under this request's ID.")
	errThrottled = awserr.New(awserr.Throttling, "Rate exceeded")
)

var trailErrors = pipeline.Errors{
	Throttled:   errThrottled,
	Internal:    errInternal,
	Cancelled:   awserr.New(awserr.InternalFailure, "The request was cancelled."),
	Unavailable: awserr.New("ServiceUnavailableException", "The service is unavailable. Retry the request."),
	UnknownKey:  awserr.UnrecognizedClient,
	Convert: func(e *awserr.Error) *awserr.Error {
		if e.Code == iam.CodeAccessDenied {
			// IAM's query code, and CloudTrail names no resource for an
			// action that has none.
			return awserr.New(awserr.AccessDenied, strings.Replace(e.Message, " on resource: *", "", 1))
		}
		return e
	},
	Status: status,
}

func status(code string) int {
	switch code {
	case awserr.InternalFailure:
		return http.StatusInternalServerError
	case "ServiceUnavailableException":
		return http.StatusServiceUnavailable
	case awserr.RequestEntityTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// call is one CloudTrail request as the pipeline serves it (its Codec).
type call struct {
	pipeline.Call
	req    pipeline.Request
	h      *Handler
	r      *http.Request
	target string
	body   []byte
	in     lookupInput
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
		writeError(w, c.Err)
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
	target = strings.Clone(target) // the record may outlive the request's buffer
	c := &call{h: h, req: *r, target: target}
	c.ReqID, c.Start, c.Name = reqID, time.Now(), operation(target)
	h.pipe.Reject(c, &c.req, awsjson.ErrTooLarge(MaxBody))
	return c.Err
}

func writeError(w http.ResponseWriter, e *awserr.Error) {
	hd := w.Header()
	hd["Content-Type"] = []string{awsjson.ContentType}
	hd["X-Amzn-Errortype"] = []string{e.Code}
	w.WriteHeader(status(e.Code))
	w.Write(awsjson.ErrorBody(e))
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

// Lookup implements pipeline.Codec.
func (c *call) Lookup(*pipeline.Request) ([]byte, *awserr.Error) {
	c.Name = operation(c.target)
	if c.target != TargetPrefix+".LookupEvents" && c.target != TargetPrefix+"."+VerificationOperation {
		return nil, awserr.New(awserr.UnknownOperation, "The requested operation is not recognized by the service: "+c.target)
	}
	return c.body, nil
}

// Verifier implements pipeline.Codec.
func (c *call) Verifier(*pipeline.Request) *sigv4.Verifier { return c.h.verifier }

// Deadline implements pipeline.Codec.
func (c *call) Deadline() time.Duration { return deadline }

// Describe implements pipeline.Codec.
func (c *call) Describe(f *authfail.Failure) {
	f.EventSource, f.EventName, f.Region, f.ReadOnly = EventSource, c.Name, c.h.cfg.Region, true
}

// Finish implements pipeline.Codec.
func (c *call) Finish() {}

// Record implements pipeline.Codec: a lookup is a read-only management
// event; its parameters are recorded, its answer is not.
func (c *call) Record(_ *pipeline.Request, ev *audit.Event) {
	ev.EventSource, ev.EventName, ev.AWSRegion, ev.ReadOnly = EventSource, c.Name, c.h.cfg.Region, true
	p := map[string]any{}
	if len(c.in.LookupAttributes) > 0 {
		var as []any
		for _, a := range c.in.LookupAttributes {
			m := map[string]any{}
			if a.AttributeKey != nil {
				m["attributeKey"] = *a.AttributeKey
			}
			if a.AttributeValue != nil {
				m["attributeValue"] = *a.AttributeValue
			}
			as = append(as, m)
		}
		p["lookupAttributes"] = as
	}
	if t := c.in.StartTime; t != nil {
		p["startTime"] = t.UTC().Format(time.RFC3339)
	}
	if t := c.in.EndTime; t != nil {
		p["endTime"] = t.UTC().Format(time.RFC3339)
	}
	if c.in.MaxResults != nil {
		p["maxResults"] = *c.in.MaxResults
	}
	if c.in.EventCategory != nil {
		p["eventCategory"] = *c.in.EventCategory
	}
	if len(p) > 0 {
		ev.RequestParameters = p
	}
}

// lookupInput is LookupEvents' request.
type lookupInput struct {
	LookupAttributes []lookupAttribute `json:"LookupAttributes"`
	StartTime        *wire.Timestamp   `json:"StartTime"`
	EndTime          *wire.Timestamp   `json:"EndTime"`
	EventCategory    *string           `json:"EventCategory"`
	MaxResults       *int32            `json:"MaxResults"`
	NextToken        *string           `json:"NextToken"`
}

type lookupAttribute struct {
	AttributeKey   *string `json:"AttributeKey"`
	AttributeValue *string `json:"AttributeValue"`
}

// lookupOutput is LookupEvents' response.
type lookupOutput struct {
	Events    []event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

type event struct {
	EventID         string         `json:"EventId"`
	EventName       string         `json:"EventName"`
	ReadOnly        string         `json:"ReadOnly"`
	AccessKeyID     string         `json:"AccessKeyId,omitempty"`
	EventTime       wire.Timestamp `json:"EventTime"`
	EventSource     string         `json:"EventSource"`
	Username        string         `json:"Username,omitempty"`
	Resources       []resource     `json:"Resources"`
	CloudTrailEvent string         `json:"CloudTrailEvent"`
}

type resource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

// Errors of LookupEvents' validation.
var (
	errOneAttribute = awserr.New("InvalidLookupAttributesException", "You can specify only one lookup attribute.")
	errNextToken    = awserr.New("InvalidNextTokenException", "Invalid NextToken: it is malformed, or was returned for a request with other parameters.")
	errMaxResults   = awserr.New("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
	errTimeRange    = awserr.New("InvalidTimeRangeException", "The start time must not be after the end time.")
)

// Run implements pipeline.Codec: decode, authorize, validate, look up.
func (c *call) Run(ctx context.Context) error {
	if err := awsjson.Decode(c.Body, &c.in); err != nil {
		return err
	}
	h, in := c.h, &c.in
	if err := h.cfg.Directory.AuthorizeIAM(ctx, c.Caller, Action, "*"); err != nil {
		return err
	}
	if c.Name == VerificationOperation {
		return c.runVerification(ctx)
	}
	q := audit.Query{Account: c.Caller.Account, Limit: maxResults}
	switch len(in.LookupAttributes) {
	case 0:
	case 1:
		a := in.LookupAttributes[0]
		if a.AttributeKey == nil {
			return awserr.New("InvalidLookupAttributesException", "AttributeKey is required.")
		}
		k, ok := audit.LookupKeys[*a.AttributeKey]
		if !ok {
			return awserr.Newf("InvalidLookupAttributesException", "Invalid AttributeKey %q: valid keys are EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource and AccessKeyId.", *a.AttributeKey)
		}
		if a.AttributeValue == nil || *a.AttributeValue == "" {
			return awserr.New("InvalidLookupAttributesException", "AttributeValue is required and must not be empty.")
		}
		if attributeLength(*a.AttributeValue) > 2000 {
			return awserr.New("InvalidLookupAttributesException", "AttributeValue is longer than 2000 characters.")
		}
		q.Key, q.Value = k, *a.AttributeValue
	default:
		return errOneAttribute
	}
	if in.StartTime != nil {
		q.Start = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.End = in.EndTime.Time
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return errTimeRange
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxResults {
			return errMaxResults
		}
		q.Limit = int(*in.MaxResults)
	}
	fp := fingerprint(c.Caller.Account, in)
	if in.NextToken != nil {
		cur, ok := parseToken(*in.NextToken, fp)
		if !ok {
			return errNextToken
		}
		q.After = cur
	}
	if in.EventCategory != nil {
		if *in.EventCategory != "insight" {
			return awserr.Newf("InvalidEventCategoryException", "Invalid EventCategory %q: the only valid value is insight.", *in.EventCategory)
		}
		// Trent records no Insights events.
		c.Out = &lookupOutput{Events: []event{}}
		return nil
	}
	if h.cfg.Index == nil {
		return awserr.New("OperationNotPermittedException", "This server keeps no audit trail: there are no events to look up.")
	}
	found, next, err := h.cfg.Index.Lookup(q)
	if err != nil {
		return err
	}
	out := &lookupOutput{Events: make([]event, 0, len(found))}
	for _, f := range found {
		out.Events = append(out.Events, toEvent(f))
	}
	if next != nil {
		out.NextToken = makeToken(next, fp)
	}
	c.Out = out
	return nil
}

// attributeLength counts as CloudTrail does: '_', ' ', ',' and '\n' count
// twice.
func attributeLength(s string) int {
	n := utf8.RuneCountInString(s)
	for _, r := range s {
		switch r {
		case '_', ' ', ',', '\n':
			n++
		}
	}
	return n
}

func toEvent(f audit.Found) event {
	e := f.Event
	ev := event{
		EventID: e.EventID, EventName: e.EventName, ReadOnly: "false", EventTime: wire.Timestamp{Time: f.Time},
		EventSource: e.EventSource, Username: e.Username(), Resources: []resource{}, CloudTrailEvent: string(f.Raw),
	}
	if e.ReadOnly {
		ev.ReadOnly = "true"
	}
	if e.UserIdentity != nil {
		ev.AccessKeyID = e.UserIdentity.AccessKeyID
	}
	for _, r := range e.Resources {
		ev.Resources = append(ev.Resources, resource{ResourceType: r.Type, ResourceName: r.ARN})
	}
	return ev
}

// token is what a NextToken holds: the cursor and the fingerprint of the
// query it continues.
type token struct {
	audit.Cursor
	Query string `json:"q"`
}

// fingerprint identifies a query by its parameters as sent (not their
// defaults: EndTime defaults to now, which moves between pages).
func fingerprint(account string, in *lookupInput) string {
	h := sha256.New()
	h.Write([]byte(account))
	for _, a := range in.LookupAttributes {
		for _, s := range []*string{a.AttributeKey, a.AttributeValue} {
			h.Write([]byte{0})
			if s != nil {
				var n [8]byte
				binary.BigEndian.PutUint64(n[:], uint64(len(*s)))
				h.Write(n[:])
				h.Write([]byte(*s))
			}
		}
	}
	for _, t := range []*wire.Timestamp{in.StartTime, in.EndTime} {
		var n [9]byte
		if t != nil {
			n[0] = 1
			binary.BigEndian.PutUint64(n[1:], uint64(t.UnixNano()))
		}
		h.Write(n[:])
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func makeToken(c *audit.Cursor, fp string) string {
	b, _ := json.Marshal(token{Cursor: *c, Query: fp})
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseToken(s, fp string) (*audit.Cursor, bool) {
	if len(s) > 1024 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	var t token
	if json.Unmarshal(b, &t) != nil || t.Query != fp || t.Node == "" || !audit.ValidNodeID(t.Node) {
		return nil, false
	}
	return &t.Cursor, true
}
