// Package awserr defines the errors Trent returns to clients: an AWS exception
// name (the wire "__type") and a message, exactly as AWS KMS words them.
//
// Every layer below the HTTP server returns *Error for conditions a client
// caused or can act on; anything else is an internal error, which the server
// logs with the request ID and reports as KMSInternalException. Messages must
// never contain plaintext, key material, secret keys or encryption-context
// values: they are sent to clients and written to the audit trail.
package awserr

import (
	"errors"
	"fmt"
	"strings"
)

// Error is an AWS-style service error.
type Error struct {
	// Code is the exception name sent as "__type", e.g. "NotFoundException".
	Code string
	// Message is sent as "message". It may be empty: AWS sends an empty
	// message for InvalidCiphertextException and a few others.
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, awserr.New(awserr.NotFound, "")) matches any NotFoundException.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// New returns an error with the given exception name and message.
func New(code, message string) *Error { return &Error{Code: code, Message: message} }

// Newf is New with a formatted message.
func Newf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// CodeOf returns the exception name of err, or "" if err carries none.
func CodeOf(err error) string {
	if e := As(err); e != nil {
		return e.Code
	}
	return ""
}

// Exception names used by Trent. The KMS model's exceptions first, then the
// common AWS JSON-protocol errors that are not in the model.
const (
	AlreadyExists                         = "AlreadyExistsException"
	CloudHsmClusterInvalidConfiguration   = "CloudHsmClusterInvalidConfigurationException"
	CloudHsmClusterNotActive              = "CloudHsmClusterNotActiveException"
	CloudHsmClusterNotFound               = "CloudHsmClusterNotFoundException"
	CloudHsmClusterInUse                  = "CloudHsmClusterInUseException"
	CloudHsmClusterNotRelated             = "CloudHsmClusterNotRelatedException"
	Conflict                              = "ConflictException"
	CustomKeyStoreHasCMKs                 = "CustomKeyStoreHasCMKsException"
	CustomKeyStoreInvalidState            = "CustomKeyStoreInvalidStateException"
	CustomKeyStoreNameInUse               = "CustomKeyStoreNameInUseException"
	CustomKeyStoreNotFound                = "CustomKeyStoreNotFoundException"
	DependencyTimeout                     = "DependencyTimeoutException"
	Disabled                              = "DisabledException"
	DryRunOperation                       = "DryRunOperationException"
	ExpiredImportToken                    = "ExpiredImportTokenException"
	IncorrectKey                          = "IncorrectKeyException"
	IncorrectKeyMaterial                  = "IncorrectKeyMaterialException"
	IncorrectTrustAnchor                  = "IncorrectTrustAnchorException"
	InvalidAliasName                      = "InvalidAliasNameException"
	InvalidArn                            = "InvalidArnException"
	InvalidCiphertext                     = "InvalidCiphertextException"
	InvalidGrantID                        = "InvalidGrantIdException"
	InvalidGrantToken                     = "InvalidGrantTokenException"
	InvalidImportToken                    = "InvalidImportTokenException"
	InvalidKeyUsage                       = "InvalidKeyUsageException"
	InvalidMarker                         = "InvalidMarkerException"
	KMSInternal                           = "KMSInternalException"
	KMSInvalidMac                         = "KMSInvalidMacException"
	KMSInvalidSignature                   = "KMSInvalidSignatureException"
	KMSInvalidState                       = "KMSInvalidStateException"
	KeyUnavailable                        = "KeyUnavailableException"
	LimitExceeded                         = "LimitExceededException"
	MalformedPolicyDocument               = "MalformedPolicyDocumentException"
	NotFound                              = "NotFoundException"
	Tag                                   = "TagException"
	UnsupportedOperation                  = "UnsupportedOperationException"
	XksKeyAlreadyInUse                    = "XksKeyAlreadyInUseException"
	XksKeyInvalidConfiguration            = "XksKeyInvalidConfigurationException"
	XksKeyNotFound                        = "XksKeyNotFoundException"
	XksProxyIncorrectAuthenticationCred   = "XksProxyIncorrectAuthenticationCredentialException"
	XksProxyInvalidConfiguration          = "XksProxyInvalidConfigurationException"
	XksProxyInvalidResponse               = "XksProxyInvalidResponseException"
	XksProxyUriEndpointInUse              = "XksProxyUriEndpointInUseException"
	XksProxyUriInUse                      = "XksProxyUriInUseException"
	XksProxyUriUnreachable                = "XksProxyUriUnreachableException"
	XksProxyVpcEndpointServiceInUse       = "XksProxyVpcEndpointServiceInUseException"
	XksProxyVpcEndpointServiceInvalidConf = "XksProxyVpcEndpointServiceInvalidConfigurationException"
	XksProxyVpcEndpointServiceNotFound    = "XksProxyVpcEndpointServiceNotFoundException"

	AccessDenied               = "AccessDeniedException"
	IncompleteSignature        = "IncompleteSignatureException"
	InvalidSignature           = "InvalidSignatureException"
	MissingAuthenticationToken = "MissingAuthenticationTokenException"
	UnrecognizedClient         = "UnrecognizedClientException"
	ExpiredToken               = "ExpiredTokenException"
	Serialization              = "SerializationException"
	Throttling                 = "ThrottlingException"
	UnknownOperation           = "UnknownOperationException"
	Validation                 = "ValidationException"
	RequestEntityTooLarge      = "RequestEntityTooLargeException"
	InvalidAction              = "InvalidAction"
	InternalFailure            = "InternalFailure"
)

// HTTPStatus returns the HTTP status AWS KMS uses for an exception name.
// AWS answers 400 for every client error, including the ones its model tags
// 404, 409 or 412 (see shared/kms-aws-observed.md) and ThrottlingException
// ("Status Code: 400; Error Code: ThrottlingException" in AWS's
// troubleshooting guide); 500 for internal faults and 503 for dependency
// timeouts. (Numbers, not net/http constants: the domain packages that
// return these errors link no HTTP code.)
func HTTPStatus(code string) int {
	switch code {
	case KMSInternal, KeyUnavailable, InternalFailure:
		return 500 // Internal Server Error
	case DependencyTimeout:
		return 503 // Service Unavailable
	case RequestEntityTooLarge:
		return 413 // Request Entity Too Large
	}
	return 400 // Bad Request
}

// Internal is the error a client sees for any failure that is Trent's fault.
// Its message carries no detail; the detail goes to the server log.
func Internal() *Error {
	return New(KMSInternal, "An internal error occurred. Retry the request; the server log has details under this request's ID.")
}

// ValidationError returns AWS's "N validation errors detected: ..." error for
// the given constraint violations, each formatted by Violation.
func ValidationError(violations ...string) *Error {
	n := len(violations)
	noun := "error"
	if n != 1 {
		noun = "errors"
	}
	return Newf(Validation, "%d validation %s detected: %s", n, noun, strings.Join(violations, "; "))
}

// Violation formats one constraint violation the way AWS does:
// "Value 'x' at 'member' failed to satisfy constraint: Member must ...".
// When showValue is false (sensitive or binary members), the value is
// omitted: "Value at 'plaintext' failed to satisfy constraint: ...".
func Violation(value string, showValue bool, member, constraint string) string {
	if !showValue {
		return fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", member, constraint)
	}
	return fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint)
}

// NullViolation formats the violation of a required member that is absent
// (or JSON null). AWS writes the value without quotes, unlike a string's:
// "Value null at 'keyId' failed to satisfy constraint: Member must not be
// null".
func NullViolation(member string) string {
	return fmt.Sprintf("Value null at '%s' failed to satisfy constraint: %s", member, ConstraintNotNull)
}

// Common validation constraint texts.
const (
	ConstraintNotNull = "Member must not be null"
)

// MinLength and the other constraint helpers word constraints as AWS does.
func MinLength(n int) string {
	return fmt.Sprintf("Member must have length greater than or equal to %d", n)
}

// MaxLength words a maximum-length constraint.
func MaxLength(n int) string {
	return fmt.Sprintf("Member must have length less than or equal to %d", n)
}

// MinValue words a minimum-value constraint.
func MinValue(n int64) string {
	return fmt.Sprintf("Member must have value greater than or equal to %d", n)
}

// MaxValue words a maximum-value constraint.
func MaxValue(n int64) string {
	return fmt.Sprintf("Member must have value less than or equal to %d", n)
}

// EnumSet words an enum constraint; values must be in AWS's order.
func EnumSet(values []string) string {
	return "Member must satisfy enum value set: [" + strings.Join(values, ", ") + "]"
}

// Pattern words a regular-expression constraint.
func Pattern(p string) string {
	return "Member must satisfy regular expression pattern: " + p
}
