package xks

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/sigv4"
)

// ProxyConfig configures an XKS proxy.
type ProxyConfig struct {
	// Token holds the external keys. The proxy does not close it.
	Token *hsm.Token
	// PathPrefix is the optional path prefix before /kms/xks/v1, e.g.
	// "/tenant-1"; empty for none.
	PathPrefix string
	// Region is the AWS Region KMS signs with (the credential scope).
	Region string
	// Credentials are the accepted SigV4 credential sets (at least one;
	// two while rotating).
	Credentials []Credential
	// KeyLabelPrefix maps an externalKeyId to the HSM key labelled
	// KeyLabelPrefix + externalKeyId. Empty means "xks-".
	KeyLabelPrefix string
	// HealthKeyLabel is the HSM test key the health check encrypts with;
	// it is created if missing. Empty means "trent-xks-health".
	HealthKeyLabel string
	// Logger receives one line per failed request (never plaintext).
	// Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for signature freshness; nil means time.Now.
	Now func() time.Time
}

// Proxy is an XKS proxy (API v1) serving keys from a PKCS#11 token.
type Proxy struct {
	cfg      ProxyConfig
	base     string // PathPrefix + "/kms/xks/v1/"
	verifier *sigv4.Verifier
	keys     sync.Map
}

// NewProxy returns an XKS proxy handler. It returns an error if the
// configuration is incomplete or the health-check key cannot be created.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if cfg.Token == nil {
		return nil, errors.New("xks: proxy needs an HSM token")
	}
	if cfg.Region == "" {
		return nil, errors.New("xks: proxy needs the SigV4 region")
	}
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("xks: proxy needs at least one SigV4 credential")
	}
	for _, c := range cfg.Credentials {
		if c.AccessKeyID == "" || len(c.SecretAccessKey) < 16 {
			return nil, errors.New("xks: each proxy credential needs an access key ID and a secret of at least 16 characters")
		}
	}
	if cfg.PathPrefix != "" && (!strings.HasPrefix(cfg.PathPrefix, "/") || strings.HasSuffix(cfg.PathPrefix, "/")) {
		return nil, errors.New(`xks: the path prefix starts with "/" and does not end with one`)
	}
	if cfg.KeyLabelPrefix == "" {
		cfg.KeyLabelPrefix = "xks-"
	}
	if cfg.HealthKeyLabel == "" {
		cfg.HealthKeyLabel = "trent-xks-health"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if _, err := cfg.Token.FindKey(cfg.HealthKeyLabel); errors.Is(err, hsm.ErrKeyNotFound) {
		if _, err := cfg.Token.GenerateAESKey(cfg.HealthKeyLabel); err != nil && !errors.Is(err, hsm.ErrKeyExists) {
			return nil, fmt.Errorf("xks: create health-check key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("xks: %w", err)
	}
	return &Proxy{cfg: cfg, base: cfg.PathPrefix + "/kms/xks/v1/", verifier: newVerifier(cfg.Credentials, cfg.Region, cfg.Now)}, nil
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := p.serve(r)
	if err != nil {
		var xe *Error
		if !errors.As(err, &xe) {
			p.cfg.Logger.Error("xks proxy: internal error", "path", r.URL.Path, "err", err)
			xe = xerr(ErrNameInternal, "The XKS proxy cannot communicate with its HSM.")
		} else {
			p.cfg.Logger.Info("xks proxy: request refused", "path", r.URL.Path, "error", xe.Name)
		}
		writeJSON(w, xe.Status, xe)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (p *Proxy) serve(r *http.Request) (any, error) {
	rest, ok := strings.CutPrefix(r.URL.Path, p.base)
	if !ok {
		return nil, xerr(ErrNameInvalidURIPath, "The request URI path is not valid.")
	}
	var keyID, op string
	if rest == "health" {
		op = "health"
	} else {
		parts := strings.Split(rest, "/")
		if len(parts) != 3 || parts[0] != "keys" || !validKeyID(parts[1]) {
			return nil, xerr(ErrNameInvalidURIPath, "The request URI path is not valid.")
		}
		keyID, op = parts[1], parts[2]
		if op != "metadata" && op != "encrypt" && op != "decrypt" {
			return nil, xerr(ErrNameInvalidURIPath, "The request URI path is not valid.")
		}
	}
	if r.Method != http.MethodPost {
		return nil, &Error{Name: ErrNameValidation, Message: "Use POST.", Status: http.StatusMethodNotAllowed}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("The request body cannot be read.")
	}
	if len(body) > maxBody {
		return nil, xerr(ErrNameUnsupportedOperation, "The request body is too large.")
	}
	// The error says nothing of which check failed (and holds no secret).
	if _, err := p.verifier.Verify(r.Context(), r, body); err != nil {
		return nil, xerr(ErrNameAuthenticationFailed, "The request signature does not match.")
	}
	switch op {
	case "health":
		var req metadataRequest
		if err := decodeStrict(body, &req); err != nil {
			return nil, err
		}
		if err := checkMetadata(req.RequestMetadata, false, false); err != nil {
			return nil, err
		}
		return p.health(), nil
	case "metadata":
		var req metadataRequest
		if err := decodeStrict(body, &req); err != nil {
			return nil, err
		}
		if err := checkMetadata(req.RequestMetadata, true, false); err != nil {
			return nil, err
		}
		return p.metadata(keyID)
	case "encrypt":
		var req encryptRequest
		if err := decodeStrict(body, &req); err != nil {
			return nil, err
		}
		if err := checkMetadata(req.RequestMetadata, true, true); err != nil {
			return nil, err
		}
		return p.encrypt(keyID, &req)
	default:
		var req decryptRequest
		if err := decodeStrict(body, &req); err != nil {
			return nil, err
		}
		if err := checkMetadata(req.RequestMetadata, true, true); err != nil {
			return nil, err
		}
		return p.decrypt(keyID, &req)
	}
}

// decodeStrict parses a request body. Unknown fields are allowed: KMS may
// add metadata fields, and the spec forbids rejecting those.
func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(v); err != nil {
		return badRequest("The request body is not valid JSON with base64 binary fields.")
	}
	if d.More() {
		return badRequest("The request body has trailing data.")
	}
	return nil
}

func checkMetadata(md *RequestMetadata, principal, keyARN bool) error {
	switch {
	case md == nil:
		return badRequest("requestMetadata is required.")
	case md.KMSRequestID == "":
		return badRequest("requestMetadata.kmsRequestId is required.")
	case md.KMSOperation == "":
		return badRequest("requestMetadata.kmsOperation is required.")
	case principal && md.AWSPrincipalARN == "":
		return badRequest("requestMetadata.awsPrincipalArn is required.")
	case keyARN && md.KMSKeyARN == "":
		return badRequest("requestMetadata.kmsKeyArn is required.")
	}
	return nil
}

// key finds the HSM key for an external key ID, caching the handle.
func (p *Proxy) key(keyID string) (hsm.Key, error) {
	if k, ok := p.keys.Load(keyID); ok {
		return k.(hsm.Key), nil
	}
	k, err := p.cfg.Token.FindKey(p.cfg.KeyLabelPrefix + keyID)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		return hsm.Key{}, xerr(ErrNameKeyNotFound, "The external key is not found.")
	}
	if err != nil {
		return hsm.Key{}, err
	}
	p.keys.Store(keyID, k)
	return k, nil
}

// hsmErr maps an HSM failure for keyID to a proxy error.
func (p *Proxy) hsmErr(keyID string, err error) error {
	if errors.Is(err, hsm.ErrKeyNotFound) {
		p.keys.Delete(keyID)
		return xerr(ErrNameKeyNotFound, "The external key is not found.")
	}
	return err
}

func (p *Proxy) metadata(keyID string) (any, error) {
	k, err := p.key(keyID)
	if err != nil {
		return nil, err
	}
	a, err := p.cfg.Token.KeyAttributes(k)
	if err != nil {
		return nil, p.hsmErr(keyID, err)
	}
	md := KeyMetadata{KeySpec: fmt.Sprintf("AES_%d", a.ValueLen*8), KeyUsage: []string{}, KeyStatus: "ENABLED"}
	if a.Encrypt {
		md.KeyUsage = append(md.KeyUsage, "ENCRYPT")
	}
	if a.Decrypt {
		md.KeyUsage = append(md.KeyUsage, "DECRYPT")
	}
	return md, nil
}

func (p *Proxy) encrypt(keyID string, req *encryptRequest) (any, error) {
	switch {
	case req.Plaintext == nil:
		return nil, badRequest("plaintext is required.")
	case req.EncryptionAlgorithm != "AES_GCM":
		return nil, badRequest("encryptionAlgorithm must be AES_GCM.")
	case req.CDIVAlgorithm != "" && req.CDIVAlgorithm != "SHA_256":
		return nil, badRequest("ciphertextDataIntegrityValueAlgorithm must be SHA_256.")
	case len(req.Plaintext) > MaxPlaintext || len(req.AAD) > MaxAAD:
		return nil, xerr(ErrNameUnsupportedOperation, "The plaintext or additional authenticated data is larger than this proxy supports.")
	}
	k, err := p.key(keyID)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, defaultIVSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	sealed, err := p.cfg.Token.Encrypt(k, iv, req.Plaintext, hsmAAD(req.AAD, nil))
	if err != nil {
		return nil, p.hsmErr(keyID, err)
	}
	n := len(sealed) - tagSize
	resp := encryptResponse{Ciphertext: sealed[:n], IV: iv, Tag: sealed[n:]}
	if req.CDIVAlgorithm != "" {
		resp.CDIV = CDIV(req.AAD, nil, iv, resp.Ciphertext, resp.Tag)
	}
	return resp, nil
}

func (p *Proxy) decrypt(keyID string, req *decryptRequest) (any, error) {
	switch {
	case req.EncryptionAlgorithm != "AES_GCM":
		return nil, badRequest("encryptionAlgorithm must be AES_GCM.")
	case req.Ciphertext == nil:
		return nil, badRequest("ciphertext is required.")
	case len(req.IV) != 12 && len(req.IV) != 16:
		return nil, badRequest("initializationVector must have 12 or 16 bytes.")
	case len(req.Tag) != tagSize:
		return nil, badRequest("authenticationTag must have 16 bytes.")
	case len(req.CiphertextMetadata) > MaxMetadata:
		return nil, badRequest("ciphertextMetadata must have at most 20 bytes.")
	case len(req.Ciphertext) > MaxPlaintext || len(req.AAD) > MaxAAD:
		return nil, xerr(ErrNameUnsupportedOperation, "The ciphertext or additional authenticated data is larger than this proxy supports.")
	}
	k, err := p.key(keyID)
	if err != nil {
		return nil, err
	}
	sealed := append(append(make([]byte, 0, len(req.Ciphertext)+tagSize), req.Ciphertext...), req.Tag...)
	pt, err := p.cfg.Token.Decrypt(k, req.IV, sealed, hsmAAD(req.AAD, req.CiphertextMetadata))
	if errors.Is(err, hsm.ErrDecrypt) {
		return nil, xerr(ErrNameInvalidCiphertext, "The ciphertext, initialization vector, additional authenticated data or authentication tag is invalid.")
	}
	if err != nil {
		return nil, p.hsmErr(keyID, err)
	}
	return decryptResponse{Plaintext: pt}, nil
}

// health is a deep check: an encrypt/decrypt round trip with the test key.
func (p *Proxy) health() HealthStatus {
	info := p.cfg.Token.Info()
	status := "ACTIVE"
	if err := p.selfTest(); err != nil {
		p.cfg.Logger.Error("xks proxy: health check failed", "err", err)
		status = "UNAVAILABLE"
	}
	return HealthStatus{
		XksProxyFleetSize: 1,
		XksProxyVendor:    "Trent",
		XksProxyModel:     "Trent XKS Proxy v1",
		EkmVendor:         info.Manufacturer,
		EkmFleetDetails:   []EkmDetail{{ID: info.Serial, Model: info.Model, HealthStatus: status}},
	}
}

func (p *Proxy) selfTest() error {
	k, err := p.cfg.Token.FindKey(p.cfg.HealthKeyLabel)
	if err != nil {
		return err
	}
	iv := make([]byte, defaultIVSize)
	if _, err := rand.Read(iv); err != nil {
		return err
	}
	probe := []byte("trent xks health")
	ct, err := p.cfg.Token.Encrypt(k, iv, probe, nil)
	if err != nil {
		return err
	}
	pt, err := p.cfg.Token.Decrypt(k, iv, ct, nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(pt, probe) {
		return errors.New("health round trip returned other bytes")
	}
	return nil
}
