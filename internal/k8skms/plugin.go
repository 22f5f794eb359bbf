package k8skms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	kmsservice "k8s.io/kms/pkg/service"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
)

const (
	// ContextKey is the encryption context member that binds a ciphertext
	// to the plugin's use; its value is the cluster name.
	ContextKey = "k8s-kms-plugin"
	// ProbeContextKey marks Status's probe ciphertexts.
	ProbeContextKey = "k8s-kms-plugin-probe"
	// AnnotationKeyARN is the annotation that carries the ARN of the key
	// that encrypted an object's seed.
	AnnotationKeyARN = "key-arn.trentkms.github.io"

	// APIVersion is the KMS API version the plugin reports.
	APIVersion = "v2"
	// DefaultTimeout bounds each call to Trent. kube-apiserver's default
	// timeout for a KMS call is 3s; answering within it lets Status say
	// why it is unhealthy instead of timing out.
	DefaultTimeout = 2 * time.Second

	// maxKeyRef bounds the key reference: a KMS key ID, ARN or alias name
	// is at most 2048 characters.
	maxKeyRef = 2048
	// maxCiphertext bounds what Decrypt passes on: kube-apiserver refuses
	// an encrypted DEK source of more than 1 KiB, and Trent's
	// CiphertextBlob is at most 6144 bytes.
	maxCiphertext = 6144
)

var probePlaintext = []byte("k8s-kms-plugin status probe")

// Backend is the key manager the plugin wraps seeds with.
type Backend interface {
	// Encrypt encrypts plaintext under the key keyRef (an ID, ARN or
	// alias) with the encryption context ec. It returns the ARN of the key
	// and the CiphertextBlob. Errors are *awserr.Error when Trent answered
	// (DisabledException, NotFoundException, AccessDeniedException, ...),
	// or the context's error or a transport error when it did not.
	Encrypt(ctx context.Context, keyRef string, plaintext []byte, ec map[string]string) (keyARN string, blob []byte, err error)
	// Decrypt decrypts blob, requiring that keyRef encrypted it and that
	// ec is its encryption context. Errors are as for Encrypt
	// (InvalidCiphertextException, IncorrectKeyException, ...).
	Decrypt(ctx context.Context, keyRef string, blob []byte, ec map[string]string) ([]byte, error)
}

// Config is a plugin's configuration.
type Config struct {
	// KeyID names the Trent key: a key ID, key ARN, alias name or alias
	// ARN. Required.
	KeyID string
	// Cluster is the cluster's name, the value of the encryption context
	// member [ContextKey]. Required.
	Cluster string
	// Backend is the key manager. Required.
	Backend Backend
	// Timeout bounds each call to the backend (default DefaultTimeout).
	Timeout time.Duration
	// Log receives one line per failed call (default: discard).
	Log *slog.Logger
}

// Plugin implements the KMS v2 service of k8s.io/kms over a [Backend]. It is
// safe for concurrent use.
type Plugin struct {
	cfg   Config
	ec    map[string]string
	probe map[string]string

	mu        sync.Mutex
	lastKeyID string // the key ID of the last successful Status or Encrypt
}

var _ kmsservice.Service = (*Plugin)(nil)

// New returns a plugin for cfg, or an error naming what cfg lacks.
func New(cfg Config) (*Plugin, error) {
	switch {
	case cfg.KeyID == "":
		return nil, errors.New("k8s-kms-plugin: a key ID is required (--key-id: key ID, key ARN or alias)")
	case len(cfg.KeyID) > maxKeyRef:
		return nil, errors.New("k8s-kms-plugin: the key ID is longer than 2048 characters")
	case cfg.Cluster == "":
		return nil, errors.New("k8s-kms-plugin: a cluster name is required (--cluster-name); it binds every ciphertext to this cluster")
	case cfg.Backend == nil:
		return nil, errors.New("k8s-kms-plugin: no backend")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Plugin{
		cfg:   cfg,
		ec:    map[string]string{ContextKey: cfg.Cluster},
		probe: map[string]string{ContextKey: cfg.Cluster, ProbeContextKey: "status"},
	}, nil
}

// EncryptionContext returns the encryption context of the plugin's
// ciphertexts (a copy).
func (p *Plugin) EncryptionContext() map[string]string {
	return map[string]string{ContextKey: p.cfg.Cluster}
}

// Status encrypts a probe under the key. Healthz is "ok" and KeyID the
// current key ID when that succeeds; otherwise Healthz names the failure and
// KeyID is the last key ID seen (or the configured key reference), so that
// kube-apiserver marks the provider unhealthy with a reason. Status returns
// an error only when ctx ends first.
func (p *Plugin) Status(ctx context.Context) (*kmsservice.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	arn, blob, err := p.cfg.Backend.Encrypt(ctx, p.cfg.KeyID, probePlaintext, p.probe)
	if err != nil {
		p.cfg.Log.Warn("k8s-kms-plugin: status: key unusable", "key", p.cfg.KeyID, "error", describe(err))
		return &kmsservice.StatusResponse{Version: APIVersion, Healthz: describe(err), KeyID: p.keyIDOrRef()}, nil
	}
	id := keyID(arn, blob)
	p.setKeyID(id)
	return &kmsservice.StatusResponse{Version: APIVersion, Healthz: "ok", KeyID: id}, nil
}

// Encrypt wraps data (a DEK seed) under the key with the plugin's
// encryption context.
func (p *Plugin) Encrypt(ctx context.Context, uid string, data []byte) (*kmsservice.EncryptResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	arn, blob, err := p.cfg.Backend.Encrypt(ctx, p.cfg.KeyID, data, p.ec)
	if err != nil {
		p.cfg.Log.Warn("k8s-kms-plugin: encrypt failed", "uid", uid, "key", p.cfg.KeyID, "error", describe(err))
		return nil, grpcError("encrypt", err)
	}
	id := keyID(arn, blob)
	p.setKeyID(id)
	return &kmsservice.EncryptResponse{
		Ciphertext:  blob,
		KeyID:       id,
		Annotations: map[string][]byte{AnnotationKeyARN: []byte(arn)},
	}, nil
}

// Decrypt unwraps a seed that Encrypt wrapped. It decrypts under the key the
// object's annotation names, or the configured key when there is none, and
// always with the plugin's encryption context: a ciphertext made for another
// cluster or another use does not decrypt.
func (p *Plugin) Decrypt(ctx context.Context, uid string, req *kmsservice.DecryptRequest) ([]byte, error) {
	if len(req.Ciphertext) == 0 || len(req.Ciphertext) > maxCiphertext {
		return nil, status.Errorf(codes.InvalidArgument, "decrypt: ciphertext of %d bytes (want 1 to %d)", len(req.Ciphertext), maxCiphertext)
	}
	ref := p.cfg.KeyID
	if a := req.Annotations[AnnotationKeyARN]; len(a) > 0 {
		if len(a) > maxKeyRef {
			return nil, status.Errorf(codes.InvalidArgument, "decrypt: annotation %s is longer than %d bytes", AnnotationKeyARN, maxKeyRef)
		}
		ref = string(a)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	pt, err := p.cfg.Backend.Decrypt(ctx, ref, req.Ciphertext, p.ec)
	if err != nil {
		p.cfg.Log.Warn("k8s-kms-plugin: decrypt failed", "uid", uid, "key", ref, "error", describe(err))
		return nil, grpcError("decrypt", err)
	}
	return pt, nil
}

func (p *Plugin) setKeyID(id string) {
	p.mu.Lock()
	p.lastKeyID = id
	p.mu.Unlock()
}

func (p *Plugin) keyIDOrRef() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastKeyID != "" {
		return p.lastKeyID
	}
	return p.cfg.KeyID
}

// keyID is the key ID kube-apiserver sees: the key's ARN and the material
// that encrypted blob. A blob of another format (a custom key store's) is
// named by the ARN alone.
func keyID(arn string, blob []byte) string {
	b, err := ciphertext.Parse(blob)
	if err != nil {
		return arn
	}
	return arn + ":" + ciphertext.MaterialIDString(b.MaterialID)
}

// describe is what a log line or Healthz says of err: the AWS exception
// name and message, or the transport's error. Neither carries plaintext or
// key material.
func describe(err error) string {
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return ae.Code + ": " + ae.Message
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout: Trent did not answer in time"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return err.Error()
}

// grpcError maps err to the gRPC status kube-apiserver logs: the AWS
// exception keeps its name, and the code says whether a retry may help.
func grpcError(op string, err error) error {
	code := codes.Unavailable
	var ae *awserr.Error
	switch {
	case errors.As(err, &ae):
		switch ae.Code {
		case "DisabledException", "KMSInvalidStateException", "KeyUnavailableException":
			code = codes.FailedPrecondition
		case "NotFoundException":
			code = codes.NotFound
		case "AccessDeniedException":
			code = codes.PermissionDenied
		case "InvalidCiphertextException", "IncorrectKeyException", "ValidationException", "InvalidKeyUsageException":
			code = codes.InvalidArgument
		case "ThrottlingException", "LimitExceededException":
			code = codes.ResourceExhausted
		case "DependencyTimeoutException":
			code = codes.DeadlineExceeded
		}
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, fmt.Sprintf("%s: %s", op, describe(err)))
}
