package algo

import (
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/awserr"
)

// ErrKeyUsage is returned when the operation is not one the key's KeyUsage
// permits (Sign on an ENCRYPT_DECRYPT key, Encrypt on an ECC key, ...). The
// caller maps it to InvalidKeyUsageException with the key ARN:
// "<arn> key usage is SIGN_VERIFY which is not valid for Encrypt.".
var ErrKeyUsage = errors.New("algo: key usage does not permit this operation")

// ErrInvalidKeyMaterial is returned (wrapped, with a reason that never
// contains key bytes) by ParseKey when material cannot be parsed or does not
// match the key spec. The caller maps it, e.g. to IncorrectKeyMaterialException
// or ValidationException for ImportKeyMaterial, or to an internal error for
// stored material.
var ErrInvalidKeyMaterial = errors.New("algo: invalid key material")

// AlgorithmError reports an algorithm that the key's spec and usage do not
// allow. It unwraps to an *awserr.Error InvalidKeyUsageException with the
// message AWS uses for HMAC keys ("Algorithm HMAC_SHA_256 is incompatible
// with key spec HMAC_224."), which Trent uses for every spec.
type AlgorithmError struct {
	Algorithm string
	KeySpec   string
}

func (e *AlgorithmError) Error() string { return e.Unwrap().Error() }

// Unwrap returns the AWS error the client sees.
func (e *AlgorithmError) Unwrap() error {
	return awserr.Newf(awserr.InvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", e.Algorithm, e.KeySpec)
}

func invalidMaterial(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidKeyMaterial, fmt.Sprintf(format, args...))
}

// Errors whose text AWS documents or was observed (kms-aws-observed.md).
var (
	errInvalidCiphertext = awserr.New(awserr.InvalidCiphertext, "")
	errInvalidSignature  = awserr.New(awserr.KMSInvalidSignature, "")
	errInvalidMAC        = awserr.New(awserr.KMSInvalidMac, "")
	errBadPublicKey      = awserr.New(awserr.Validation, "")
)

func errDigestLength(alg string) error {
	return awserr.Newf(awserr.Validation, "Digest is invalid length for algorithm %s.", alg)
}

func errPlaintextTooLarge(alg, spec string, max int) error {
	return awserr.Newf(awserr.Validation, "Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, spec, max)
}

// errMessageType is Trent's wording (AWS's text for this case was not
// observed) for a MessageType the signing algorithm does not accept.
func errMessageType(messageType, alg string) error {
	return awserr.Newf(awserr.Validation, "MessageType %s is not supported for signing algorithm %s.", messageType, alg)
}

// errExternalMuLength is Trent's wording for an EXTERNAL_MU message that is
// not 64 bytes.
func errExternalMuLength() error {
	return awserr.New(awserr.Validation, "External mu message must be 64 bytes for algorithm ML_DSA_SHAKE_256.")
}

func errMessageTooLong(member string, max int) error {
	return awserr.ValidationError(awserr.Violation("", false, member, awserr.MaxLength(max)))
}

func errMessageEmpty(member string) error {
	return awserr.ValidationError(awserr.Violation("", false, member, awserr.MinLength(1)))
}
