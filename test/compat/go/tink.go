package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/tink-crypto/tink-go-awskms/v3/integration/awskms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

func tinkChecks(t target) []check {
	const name = "tink-go-awskms"
	var remote tink.AEAD
	ad := []byte("associated data")
	ck := func(what string, f func(ctx context.Context) error) check {
		return check{client: name, what: what, run: f}
	}
	return []check{
		ck("setup: KMS client from awskms.WithKMS, AEAD for aws-kms://ARN", func(ctx context.Context) error {
			c, err := newKMS(ctx, t, t.secretKey)
			if err != nil {
				return err
			}
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("compat tink")})
			if err != nil {
				return err
			}
			uri := "aws-kms://" + aws.ToString(k.KeyMetadata.Arn)
			kc, err := awskms.NewClientWithOptions(ctx, uri, awskms.WithKMS(c))
			if err != nil {
				return err
			}
			if !kc.Supported(uri) {
				return fmt.Errorf("client does not support its own key URI")
			}
			remote, err = kc.GetAEAD(uri)
			return err
		}),
		ck("KMS AEAD round trip; wrong associated data fails", func(ctx context.Context) error {
			pt := make([]byte, 1000)
			rand.Read(pt)
			ct, err := remote.Encrypt(pt, ad)
			if err != nil {
				return err
			}
			got, err := remote.Decrypt(ct, ad)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, pt) {
				return errors.New("plaintext differs")
			}
			if _, err := remote.Decrypt(ct, []byte("other")); err == nil {
				return errors.New("decrypt with other associated data succeeded")
			}
			return nil
		}),
		ck("KMS envelope AEAD (AES256-GCM DEK) round trip of 64 KiB", func(ctx context.Context) error {
			env := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), remote)
			pt := make([]byte, 64<<10)
			rand.Read(pt)
			ct, err := env.Encrypt(pt, ad)
			if err != nil {
				return err
			}
			got, err := env.Decrypt(ct, ad)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, pt) {
				return errors.New("plaintext differs")
			}
			ct[len(ct)-1] ^= 1
			if _, err := env.Decrypt(ct, ad); err == nil {
				return errors.New("tampered envelope decrypted")
			}
			return nil
		}),
		ck("keyset encrypted with the KMS AEAD: write, read back, use", func(ctx context.Context) error {
			h, err := keyset.NewHandle(aead.AES128GCMKeyTemplate())
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), remote, ad); err != nil {
				return err
			}
			h2, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(&buf), remote, ad)
			if err != nil {
				return err
			}
			a1, err := aead.New(h)
			if err != nil {
				return err
			}
			a2, err := aead.New(h2)
			if err != nil {
				return err
			}
			ct, err := a1.Encrypt([]byte("local"), nil)
			if err != nil {
				return err
			}
			got, err := a2.Decrypt(ct, nil)
			if err != nil || string(got) != "local" {
				return fmt.Errorf("keyset read back does not decrypt: %v", err)
			}
			return nil
		}),
	}
}
