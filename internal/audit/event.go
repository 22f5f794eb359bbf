package audit

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// EventVersion is the CloudTrail record version Trent writes.
const EventVersion = "1.11"

// Values of Event.EventType.
const (
	// EventTypeAPICall marks a record of a client request.
	EventTypeAPICall = "AwsApiCall"
	// EventTypeServiceEvent marks a record of an action Trent took on its
	// own: automatic rotation, end of a deletion waiting period, expiry of
	// imported key material.
	EventTypeServiceEvent = "AwsServiceEvent"
)

// Constant field values of every KMS record.
const (
	EventSource        = "kms.amazonaws.com"
	EventCategory      = "Management"
	ResourceTypeKMSKey = "AWS::KMS::Key"
)

// Event is one audit record, shaped like a CloudTrail event for KMS (see
// kms-api.md section 9.14). The server fills it in; the Log stores it as it
// is, serialized with encoding/json. Fields must never hold plaintext, key
// material, ciphertext, signatures, MACs or secrets: build RequestParameters
// with SafeParameters.
type Event struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        *UserIdentity  `json:"userIdentity,omitempty"`
	EventTime           string         `json:"eventTime"` // RFC 3339, UTC, second precision: 2006-01-02T15:04:05Z
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress,omitempty"`
	UserAgent           string         `json:"userAgent,omitempty"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    any            `json:"responseElements"` // nil (JSON null) for cryptographic operations
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	RequestID           string         `json:"requestID,omitempty"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []Resource     `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	// SharedEventID is set on the records of a call that crossed
	// accounts: the caller's record and one per other account whose
	// resource it used (see OwnerCopies) share it, each with its own
	// EventID and RecipientAccountID, as CloudTrail's do.
	SharedEventID       string         `json:"sharedEventID,omitempty"`
	ServiceEventDetails map[string]any `json:"serviceEventDetails,omitempty"`
	EventCategory       string         `json:"eventCategory"`
	TLSDetails          *TLSDetails    `json:"tlsDetails,omitempty"`
}

// UserIdentity identifies the caller. For service events Type is
// "AWSService" and InvokedBy names the service.
type UserIdentity struct {
	Type           string          `json:"type,omitempty"` // IAMUser, AssumedRole, Root, AWSAccount; empty for service events (invokedBy)
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext describes the session of an assumed role.
type SessionContext struct {
	SessionIssuer *SessionIssuer     `json:"sessionIssuer,omitempty"`
	Attributes    *SessionAttributes `json:"attributes,omitempty"`
}

// SessionIssuer is the role (or user) that issued temporary credentials.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

// SessionAttributes are the attributes of a temporary-credential session.
type SessionAttributes struct {
	CreationDate     string `json:"creationDate,omitempty"`
	MFAAuthenticated string `json:"mfaAuthenticated,omitempty"` // "true" or "false", as CloudTrail writes it
}

// Resource is an entry of Event.Resources, for KMS always a key.
type Resource struct {
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
	// Allowed says that the resource's owner, an account other than the
	// caller's, allowed the call (its policy or a grant): the call is
	// recorded in that account too (OwnerCopies). Not part of the record.
	Allowed bool `json:"-"`
}

// TLSDetails records the negotiated TLS connection, as CloudTrail does.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion,omitempty"`
	CipherSuite              string `json:"cipherSuite,omitempty"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader,omitempty"`
}

// Key returns the first key ARN in e.Resources, or else the keyId request
// parameter, or "".
func (e *Event) Key() string {
	for _, r := range e.Resources {
		if r.ARN != "" {
			return r.ARN
		}
	}
	if s, ok := e.RequestParameters["keyId"].(string); ok {
		return s
	}
	return ""
}

// forbidden lists request members that must never reach the trail: every
// blob member of the KMS model (plaintext, ciphertext, signatures, MACs,
// messages, key material, import tokens, attestation documents, public keys
// of peers) and every member the model marks sensitive.
var forbidden = map[string]bool{
	"plaintext": true, "ciphertextblob": true, "ciphertext": true,
	"ciphertextforrecipient": true, "privatekeyplaintext": true,
	"privatekeyciphertextblob": true, "signature": true, "mac": true,
	"message": true, "sharedsecret": true, "sharedsecretciphertextblob": true,
	"keymaterial": true, "encryptedkeymaterial": true, "importtoken": true,
	"attestationdocument": true, "publickey": true, "secretaccesskey": true,
	"rawsecretaccesskey": true, "keystorepassword": true, "granttokens": true, "granttoken": true,
	"sessiontoken": true, "password": true,
}

// opaque lists members whose value is a user-supplied map: its keys are data,
// not member names, and are kept verbatim.
var opaque = map[string]bool{
	"encryptioncontext": true, "sourceencryptioncontext": true,
	"destinationencryptioncontext": true, "encryptioncontextsubset": true,
	"encryptioncontextequals": true,
}

// SafeParameters returns the requestParameters of a record for operation op
// built from the decoded request params (member names as on the wire, e.g.
// "KeyId"). Member names are lower-camel-cased as CloudTrail writes them
// ("KeyId" becomes "keyId"), recursively through nested structures and
// lists, but not inside encryption-context maps, whose keys are user data.
// Members that carry secrets or bulk data are dropped: Plaintext,
// CiphertextBlob, PrivateKey*, Signature, Mac, Message, SharedSecret*,
// KeyMaterial, EncryptedKeyMaterial, ImportToken, AttestationDocument,
// PublicKey, any *SecretAccessKey, KeyStorePassword, and GrantTokens (log
// the grant IDs instead, under "grantIds"). Any member whose name contains
// "secret", "password" or "plaintext" is dropped too. params is not
// modified. SafeParameters returns nil for a nil params. op is accepted so
// that per-operation rules can be added without changing callers.
func SafeParameters(op string, params map[string]any) map[string]any {
	_ = op
	if params == nil {
		return nil
	}
	return safeMap(params)
}

func safeMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if isForbidden(lk) {
			continue
		}
		if opaque[lk] {
			out[lowerCamel(k)] = v
			continue
		}
		out[lowerCamel(k)] = safeValue(v)
	}
	return out
}

func safeValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return safeMap(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = safeValue(x)
		}
		return out
	case []byte:
		// Blobs are never logged, whatever their member name.
		return nil
	default:
		return v
	}
}

func isForbidden(lk string) bool {
	if forbidden[lk] || strings.HasPrefix(lk, "privatekey") {
		return true
	}
	return strings.Contains(lk, "secret") || strings.Contains(lk, "password") || strings.Contains(lk, "plaintext")
}

// lowerCamel lower-cases the leading capital of a member name, and a
// leading run of capitals that forms an initialism ("KMSKeyId" would become
// "kmsKeyId"), as CloudTrail does.
func lowerCamel(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsUpper(r) {
		return s
	}
	// Count the leading upper-case run.
	i := 0
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		i++
	}
	if i <= 1 || i == len(s) {
		if i == len(s) {
			return strings.ToLower(s)
		}
		return string(unicode.ToLower(r)) + s[n:]
	}
	// "KMSKey": the last capital starts the next word.
	return strings.ToLower(s[:i-1]) + s[i-1:]
}

// Names of the events the Log records about the trail itself. They are
// service events (EventTypeServiceEvent) with EventSource EventSourceTrent;
// ServiceEventDetails says what happened.
const (
	// EventSourceTrent is the eventSource of the trail's own events.
	EventSourceTrent = "trent.audit"
	// EventVolumeLow: the volume's free space fell below the watermark.
	EventVolumeLow = "AuditVolumeLow"
	// EventVolumeFull: a write failed for lack of space; calls are
	// refused from now on. Written in the space of the reserve.
	EventVolumeFull = "AuditVolumeFull"
	// EventVolumeRecovered: space is back; calls are served again.
	EventVolumeRecovered = "AuditVolumeRecovered"
	// EventRetention: retention is about to delete or archive segments.
	EventRetention = "AuditRetention"
	// EventTruncationAccepted: the trail was found shorter than its
	// anchor or its digests and the operator let the node start anyway.
	EventTruncationAccepted = "AuditTrailTruncationAccepted"
	// EventSigningKeyReplaced: the key that signed the trail's digests
	// was lost (or could not be unsealed) and the operator started the
	// node with a new one (Options.ReplaceSigner).
	EventSigningKeyReplaced = "AuditSigningKeyReplaced"
	// EventBackupRestored: the data directory (trail and store) was
	// restored from a backup (Options.Restore); it is the first record
	// after the backup's records.
	EventBackupRestored = "BackupRestored"
)
