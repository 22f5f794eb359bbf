package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	wrapping "github.com/hashicorp/go-kms-wrapping/v2"
	"github.com/hashicorp/go-kms-wrapping/wrappers/awskms/v2"
)

// newSeal configures the Vault/OpenBao awskms seal the way Vault does at
// start-up (SetConfig calls DescribeKey). Environment overrides such as
// AWS_KMS_ENDPOINT are disallowed so that only the explicit endpoint counts.
func newSeal(ctx context.Context, t target, keyID string) (*awskms.Wrapper, error) {
	w := awskms.NewWrapper()
	_, err := w.SetConfig(ctx,
		wrapping.WithKeyId(keyID),
		awskms.WithDisallowEnvVars(true),
		awskms.WithRegion(t.region),
		awskms.WithEndpoint(t.endpoint),
		awskms.WithAccessKey(t.accessKey),
		awskms.WithSecretKey(t.secretKey),
	)
	return w, err
}

func sealChecks(t target) []check {
	const name = "vault-awskms-seal"
	var arn, alias string
	var seal *awskms.Wrapper
	sealKey := make([]byte, 32)
	rand.Read(sealKey)
	var blob *wrapping.BlobInfo
	ck := func(what string, f func(ctx context.Context) error) check {
		return check{client: name, what: what, run: f}
	}
	return []check{
		ck("setup: SetConfig with a key alias (DescribeKey at start)", func(ctx context.Context) error {
			c, err := newKMS(ctx, t, t.secretKey)
			if err != nil {
				return err
			}
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("compat seal")})
			if err != nil {
				return err
			}
			arn = aws.ToString(k.KeyMetadata.Arn)
			alias = "alias/compat-seal-" + randHex(4)
			if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
				return err
			}
			seal, err = newSeal(ctx, t, alias)
			if err != nil {
				return err
			}
			got, _ := seal.KeyId(ctx)
			if got != aws.ToString(k.KeyMetadata.KeyId) {
				return fmt.Errorf("seal key id after DescribeKey is %q, want the key ID", got)
			}
			return nil
		}),
		ck("wrap a 32-byte seal key; KeyInfo.KeyId is the key ARN", func(ctx context.Context) error {
			var err error
			blob, err = seal.Encrypt(ctx, sealKey)
			if err != nil {
				return err
			}
			if blob.KeyInfo == nil || blob.KeyInfo.KeyId != arn {
				return fmt.Errorf("blob key id %v, want %q", blob.KeyInfo, arn)
			}
			return nil
		}),
		ck("unwrap the seal key with a freshly configured seal (restart)", func(ctx context.Context) error {
			w, err := newSeal(ctx, t, arn)
			if err != nil {
				return err
			}
			got, err := w.Decrypt(ctx, blob)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, sealKey) {
				return errors.New("unwrapped seal key differs")
			}
			return nil
		}),
		ck("unwrap with a seal configured for another key (Decrypt sends no KeyId)", func(ctx context.Context) error {
			c, err := newKMS(ctx, t, t.secretKey)
			if err != nil {
				return err
			}
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				return err
			}
			w, err := newSeal(ctx, t, aws.ToString(k.KeyMetadata.Arn))
			if err != nil {
				return err
			}
			got, err := w.Decrypt(ctx, blob)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, sealKey) {
				return errors.New("unwrapped seal key differs")
			}
			return nil
		}),
	}
}
