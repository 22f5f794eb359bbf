package k8skms

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/trentkms/trent/internal/awserr"
)

// Remote is a [Backend] that calls a Trent endpoint (or any AWS KMS API)
// with an AWS SDK client, signed with the client's credentials.
type Remote struct {
	// Client is the KMS client, with its endpoint, Region and credentials.
	Client *kms.Client
}

// Encrypt calls Encrypt. An exception Trent answered comes back as an
// *awserr.Error.
func (r Remote) Encrypt(ctx context.Context, keyRef string, plaintext []byte, ec map[string]string) (string, []byte, error) {
	out, err := r.Client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:               aws.String(keyRef),
		Plaintext:           plaintext,
		EncryptionContext:   ec,
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	})
	if err != nil {
		return "", nil, remoteError(err)
	}
	return aws.ToString(out.KeyId), out.CiphertextBlob, nil
}

// Decrypt calls Decrypt with the key named, so that Trent refuses a
// ciphertext of another key.
func (r Remote) Decrypt(ctx context.Context, keyRef string, blob []byte, ec map[string]string) ([]byte, error) {
	out, err := r.Client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:               aws.String(keyRef),
		CiphertextBlob:      blob,
		EncryptionContext:   ec,
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	})
	if err != nil {
		return nil, remoteError(err)
	}
	return out.Plaintext, nil
}

// remoteError turns the exception an endpoint answered into an
// *awserr.Error, and leaves transport and context errors as they are.
func remoteError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &awserr.Error{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	}
	return err
}
