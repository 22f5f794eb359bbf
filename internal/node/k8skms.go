package node

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/k8skms"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/pipeline"
	"github.com/trentkms/trent/internal/uuid"
	"github.com/trentkms/trent/internal/wire"
)

// inProcessUserAgent and inProcessSource stand in the trail for the
// User-Agent and source address of the in-process plugin's calls, which
// come over no network.
const (
	inProcessUserAgent = "trent k8s-kms-plugin (in-process)"
	inProcessSource    = "k8s-kms-plugin"
)

// inProcessKMS is the k8skms.Backend of trent serve --k8s-kms-socket: it
// calls the KMS service directly, as the principal that owns an access key,
// and records every call in the trail as the KMS API records a call over
// HTTP (the same userIdentity, requestParameters and resources; the source
// is named inProcessSource). A call the trail cannot take is not made.
type inProcessKMS struct {
	svc    *kms.Service
	dir    *iam.Directory
	trail  *audit.Log // nil when the trail is disabled
	jobs   *job.Runner
	akid   string
	region string
	log    *slog.Logger
}

var (
	errInvalidToken = &awserr.Error{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	errExpiredToken = &awserr.Error{Code: awserr.ExpiredToken, Message: "The security token included in the request is expired"}
)

// caller returns the principal of the configured access key, or
// UnrecognizedClientException if the key is unknown or inactive, or
// ExpiredTokenException if it is a temporary credential that has expired
// (as SigV4 verification refuses it over HTTP: expired sessions stay in
// the store until a sweep removes them).
func (b *inProcessKMS) caller(ctx context.Context) (*kms.Caller, error) {
	sec, err := b.dir.Lookup(ctx, b.akid)
	if err != nil {
		if awserr.As(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, errInvalidToken
	}
	if !sec.Expires.IsZero() && !time.Now().Before(sec.Expires) {
		return nil, errExpiredToken
	}
	c, err := b.dir.Caller(ctx, b.akid)
	if err != nil {
		return nil, errInvalidToken
	}
	c.UserAgent = inProcessUserAgent
	return c, nil
}

func (b *inProcessKMS) Encrypt(ctx context.Context, keyRef string, plaintext []byte, ec map[string]string) (string, []byte, error) {
	alg := "SYMMETRIC_DEFAULT"
	in := &wire.EncryptInput{KeyID: &keyRef, Plaintext: plaintext, EncryptionContext: ec, EncryptionAlgorithm: &alg}
	var out *wire.EncryptOutput
	err := b.call(ctx, "Encrypt", in.AuditParameters(), func(rc context.Context) (err error) {
		out, err = b.svc.Encrypt(rc, in)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return out.KeyID, out.CiphertextBlob, nil
}

func (b *inProcessKMS) Decrypt(ctx context.Context, keyRef string, blob []byte, ec map[string]string) ([]byte, error) {
	alg := "SYMMETRIC_DEFAULT"
	in := &wire.DecryptInput{KeyID: &keyRef, CiphertextBlob: blob, EncryptionContext: ec, EncryptionAlgorithm: &alg}
	var out *wire.DecryptOutput
	err := b.call(ctx, "Decrypt", in.AuditParameters(), func(rc context.Context) (err error) {
		out, err = b.svc.Decrypt(rc, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// call authorizes and runs one cryptographic operation as the configured
// principal and records it. The error is an *awserr.Error as the HTTP API
// would answer, or the context's.
func (b *inProcessKMS) call(ctx context.Context, name string, params map[string]any, run func(context.Context) error) error {
	start := time.Now()
	reqID := uuid.New()
	if b.trail != nil {
		if err := b.trail.Accepting(); err != nil {
			b.log.Error("k8s-kms-plugin: the audit trail refuses calls", "requestId", reqID, "err", err)
			return &awserr.Error{Code: "KMSInternalException", Message: "The request was rejected because an internal exception occurred."}
		}
	}
	caller, err := b.caller(ctx)
	if err != nil {
		return err
	}
	trace := &kms.Trace{}
	runErr := run(&kms.RequestContext{Context: ctx, Caller: caller, Trace: trace})
	var aerr *awserr.Error
	if runErr != nil {
		if aerr = awserr.As(runErr); aerr == nil {
			if errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded) {
				aerr = &awserr.Error{Code: "DependencyTimeoutException", Message: "The request timed out."}
			} else {
				b.log.Error("k8s-kms-plugin: internal error", "requestId", reqID, "operation", name, "err", runErr)
				aerr = &awserr.Error{Code: "KMSInternalException", Message: "The request was rejected because an internal exception occurred."}
			}
		}
	}
	eventID := ""
	if b.trail != nil {
		ev := &audit.Event{
			EventVersion: "1.11", EventTime: start.UTC().Format("2006-01-02T15:04:05Z"),
			EventSource: "kms.amazonaws.com", EventName: name, AWSRegion: b.region,
			SourceIPAddress: inProcessSource, UserAgent: inProcessUserAgent,
			RequestParameters: params, RequestID: reqID, EventID: audit.NewEventID(),
			ReadOnly: true, EventType: "AwsApiCall", ManagementEvent: true, EventCategory: "Management",
			UserIdentity: pipeline.UserIdentity(caller), RecipientAccountID: caller.Account,
		}
		if aerr != nil {
			ev.ErrorCode, ev.ErrorMessage = aerr.Code, aerr.Message
		}
		for _, key := range trace.KeyARNs {
			ev.Resources = append(ev.Resources, audit.Resource{AccountID: arn.Field(key, 4), Type: "AWS::KMS::Key", ARN: key,
				Allowed: trace.Allowed(key)})
		}
		if err := b.trail.AppendCall(ctx, ev); err != nil {
			b.log.Error("k8s-kms-plugin: audit record not written; failing the call", "requestId", reqID, "err", err)
			return &awserr.Error{Code: "KMSInternalException", Message: "The request was rejected because an internal exception occurred."}
		}
		eventID = ev.EventID
	}
	if aerr != nil {
		return aerr
	}
	if b.jobs != nil && len(trace.KeyARNs) > 0 {
		b.jobs.RecordUsage(trace.KeyARNs, name, eventID, reqID, start)
	}
	return nil
}

// startK8sKMS serves the in-process plugin when the configuration asks
// for it.
func (n *Node) startK8sKMS() error {
	k := n.Config.K8sKMS
	if k.Socket == "" {
		return nil
	}
	p, err := k8skms.New(k8skms.Config{
		KeyID: k.KeyID, Cluster: k.ClusterName, Timeout: k.Timeout, Log: n.log,
		Backend: &inProcessKMS{svc: n.Service, dir: n.Directory, trail: n.Audit, jobs: n.Jobs,
			akid: k.AccessKeyID, region: n.Config.Region, log: n.log},
	})
	if err != nil {
		return err
	}
	if n.k8s, err = k8skms.Listen(k.Socket, p); err != nil {
		return err
	}
	go func() {
		if err := n.k8s.Serve(); err != nil {
			n.log.Error("k8s-kms-plugin: serving stopped", "err", err)
		}
	}()
	st, _ := p.Status(context.Background())
	n.log.Info("k8s-kms-plugin: serving in-process", "socket", k.Socket, "key", k.KeyID, "cluster", k.ClusterName,
		"accessKeyId", k.AccessKeyID, "healthz", st.Healthz, "key_id", st.KeyID)
	return nil
}

// stopK8sKMS stops the in-process plugin, letting calls in progress finish
// within a few seconds, before the trail closes.
func (n *Node) stopK8sKMS() {
	if n.k8s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.k8s.Stop(ctx)
	n.k8s = nil
}

var _ k8skms.Backend = (*inProcessKMS)(nil)
