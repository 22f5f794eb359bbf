package kms

import (
	"context"
	"slices"
	"sync"
)

// Caller is the authenticated principal of a request.
type Caller struct {
	// Account is the principal's 12-digit account ID.
	Account string
	// ARN is the principal as policies name it: arn:aws:iam::ACCOUNT:root,
	// ...:user/NAME, or arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	ARN string
	// Type is the CloudTrail userIdentity type: Root, IAMUser, AssumedRole.
	Type string
	// PrincipalID is the CloudTrail principalId (a unique ID).
	PrincipalID string
	// UserName is set for IAM users.
	UserName string
	// RoleARN is the role's ARN for assumed-role sessions.
	RoleARN string
	// SessionName is the role session name for assumed-role sessions.
	SessionName string
	// AccessKeyID is the access key that signed the request.
	AccessKeyID string
	// SourceIP is the client address (aws:SourceIp).
	SourceIP string
	// SecureTransport reports whether the request came over TLS.
	SecureTransport bool
	// UserAgent is the client's User-Agent header.
	UserAgent string
	// Region is the region the request was signed for (its credential
	// scope): aws:RequestedRegion, which every AWS request has.
	Region string
	// TokenIssueTime is when a temporary credential (a role session) was
	// issued, in RFC 3339 UTC to the second: aws:TokenIssueTime, which
	// AWS's way of revoking sessions (a Deny on DateLessThan
	// aws:TokenIssueTime in the role's policies) reads. Empty for
	// long-term access keys, which have none.
	TokenIssueTime string
	// Service is, for a service principal (Type AWSService, ARN
	// "SERVICE.amazonaws.com"), the service it is the front end of in its
	// account ("s3"): its requests carry kms:ViaService
	// SERVICE.REGION.amazonaws.com and aws:SourceAccount (docs/services.md).
	// Only the principals file declares one; no request sets it.
	Service string
	// SourceARN is aws:SourceArn, the resource a service principal acts
	// for, from its signed X-Amz-Source-Arn header; never set for other
	// callers.
	SourceARN string
}

type callerKey struct{}

// RequestContext is a context carrying a request's caller and trace: what
// WithTrace(WithCaller(ctx, Caller), Trace) returns, in one value that the
// server embeds in its per-request state instead of allocating two
// context layers per call. Context must be set; Caller and Trace may be nil.
type RequestContext struct {
	context.Context
	Caller *Caller
	Trace  *Trace
}

// Value implements context.Context.
func (r *RequestContext) Value(key any) any {
	switch key.(type) {
	case callerKey:
		if r.Caller != nil {
			return r.Caller
		}
	case traceKey:
		if r.Trace != nil {
			return r.Trace
		}
	}
	return r.Context.Value(key)
}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// Trace collects what an operation learned that the audit record needs: the
// keys it touched and the grants that authorized it. The server puts one in
// the context of every request; the domain fills it in.
type Trace struct {
	mu       sync.Mutex
	KeyARNs  []string
	GrantIDs []string
	// allowed has bit i set when KeyARNs[i] is a key of another account
	// than the caller's whose policies or grants allowed the call (see
	// Allowed). A byte, not a list: the server embeds a Trace in its
	// per-request state, sized to a size class.
	allowed uint8
	arns    [2]string // KeyARNs' first storage: no call touches more than two keys
}

type traceKey struct{}

// WithTrace returns ctx carrying t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the trace in ctx, or nil.
func TraceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// NoteKey records in ctx's trace that the operation touched the key arn.
func NoteKey(ctx context.Context, arn string) {
	if t := TraceFrom(ctx); t != nil {
		t.mu.Lock()
		for _, a := range t.KeyARNs {
			if a == arn {
				t.mu.Unlock()
				return
			}
		}
		if t.KeyARNs == nil {
			t.KeyARNs = t.arns[:0]
		}
		t.KeyARNs = append(t.KeyARNs, arn)
		t.mu.Unlock()
	}
}

// noteAllowed records in ctx's trace that lk's owner allowed the call, if
// that is another account than the caller's. A call within one account
// only compares the two accounts.
func noteAllowed(ctx context.Context, lk *Key) {
	c := CallerFrom(ctx)
	if c == nil || c.Account == lk.doc.Account {
		return
	}
	NoteKey(ctx, lk.arn)
	if t := TraceFrom(ctx); t != nil {
		t.mu.Lock()
		if i := slices.Index(t.KeyARNs, lk.arn); i >= 0 && i < 8 {
			t.allowed |= 1 << i
		}
		t.mu.Unlock()
	}
}

// Allowed reports whether arn, one of t.KeyARNs, is a key of another
// account than the caller's whose policies or grants allowed the call: the
// call's record goes to that account too (audit.OwnerCopies). Call it once
// the operation has returned.
func (t *Trace) Allowed(arn string) bool {
	if t.allowed == 0 {
		return false
	}
	i := slices.Index(t.KeyARNs, arn)
	return i >= 0 && i < 8 && t.allowed&(1<<i) != 0
}

// NoteGrant records in ctx's trace that grant id authorized the
// operation.
func NoteGrant(ctx context.Context, id string) {
	if t := TraceFrom(ctx); t != nil {
		t.mu.Lock()
		t.GrantIDs = append(t.GrantIDs, id)
		t.mu.Unlock()
	}
}
