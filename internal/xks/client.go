package xks

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/sigv4"
)

// ClientConfig says how to reach a proxy: the custom key store's
// XksProxyUriEndpoint, XksProxyUriPath and authentication credential.
type ClientConfig struct {
	// Endpoint is "https://host[:port]".
	Endpoint string
	// Path is the XksProxyUriPath: [/prefix]/kms/xks/v1.
	Path string
	// Credential signs every request.
	Credential Credential
	// Region is the SigV4 region (Trent's own).
	Region string
	// HTTPClient carries the TLS configuration; nil means
	// http.DefaultClient. Its own Timeout, if any, also applies.
	HTTPClient *http.Client
	// Timeout bounds each call; 0 means 250 ms, as in AWS KMS.
	Timeout time.Duration
}

// Client calls an XKS proxy. It is safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	base   string
	signer *sigv4.Signer
}

// NewClient checks cfg and returns a client. It does not contact the proxy.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, errors.New("xks: the proxy endpoint is https://host[:port]")
	}
	if !strings.HasSuffix(cfg.Path, "/kms/xks/v1") || !strings.HasPrefix(cfg.Path, "/") {
		return nil, errors.New("xks: the proxy path ends with /kms/xks/v1")
	}
	if cfg.Credential.AccessKeyID == "" || cfg.Credential.SecretAccessKey == "" || cfg.Region == "" {
		return nil, errors.New("xks: the client needs a credential and a region")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	return &Client{cfg: cfg, base: strings.TrimSuffix(cfg.Endpoint, "/") + cfg.Path, signer: newSigner(cfg.Credential, cfg.Region)}, nil
}

// call posts in to path and decodes the reply into out. It returns *Error
// for a JSON error reply, or an error wrapping ErrUnreachable, ErrTimeout
// or ErrInvalidResponse.
func (c *Client) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c.signer.Sign(req, body, time.Now())
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return fmt.Errorf("%w: %s", ErrTimeout, path)
		}
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s", ErrTimeout, path)
		}
		return fmt.Errorf("%w: reading the body: %v", ErrInvalidResponse, err)
	}
	if resp.StatusCode != http.StatusOK {
		var xe Error
		if json.Unmarshal(data, &xe) != nil || xe.Name == "" {
			return fmt.Errorf("%w: HTTP %d without an XKS error body", ErrInvalidResponse, resp.StatusCode)
		}
		xe.Status = resp.StatusCode
		return &xe
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	return nil
}

// GetKeyMetadata returns the external key's metadata. It returns an error
// wrapping ErrInvalidResponse if a field is missing.
func (c *Client) GetKeyMetadata(ctx context.Context, keyID string, md RequestMetadata) (*KeyMetadata, error) {
	if !validKeyID(keyID) {
		return nil, xerr(ErrNameValidation, "invalid external key ID")
	}
	var out KeyMetadata
	if err := c.call(ctx, "/keys/"+keyID+"/metadata", metadataRequest{&md}, &out); err != nil {
		return nil, err
	}
	if out.KeySpec == "" || out.KeyStatus == "" || len(out.KeyUsage) == 0 || len(out.KeyUsage) > 10 {
		return nil, fmt.Errorf("%w: incomplete key metadata", ErrInvalidResponse)
	}
	return &out, nil
}

// EncryptOutput is what Encrypt returns; KMS keeps all of it in its
// ciphertext blob.
type EncryptOutput struct {
	Ciphertext, CiphertextMetadata, IV, Tag []byte
}

// Encrypt asks the proxy to encrypt plaintext under the external key with
// aad, always requesting a SHA-256 CDIV and checking it and every length
// (ciphertext as long as plaintext, IV 12 or 16 bytes, tag 16, metadata
// at most 20); a response that fails a check is an error wrapping
// ErrInvalidResponse.
func (c *Client) Encrypt(ctx context.Context, keyID string, md RequestMetadata, plaintext, aad []byte) (*EncryptOutput, error) {
	if !validKeyID(keyID) {
		return nil, xerr(ErrNameValidation, "invalid external key ID")
	}
	in := encryptRequest{RequestMetadata: &md, Plaintext: plaintext, EncryptionAlgorithm: "AES_GCM", AAD: aad, CDIVAlgorithm: "SHA_256"}
	if in.Plaintext == nil {
		in.Plaintext = []byte{}
	}
	var out encryptResponse
	if err := c.call(ctx, "/keys/"+keyID+"/encrypt", in, &out); err != nil {
		return nil, err
	}
	switch {
	case len(out.Ciphertext) != len(plaintext):
		return nil, fmt.Errorf("%w: ciphertext length differs from plaintext length", ErrInvalidResponse)
	case len(out.IV) != 12 && len(out.IV) != 16:
		return nil, fmt.Errorf("%w: initialization vector of %d bytes", ErrInvalidResponse, len(out.IV))
	case len(out.Tag) != tagSize:
		return nil, fmt.Errorf("%w: authentication tag of %d bytes", ErrInvalidResponse, len(out.Tag))
	case len(out.CiphertextMetadata) > MaxMetadata:
		return nil, fmt.Errorf("%w: ciphertext metadata over 20 bytes", ErrInvalidResponse)
	case subtle.ConstantTimeCompare(out.CDIV, CDIV(aad, out.CiphertextMetadata, out.IV, out.Ciphertext, out.Tag)) != 1:
		return nil, fmt.Errorf("%w: ciphertext data integrity value does not match", ErrInvalidResponse)
	}
	return &EncryptOutput{Ciphertext: out.Ciphertext, CiphertextMetadata: out.CiphertextMetadata, IV: out.IV, Tag: out.Tag}, nil
}

// Decrypt asks the proxy to decrypt what Encrypt returned, with the same
// aad. A wrong aad or modified input comes back as *Error named
// InvalidCiphertextException; a plaintext of the wrong length is an error
// wrapping ErrInvalidResponse.
func (c *Client) Decrypt(ctx context.Context, keyID string, md RequestMetadata, in *EncryptOutput, aad []byte) ([]byte, error) {
	if !validKeyID(keyID) {
		return nil, xerr(ErrNameValidation, "invalid external key ID")
	}
	req := decryptRequest{RequestMetadata: &md, Ciphertext: in.Ciphertext, CiphertextMetadata: in.CiphertextMetadata,
		EncryptionAlgorithm: "AES_GCM", AAD: aad, IV: in.IV, Tag: in.Tag}
	if req.Ciphertext == nil {
		req.Ciphertext = []byte{}
	}
	var out decryptResponse
	if err := c.call(ctx, "/keys/"+keyID+"/decrypt", req, &out); err != nil {
		return nil, err
	}
	if len(out.Plaintext) != len(in.Ciphertext) {
		return nil, fmt.Errorf("%w: plaintext length differs from ciphertext length", ErrInvalidResponse)
	}
	return out.Plaintext, nil
}

// Health returns the proxy's health status. It returns an error wrapping
// ErrInvalidResponse if the report has no HSM entry, and ErrUnreachable
// (wrapped) if every HSM is UNAVAILABLE, as KMS treats that case.
func (c *Client) Health(ctx context.Context, md RequestMetadata) (*HealthStatus, error) {
	var out HealthStatus
	if err := c.call(ctx, "/health", metadataRequest{&md}, &out); err != nil {
		return nil, err
	}
	if len(out.EkmFleetDetails) == 0 || len(out.EkmFleetDetails) > 10 {
		return nil, fmt.Errorf("%w: health report lists %d HSMs", ErrInvalidResponse, len(out.EkmFleetDetails))
	}
	for _, d := range out.EkmFleetDetails {
		if d.HealthStatus != "UNAVAILABLE" {
			return &out, nil
		}
	}
	return &out, fmt.Errorf("%w: every external key manager is UNAVAILABLE", ErrUnreachable)
}

// Caller says which kind of KMS operation met an XKS failure; KMS reports
// the same failure with different exceptions depending on it.
type Caller int

// Callers, as in the XKS specification's error table.
const (
	CallerCrypto    Caller = iota // Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, DescribeKey
	CallerCreateKey               // CreateKey
	CallerKeyStore                // Create/Update/ConnectCustomKeyStore
)

// Messages KMS uses for XKS failures (specification, error table).
const (
	msgInvalidResponse = "AWS KMS cannot interpret the response from the external key store proxy. If you see this error repeatedly, report it to your external key store proxy administrator."
	msgKeyDisabled     = "The external key associated with this KMS key in an external key store is not enabled in the external HSM. Enable the external key in the external HSM and retry the request."
	msgBadCiphertext   = "The external key store proxy rejected the request because the specified ciphertext or encryption context is corrupted, missing, or otherwise invalid."
	msgKeyUsage        = "The external key associated with this KMS key in an external key store does not support the requested operation. Enable the operation on the key in your external HSM, and try the request again."
	msgAuth            = "The external key store proxy rejected the request because it could not authenticate AWS KMS. Verify the XKS proxy authentication credentials for your external key store and update if necessary."
	msgAccessDenied    = "The external key store proxy denied access to the operation. Verify that the user and the external key are both authorized for this operation, and try the request again."
	msgKeyNotFound     = "The external key associated with this KMS key in an external key store was not found in its external HSM. If the external key ID associated with this KMS key is incorrect, create a new KMS key with the correct external key ID."
	msgURIPath         = "The external key store proxy rejected the request because of an invalid URI path. Verify the URI path for your external key store and update if necessary."
	msgUnsupported     = "The external key store proxy rejected the request because it does not support the requested operation. If you see this error repeatedly, report it to your external key store proxy administrator."
	msgDependency      = "The external key store proxy did not respond to the request in the time allotted. Retry the request. If you see this error repeatedly, report it to your external key store proxy administrator."
	msgThrottling      = "The external key store proxy rejected the request due to a very high request rate. Reduce the frequency of your calls using KMS keys in this external key store."
	msgInternal        = "The external key store proxy rejected the request because it cannot communicate with the external HSM. Verify that the external key store proxy configuration is correct and that the external HSM is available."
	msgUnreachable     = "AWS KMS cannot communicate with the external key store proxy. This might be a transient network issue. If you see this error repeatedly, verify that your external key store proxy is active and is connected to the network, and that its endpoint URI is correct in your external keystore."
	msgTimeout         = "AWS KMS rejected the request because the external key store proxy did not respond in time. Retry the request. If you see this error repeatedly, report it to your external key store proxy administrator."
)

// ToAWS turns an error from a Client call into the AWS KMS exception and
// message KMS returns for it, following the XKS specification's table.
// It returns nil for a nil error. The proxy's own errorMessage is never
// passed on (KMS logs it instead).
func ToAWS(err error, caller Caller) *awserr.Error {
	if err == nil {
		return nil
	}
	// pick chooses the exception by caller: crypto ops always get
	// KMSInvalidStateException.
	pick := func(keyStore, createKey, msg string) *awserr.Error {
		switch caller {
		case CallerKeyStore:
			return awserr.New(keyStore, msg)
		case CallerCreateKey:
			return awserr.New(createKey, msg)
		}
		return awserr.New(awserr.KMSInvalidState, msg)
	}
	var xe *Error
	switch {
	case errors.As(err, &xe):
		switch xe.Name {
		case ErrNameValidation:
			return pick(awserr.XksProxyInvalidResponse, awserr.CustomKeyStoreInvalidState, msgInvalidResponse)
		case ErrNameInvalidState:
			return pick(awserr.XksKeyInvalidConfiguration, awserr.XksKeyInvalidConfiguration, msgKeyDisabled)
		case ErrNameInvalidCiphertext:
			return awserr.New(awserr.KMSInvalidState, msgBadCiphertext)
		case ErrNameInvalidKeyUsage:
			return pick(awserr.XksKeyInvalidConfiguration, awserr.XksKeyInvalidConfiguration, msgKeyUsage)
		case ErrNameAuthenticationFailed:
			return pick(awserr.XksProxyIncorrectAuthenticationCred, awserr.CustomKeyStoreInvalidState, msgAuth)
		case ErrNameAccessDenied:
			return awserr.New(awserr.KMSInvalidState, msgAccessDenied)
		case ErrNameKeyNotFound:
			return pick(awserr.XksKeyNotFound, awserr.XksKeyNotFound, msgKeyNotFound)
		case ErrNameInvalidURIPath:
			return pick(awserr.XksProxyInvalidConfiguration, awserr.CustomKeyStoreInvalidState, msgURIPath)
		case ErrNameUnsupportedOperation:
			return pick(awserr.XksProxyInvalidResponse, awserr.XksKeyInvalidConfiguration, msgUnsupported)
		case ErrNameDependencyTimeout:
			return pick(awserr.XksProxyUriUnreachable, awserr.CustomKeyStoreInvalidState, msgDependency)
		case ErrNameThrottling:
			return pick(awserr.XksProxyUriUnreachable, awserr.CustomKeyStoreInvalidState, msgThrottling)
		case ErrNameInternal:
			return pick(awserr.XksProxyInvalidResponse, awserr.CustomKeyStoreInvalidState, msgInternal)
		}
		return pick(awserr.XksProxyInvalidResponse, awserr.CustomKeyStoreInvalidState, msgInvalidResponse)
	case errors.Is(err, ErrTimeout):
		return pick(awserr.XksProxyUriUnreachable, awserr.CustomKeyStoreInvalidState, msgTimeout)
	case errors.Is(err, ErrUnreachable):
		return pick(awserr.XksProxyUriUnreachable, awserr.CustomKeyStoreInvalidState, msgUnreachable)
	}
	return pick(awserr.XksProxyInvalidResponse, awserr.CustomKeyStoreInvalidState, msgInvalidResponse)
}
