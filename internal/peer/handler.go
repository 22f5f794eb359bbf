package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/pipeline"
	"github.com/trentkms/trent/internal/replica"
)

// TargetPrefix is the X-Amz-Target prefix of replication messages, and
// Target the one target.
const (
	TargetPrefix = "MultiRegionReplication_v1" // not "T…": the server takes those for KMS
	Target       = TargetPrefix + ".Deliver"
)

// Headers of a message and its answer.
const (
	HeaderFrom      = "X-Trent-Replication-From"
	HeaderSignature = "X-Trent-Replication-Signature"
)

// Handler receives replication messages.
type Handler struct {
	Replicas   *replica.Service
	FailedAuth *authfail.Limiter
	Region     string
	Logger     *slog.Logger
}

func (h *Handler) deny(w http.ResponseWriter, r *http.Request, src string, start time.Time) {
	e := awserr.New(awserr.AccessDenied, "The replication message is not authenticated.")
	if h.FailedAuth != nil {
		f := &authfail.Failure{Time: start, Source: src, EventSource: "kms.amazonaws.com", EventName: "ReplicationMessage",
			Region: h.Region, UserAgent: r.UserAgent(), TLS: r.TLS != nil, Host: r.Host,
			RequestID: w.Header().Get("X-Amzn-Requestid"), Err: e}
		ans, err := h.FailedAuth.Fail(r.Context(), f, awserr.New(awserr.Throttling, "Rate exceeded"))
		if err != nil {
			ans = awserr.Internal()
		}
		e = ans
	}
	awsjson.WriteError(w, e)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	src := pipeline.SourceIP(r.RemoteAddr)
	if h.FailedAuth != nil && h.FailedAuth.Limited(src) {
		awsjson.WriteError(w, awserr.New(awserr.Throttling, "Rate exceeded"))
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != Target {
		h.deny(w, r, src, start)
		return
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	from := r.Header.Get(HeaderFrom)
	if err != nil || from == "" || h.Replicas == nil {
		h.deny(w, r, src, start)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, replica.MaxMessage+1))
	if err != nil || len(body) > replica.MaxMessage {
		h.deny(w, r, src, start)
		return
	}
	ans, asig, err := h.Replicas.Receive(r.Context(), from, body, sig)
	if errors.Is(err, replica.ErrUnauthenticated) {
		h.deny(w, r, src, start)
		return
	}
	if err != nil {
		awsjson.WriteError(w, awserr.Internal())
		return
	}
	w.Header().Set(HeaderSignature, base64.StdEncoding.EncodeToString(asig))
	w.Header().Set("Content-Type", awsjson.ContentType)
	w.Write(ans)
}

// Client sends replication messages (replica.Transport).
//
// Its errors are descriptions Trent chooses (the HTTP status, or that the
// peer was unreachable or did not answer in time), never text of the
// answer: they reach the outbox, the audit trail and the log, and a peer,
// or anyone on the path to an http:// endpoint, chooses the answer's bytes.
type Client struct {
	From string
	HTTP *http.Client
	// Logger, if set, gets at debug level what a failed delivery saw
	// (made printable and truncated by replica.Printable).
	Logger *slog.Logger
}

// NewClient returns a Client for deployment region; caFile, if set, is
// the PEM bundle that peers' HTTPS certificates must chain to (else the
// system's roots).
func NewClient(region, caFile string) (*Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("peer: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("peer: the CA file holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Client{From: region, HTTP: &http.Client{Transport: tr, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Send implements replica.Transport.
func (c *Client) Send(ctx context.Context, p replica.Peer, body, sig []byte) ([]byte, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.Endpoint, "/")+"/", strings.NewReader(string(body)))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", awsjson.ContentType)
	req.Header.Set("X-Amz-Target", Target)
	req.Header.Set(HeaderFrom, c.From)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		// The transport's error may quote what the peer sent (a malformed
		// status line, a TLS alert).
		c.debug(p, "send", err.Error())
		var ne net.Error
		if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
			return nil, nil, fmt.Errorf("peer %s did not answer in time", p.Region)
		}
		return nil, nil, fmt.Errorf("peer %s unreachable", p.Region)
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		c.debug(p, "read", err.Error())
		return nil, nil, fmt.Errorf("peer %s: its answer was cut off", p.Region)
	}
	if resp.StatusCode != http.StatusOK {
		c.debug(p, fmt.Sprintf("HTTP %d", resp.StatusCode), string(ans))
		return nil, nil, fmt.Errorf("peer %s answered HTTP %d", p.Region, resp.StatusCode)
	}
	asig, err := base64.StdEncoding.DecodeString(resp.Header.Get(HeaderSignature))
	if err != nil {
		return nil, nil, errors.New("the answer has no signature")
	}
	return ans, asig, nil
}

// debug logs what a failed delivery to p saw: text the peer may choose.
func (c *Client) debug(p replica.Peer, what, raw string) {
	if c.Logger != nil {
		c.Logger.Debug("multi-Region replication: delivery failed", "region", p.Region, "what", what,
			"detail", replica.Printable(raw, 200))
	}
}
