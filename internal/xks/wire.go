package xks

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// Service is the SigV4 service name of XKS proxy requests.
const Service = "kms-xks-proxy"

// Limits this implementation enforces. The spec's minimums are 4300 bytes
// of plaintext and 8192 of AAD; larger requests get
// UnsupportedOperationException, as the spec allows.
const (
	MaxPlaintext  = 8192
	MaxAAD        = 8192
	MaxMetadata   = 20
	maxBody       = 64 << 10
	maxKeyIDLen   = 128
	tagSize       = 16
	defaultIVSize = 12
)

// Error names of the XKS proxy API.
const (
	ErrNameValidation           = "ValidationException"
	ErrNameInvalidState         = "InvalidStateException"
	ErrNameInvalidCiphertext    = "InvalidCiphertextException"
	ErrNameInvalidKeyUsage      = "InvalidKeyUsageException"
	ErrNameAuthenticationFailed = "AuthenticationFailedException"
	ErrNameAccessDenied         = "AccessDeniedException"
	ErrNameKeyNotFound          = "KeyNotFoundException"
	ErrNameInvalidURIPath       = "InvalidUriPathException"
	ErrNameThrottling           = "ThrottlingException"
	ErrNameUnsupportedOperation = "UnsupportedOperationException"
	ErrNameDependencyTimeout    = "DependencyTimeoutException"
	ErrNameInternal             = "InternalException"
)

// statusOf is the HTTP status the spec gives each error name.
func statusOf(name string) int {
	switch name {
	case ErrNameAuthenticationFailed:
		return http.StatusUnauthorized
	case ErrNameAccessDenied:
		return http.StatusForbidden
	case ErrNameKeyNotFound, ErrNameInvalidURIPath:
		return http.StatusNotFound
	case ErrNameThrottling:
		return http.StatusTooManyRequests
	case ErrNameUnsupportedOperation:
		return http.StatusNotImplemented
	case ErrNameDependencyTimeout:
		return http.StatusServiceUnavailable
	case ErrNameInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Error is an error reply from a proxy, or one a Proxy sends.
type Error struct {
	// Name is the spec's errorName, e.g. "KeyNotFoundException".
	Name string `json:"errorName"`
	// Message is the optional errorMessage: printable ASCII, < 512 chars.
	Message string `json:"errorMessage,omitempty"`
	// Status is the HTTP status of the reply.
	Status int `json:"-"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "xks: " + e.Name
	}
	return "xks: " + e.Name + ": " + e.Message
}

// Is matches any *Error with the same Name.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Name == e.Name
}

func xerr(name, msg string) *Error { return &Error{Name: name, Message: msg, Status: statusOf(name)} }

// Client-side failures that are not proxy error replies.
var (
	// ErrUnreachable: no TCP or TLS connection to the proxy.
	ErrUnreachable = errors.New("xks: proxy unreachable")
	// ErrTimeout: the proxy did not answer within the call timeout.
	ErrTimeout = errors.New("xks: proxy did not respond in time")
	// ErrInvalidResponse: the proxy answered something that is not a valid
	// response (bad JSON, wrong lengths, CDIV mismatch, non-JSON error).
	ErrInvalidResponse = errors.New("xks: invalid response from proxy")
)

// RequestMetadata is the requestMetadata object of every request.
type RequestMetadata struct {
	AWSPrincipalARN string `json:"awsPrincipalArn,omitempty"`
	AWSSourceVPC    string `json:"awsSourceVpc,omitempty"`
	AWSSourceVPCE   string `json:"awsSourceVpce,omitempty"`
	KMSKeyARN       string `json:"kmsKeyArn,omitempty"`
	KMSOperation    string `json:"kmsOperation"`
	KMSRequestID    string `json:"kmsRequestId"`
	KMSViaService   string `json:"kmsViaService,omitempty"`
}

// KeyMetadata is the GetKeyMetadata response.
type KeyMetadata struct {
	KeySpec   string   `json:"keySpec"`
	KeyUsage  []string `json:"keyUsage"`
	KeyStatus string   `json:"keyStatus"`
}

// HealthStatus is the GetHealthStatus response.
type HealthStatus struct {
	XksProxyFleetSize int         `json:"xksProxyFleetSize"`
	XksProxyVendor    string      `json:"xksProxyVendor"`
	XksProxyModel     string      `json:"xksProxyModel"`
	EkmVendor         string      `json:"ekmVendor"`
	EkmFleetDetails   []EkmDetail `json:"ekmFleetDetails"`
}

// EkmDetail describes one HSM behind the proxy.
type EkmDetail struct {
	ID           string `json:"id"`
	Model        string `json:"model"`
	HealthStatus string `json:"healthStatus"` // ACTIVE, DEGRADED or UNAVAILABLE
}

type metadataRequest struct {
	RequestMetadata *RequestMetadata `json:"requestMetadata"`
}

// Binary fields are []byte, which encoding/json reads and writes as
// standard base64, as the spec requires.
type encryptRequest struct {
	RequestMetadata     *RequestMetadata `json:"requestMetadata"`
	Plaintext           []byte           `json:"plaintext"`
	EncryptionAlgorithm string           `json:"encryptionAlgorithm"`
	AAD                 []byte           `json:"additionalAuthenticatedData,omitempty"`
	CDIVAlgorithm       string           `json:"ciphertextDataIntegrityValueAlgorithm,omitempty"`
}

type encryptResponse struct {
	Ciphertext         []byte `json:"ciphertext"`
	CiphertextMetadata []byte `json:"ciphertextMetadata,omitempty"`
	IV                 []byte `json:"initializationVector"`
	Tag                []byte `json:"authenticationTag"`
	CDIV               []byte `json:"ciphertextDataIntegrityValue,omitempty"`
}

type decryptRequest struct {
	RequestMetadata     *RequestMetadata `json:"requestMetadata"`
	Ciphertext          []byte           `json:"ciphertext"`
	CiphertextMetadata  []byte           `json:"ciphertextMetadata,omitempty"`
	EncryptionAlgorithm string           `json:"encryptionAlgorithm"`
	AAD                 []byte           `json:"additionalAuthenticatedData,omitempty"`
	IV                  []byte           `json:"initializationVector"`
	Tag                 []byte           `json:"authenticationTag"`
}

type decryptResponse struct {
	Plaintext []byte `json:"plaintext"`
}

// hsmAAD builds the AAD the HSM sees from the request's AAD and the
// ciphertext metadata, with both lengths, as the spec prescribes.
func hsmAAD(aad, metadata []byte) []byte {
	out := make([]byte, 0, 3+len(aad)+len(metadata))
	out = binary.BigEndian.AppendUint16(out, uint16(len(aad)))
	out = append(out, aad...)
	out = append(out, byte(len(metadata)))
	return append(out, metadata...)
}

// CDIV computes the ciphertext data integrity value: SHA-256 over
// aad | ciphertextMetadata | iv | ciphertext | tag.
func CDIV(aad, metadata, iv, ciphertext, tag []byte) []byte {
	h := sha256.New()
	for _, b := range [][]byte{aad, metadata, iv, ciphertext, tag} {
		h.Write(b)
	}
	return h.Sum(nil)
}

// validKeyID reports whether id is a valid externalKeyId: 1 to 128 of
// A-Z a-z 0-9 - . _
func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func badRequest(format string, args ...any) *Error {
	return xerr(ErrNameValidation, fmt.Sprintf(format, args...))
}
