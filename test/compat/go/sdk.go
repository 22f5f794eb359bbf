package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

var keyARN = regexp.MustCompile(`^arn:aws:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$`)

// wantAPIError returns nil if err is an AWS API error with the given code.
func wantAPIError(err error, code string) error {
	if err == nil {
		return fmt.Errorf("call succeeded, want %s", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("got a non-API error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		return fmt.Errorf("got %s (%q), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	return nil
}

func sdkChecks(t target) []check {
	const name = "aws-sdk-go-v2"
	var (
		c   *kms.Client
		arn string
		id  string
	)
	ctxEC := map[string]string{"purpose": "compat", "client": name}
	plain := make([]byte, 4096)
	rand.Read(plain)
	ck := func(what string, f func(ctx context.Context) error) check {
		return check{client: name, what: what, run: f}
	}
	return []check{
		ck("setup: CreateKey with tags returns a key ARN", func(ctx context.Context) error {
			var err error
			if c, err = newKMS(ctx, t, t.secretKey); err != nil {
				return err
			}
			out, err := c.CreateKey(ctx, &kms.CreateKeyInput{
				Description: aws.String("compat go"),
				Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("compat")}},
			})
			if err != nil {
				return err
			}
			arn, id = aws.ToString(out.KeyMetadata.Arn), aws.ToString(out.KeyMetadata.KeyId)
			if !keyARN.MatchString(arn) {
				return fmt.Errorf("bad key ARN %q", arn)
			}
			if out.KeyMetadata.KeyState != types.KeyStateEnabled || out.KeyMetadata.CreationDate == nil {
				return fmt.Errorf("KeyState %q, CreationDate %v", out.KeyMetadata.KeyState, out.KeyMetadata.CreationDate)
			}
			return nil
		}),
		ck("Encrypt/Decrypt 4096 bytes with a context; wrong context is InvalidCiphertextException", func(ctx context.Context) error {
			enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: plain, EncryptionContext: ctxEC})
			if err != nil {
				return err
			}
			if aws.ToString(enc.KeyId) != arn {
				return fmt.Errorf("Encrypt KeyId %q, want %q", aws.ToString(enc.KeyId), arn)
			}
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctxEC, KeyId: &arn})
			if err != nil {
				return err
			}
			if !bytes.Equal(dec.Plaintext, plain) || aws.ToString(dec.KeyId) != arn {
				return fmt.Errorf("round trip differs (KeyId %q)", aws.ToString(dec.KeyId))
			}
			_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			return wantAPIError(err, "InvalidCiphertextException")
		}),
		ck("Encrypt of 4097 bytes is a ValidationException", func(ctx context.Context) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: make([]byte, 4097)})
			return wantAPIError(err, "ValidationException")
		}),
		ck("GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncrypt", func(ctx context.Context) error {
			dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &arn, KeySpec: types.DataKeySpecAes256})
			if err != nil {
				return err
			}
			if len(dk.Plaintext) != 32 {
				return fmt.Errorf("data key is %d bytes", len(dk.Plaintext))
			}
			np, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: &arn, NumberOfBytes: aws.Int32(64)})
			if err != nil {
				return err
			}
			other, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				return err
			}
			re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: dk.CiphertextBlob, DestinationKeyId: other.KeyMetadata.KeyId})
			if err != nil {
				return err
			}
			if aws.ToString(re.SourceKeyId) != arn || aws.ToString(re.KeyId) != aws.ToString(other.KeyMetadata.Arn) {
				return fmt.Errorf("ReEncrypt SourceKeyId %q KeyId %q", aws.ToString(re.SourceKeyId), aws.ToString(re.KeyId))
			}
			for _, blob := range [][]byte{re.CiphertextBlob, np.CiphertextBlob} {
				out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
				if err != nil {
					return err
				}
				if len(out.Plaintext) != 32 && len(out.Plaintext) != 64 {
					return fmt.Errorf("decrypted data key is %d bytes", len(out.Plaintext))
				}
			}
			return nil
		}),
		ck("GenerateDataKeyPair ECC_NIST_P256 and GenerateDataKeyPairWithoutPlaintext RSA_2048", func(ctx context.Context) error {
			p, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: &arn, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
			if err != nil {
				return err
			}
			priv, err := x509.ParsePKCS8PrivateKey(p.PrivateKeyPlaintext)
			if err != nil {
				return fmt.Errorf("private key is not PKCS#8 DER: %w", err)
			}
			pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
			if err != nil {
				return fmt.Errorf("public key is not SPKI DER: %w", err)
			}
			if !priv.(*ecdsa.PrivateKey).PublicKey.Equal(pub) {
				return errors.New("public key does not match private key")
			}
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: p.PrivateKeyCiphertextBlob})
			if err != nil {
				return err
			}
			if !bytes.Equal(dec.Plaintext, p.PrivateKeyPlaintext) {
				return errors.New("decrypted private key differs")
			}
			q, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: &arn, KeyPairSpec: types.DataKeyPairSpecRsa2048})
			if err != nil {
				return err
			}
			if _, err := x509.ParsePKIXPublicKey(q.PublicKey); err != nil {
				return fmt.Errorf("RSA public key is not SPKI DER: %w", err)
			}
			return nil
		}),
		ck("aliases: Create, Update, List, Delete", func(ctx context.Context) error {
			alias := "alias/compat-go-" + randHex(4)
			if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: &id}); err != nil {
				return err
			}
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: &id})
			if err := wantAPIError(err, "AlreadyExistsException"); err != nil {
				return fmt.Errorf("second CreateAlias: %w", err)
			}
			other, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				return err
			}
			if _, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: &alias, TargetKeyId: other.KeyMetadata.KeyId}); err != nil {
				return err
			}
			enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &alias, Plaintext: []byte("x")})
			if err != nil {
				return err
			}
			if aws.ToString(enc.KeyId) != aws.ToString(other.KeyMetadata.Arn) {
				return fmt.Errorf("alias still points to %q", aws.ToString(enc.KeyId))
			}
			la, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: other.KeyMetadata.KeyId})
			if err != nil {
				return err
			}
			if len(la.Aliases) != 1 || aws.ToString(la.Aliases[0].AliasName) != alias {
				return fmt.Errorf("ListAliases for the key gave %d aliases", len(la.Aliases))
			}
			if _, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: &alias}); err != nil {
				return err
			}
			_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &alias})
			return wantAPIError(err, "NotFoundException")
		}),
		ck("ListKeys paginates with Limit 1", func(ctx context.Context) error {
			p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(1)})
			found := false
			for pages := 0; p.HasMorePages(); pages++ {
				if pages > 10000 {
					return errors.New("ListKeys does not end")
				}
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				if len(page.Keys) > 1 {
					return fmt.Errorf("page of %d keys with Limit 1", len(page.Keys))
				}
				for _, k := range page.Keys {
					found = found || aws.ToString(k.KeyArn) == arn
				}
			}
			if !found {
				return errors.New("ListKeys did not list the new key")
			}
			return nil
		}),
		ck("tags, description, key policy", func(ctx context.Context) error {
			if _, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: &id, Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("test")}}}); err != nil {
				return err
			}
			if _, err := c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &id, TagKeys: []string{"team"}}); err != nil {
				return err
			}
			tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: &id})
			if err != nil {
				return err
			}
			if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].TagKey) != "env" {
				return fmt.Errorf("tags after tag/untag: %d", len(tags.Tags))
			}
			if _, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: &id, Description: aws.String("renamed")}); err != nil {
				return err
			}
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &arn})
			if err != nil {
				return err
			}
			if aws.ToString(d.KeyMetadata.Description) != "renamed" {
				return fmt.Errorf("description %q", aws.ToString(d.KeyMetadata.Description))
			}
			pol, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: &id, PolicyName: aws.String("default")})
			if err != nil {
				return err
			}
			if !bytes.Contains([]byte(aws.ToString(pol.Policy)), []byte(`"Statement"`)) {
				return errors.New("default key policy has no Statement")
			}
			if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &id, PolicyName: aws.String("default"), Policy: pol.Policy}); err != nil {
				return err
			}
			lp, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: &id})
			if err != nil {
				return err
			}
			if !slices.Equal(lp.PolicyNames, []string{"default"}) {
				return fmt.Errorf("ListKeyPolicies %v", lp.PolicyNames)
			}
			return nil
		}),
		ck("rotation: Enable/GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations, old ciphertext decrypts", func(ctx context.Context) error {
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				return err
			}
			kid := k.KeyMetadata.KeyId
			old, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: kid, Plaintext: []byte("before rotation")})
			if err != nil {
				return err
			}
			if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: kid, RotationPeriodInDays: aws.Int32(90)}); err != nil {
				return err
			}
			st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: kid})
			if err != nil {
				return err
			}
			if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 90 {
				return fmt.Errorf("rotation enabled=%v period=%d", st.KeyRotationEnabled, aws.ToInt32(st.RotationPeriodInDays))
			}
			if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: kid}); err != nil {
				return err
			}
			lr, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: kid})
			if err != nil {
				return err
			}
			if len(lr.Rotations) != 1 || lr.Rotations[0].RotationType != types.RotationTypeOnDemand {
				return fmt.Errorf("ListKeyRotations gave %d rotations", len(lr.Rotations))
			}
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old.CiphertextBlob})
			if err != nil {
				return fmt.Errorf("decrypt after rotation: %w", err)
			}
			if string(dec.Plaintext) != "before rotation" {
				return errors.New("old ciphertext decrypts to other bytes")
			}
			return nil
		}),
		ck("ECC_NIST_P256 Sign DIGEST, Verify, GetPublicKey verifies locally", func(ctx context.Context) error {
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
			if err != nil {
				return err
			}
			digest := sha256.Sum256([]byte("go compat"))
			s, err := c.Sign(ctx, &kms.SignInput{KeyId: k.KeyMetadata.KeyId, Message: digest[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			if err != nil {
				return err
			}
			v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: k.KeyMetadata.KeyId, Message: digest[:], MessageType: types.MessageTypeDigest, Signature: s.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			if err != nil {
				return err
			}
			if !v.SignatureValid {
				return errors.New("SignatureValid false")
			}
			pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: k.KeyMetadata.KeyId})
			if err != nil {
				return err
			}
			pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
			if err != nil {
				return err
			}
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], s.Signature) {
				return errors.New("signature does not verify with the public key")
			}
			_, err = c.Sign(ctx, &kms.SignInput{KeyId: k.KeyMetadata.KeyId, Message: digest[:5], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return wantAPIError(err, "ValidationException")
		}),
		ck("grants: CreateGrant, ListGrants, ListRetirableGrants, RevokeGrant", func(ctx context.Context) error {
			// The account's root: a grant may only name IAM users and roles
			// that exist (AWS and Trent resolve them to unique IDs), and
			// this suite creates none.
			acct := regexp.MustCompile(`:(\d{12}):`).FindStringSubmatch(arn)[1]
			root := aws.String("arn:aws:iam::" + acct + ":root")
			g, err := c.CreateGrant(ctx, &kms.CreateGrantInput{
				KeyId: &id, GranteePrincipal: root,
				RetiringPrincipal: root,
				Operations:        []types.GrantOperation{types.GrantOperationDecrypt},
			})
			if err != nil {
				return err
			}
			lg, err := c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &id})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(lg.Grants, func(x types.GrantListEntry) bool { return aws.ToString(x.GrantId) == aws.ToString(g.GrantId) }) {
				return errors.New("ListGrants lacks the grant")
			}
			rg, err := c.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: root})
			if err != nil {
				return err
			}
			if len(rg.Grants) == 0 {
				return errors.New("ListRetirableGrants is empty")
			}
			if _, err := c.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &id, GrantId: g.GrantId}); err != nil {
				return err
			}
			lg, err = c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &id})
			if err != nil {
				return err
			}
			if len(lg.Grants) != 0 {
				return fmt.Errorf("%d grants left after RevokeGrant", len(lg.Grants))
			}
			return nil
		}),
		ck("HMAC_384 GenerateMac/VerifyMac; GenerateRandom", func(ctx context.Context) error {
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac384, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
			if err != nil {
				return err
			}
			m, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: k.KeyMetadata.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha384})
			if err != nil {
				return err
			}
			v, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: k.KeyMetadata.KeyId, Message: []byte("m"), Mac: m.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha384})
			if err != nil {
				return err
			}
			if !v.MacValid || len(m.Mac) != 48 {
				return fmt.Errorf("MacValid %v, MAC %d bytes", v.MacValid, len(m.Mac))
			}
			r, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(1024)})
			if err != nil {
				return err
			}
			if len(r.Plaintext) != 1024 {
				return fmt.Errorf("GenerateRandom gave %d bytes", len(r.Plaintext))
			}
			return nil
		}),
		ck("Disable/Enable, ScheduleKeyDeletion/CancelKeyDeletion and typed errors", func(ctx context.Context) error {
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				return err
			}
			kid := k.KeyMetadata.KeyId
			if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: kid}); err != nil {
				return err
			}
			_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: kid, Plaintext: []byte("x")})
			var de *types.DisabledException
			if !errors.As(err, &de) {
				return fmt.Errorf("encrypt with a disabled key: %v, want *types.DisabledException", err)
			}
			if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: kid}); err != nil {
				return err
			}
			sd, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: kid, PendingWindowInDays: aws.Int32(7)})
			if err != nil {
				return err
			}
			if sd.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(sd.PendingWindowInDays) != 7 || sd.DeletionDate == nil {
				return fmt.Errorf("ScheduleKeyDeletion gave state %q window %d", sd.KeyState, aws.ToInt32(sd.PendingWindowInDays))
			}
			_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: kid, Plaintext: []byte("x")})
			var se *types.KMSInvalidStateException
			if !errors.As(err, &se) {
				return fmt.Errorf("encrypt with a key pending deletion: %v, want *types.KMSInvalidStateException", err)
			}
			if _, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: kid}); err != nil {
				return err
			}
			_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("11111111-2222-3333-4444-555555555555")})
			var nf *types.NotFoundException
			if !errors.As(err, &nf) {
				return fmt.Errorf("DescribeKey of an unknown key: %v, want *types.NotFoundException", err)
			}
			return nil
		}),
		ck("a request signed with a wrong secret key is refused with InvalidSignatureException", func(ctx context.Context) error {
			bad, err := newKMS(ctx, t, t.secretKey+"x")
			if err != nil {
				return err
			}
			_, err = bad.ListKeys(ctx, &kms.ListKeysInput{})
			return wantAPIError(err, "InvalidSignatureException")
		}),
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}
