package e2e

// Issue 3, part 5: SM2, served in China Regions (partition aws-cn) and
// elsewhere only with enable_sm2 (--enable-sm2). Signatures and ciphertexts
// are checked with the openssl command line tool; ECDH with gmsm's ecdh.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	gmecdh "github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/testenv"
)

// startConfigured starts a node from cfg with the suite's administrator.
func startConfigured(t *testing.T, cfg *config.File) *node.Node {
	t.Helper()
	n, err := node.Start(cfg, node.Options{Env: config.Env{AccessKeyID: adminAKID, SecretAccessKey: adminSecret}})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { stopNode(t, n) })
	return n
}

// TestSM2 checks SM2 on a node with enable_sm2 in us-east-1 and on a node in
// cn-north-1 (refusal by default in us-east-1 is in TestAsymCreateKeyMatrix
// and TestAsymDataKeyPair).
func TestSM2(t *testing.T) {
	t.Parallel()
	t.Run("ok/cn-north-1 serves SM2 without the flag", func(t *testing.T) {
		t.Parallel()
		cfg := configFor(t.TempDir())
		cfg.Region = "cn-north-1"
		n := startConfigured(t, cfg)
		c := newClient(n.Endpoint, func(o *kms.Options) { o.Region = "cn-north-1" })
		m := createKey(t, c, &kms.CreateKeyInput{KeySpec: types.KeySpecSm2, KeyUsage: types.KeyUsageTypeSignVerify})
		if !strings.HasPrefix(*m.Arn, "arn:aws-cn:kms:cn-north-1:"+account+":key/") {
			t.Fatalf("ARN %s is not in partition aws-cn", *m.Arn)
		}
		if m.KeySpec != types.KeySpecSm2 || !slices.Equal(strs(m.SigningAlgorithms), []string{"SM2DSA"}) {
			t.Fatalf("KeySpec, SigningAlgorithms = %s, %v", m.KeySpec, m.SigningAlgorithms)
		}
	})

	cfg := configFor(t.TempDir())
	cfg.EnableSM2 = true
	n := startConfigured(t, cfg)
	pool := newKeyPool(newClient(n.Endpoint))

	for _, usage := range types.KeyUsageType("").Values() {
		ok := slices.Contains(validUsages[types.KeySpecSm2], usage)
		if !ok {
			t.Run("fail/CreateKey SM2/"+string(usage), func(t *testing.T) {
				t.Parallel()
				_, err := pool.c.CreateKey(ctxT(t), &kms.CreateKeyInput{KeySpec: types.KeySpecSm2, KeyUsage: usage})
				wantAPIError(t, err, "ValidationException", fmt.Sprintf("KeyUsage %s is not compatible with KeySpec SM2", usage))
			})
			continue
		}
		t.Run("ok/CreateKey SM2/"+string(usage), func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, types.KeySpecSm2, usage)
			checkAlgLists(t, "CreateKey", metadataAlgs(m), wantAlgs(types.KeySpecSm2, usage))
			if m.CustomerMasterKeySpec != types.CustomerMasterKeySpecSm2 {
				t.Errorf("CustomerMasterKeySpec = %s", m.CustomerMasterKeySpec)
			}
			pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
			if err != nil {
				t.Fatalf("GetPublicKey: %v", err)
			}
			checkPublicKey(t, types.KeySpecSm2, pk.PublicKey)
			checkAlgLists(t, "GetPublicKey", algLists{strs(pk.EncryptionAlgorithms), strs(pk.SigningAlgorithms), nil,
				strs(pk.KeyAgreementAlgorithms), strs(pk.EncapsulationAlgorithms)}, wantAlgs(types.KeySpecSm2, usage))
		})
	}

	for _, mt := range []types.MessageType{types.MessageTypeRaw, types.MessageTypeDigest} {
		t.Run("ok/Sign SM2DSA "+string(mt)+" verified by openssl", func(t *testing.T) {
			t.Parallel()
			if !hasOpenSSL() {
				testenv.Missing(t, testenv.OpenSSL, "openssl not installed")
			}
			m := pool.get(t, types.KeySpecSm2, types.KeyUsageTypeSignVerify)
			pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			msg := randBytes(t, 500)
			in := msg
			if mt == types.MessageTypeDigest {
				pub, err := smx509.ParsePKIXPublicKey(pk.PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				ep, ok := pub.(*ecdsa.PublicKey)
				if !ok {
					t.Fatalf("SM2 public key parses as %T", pub)
				}
				// e = SM3(Z_A ‖ M) with the default ID, computed locally.
				if in, err = sm2.CalculateSM2Hash(ep, msg, nil); err != nil {
					t.Fatal(err)
				}
			}
			out, err := pool.c.Sign(ctxT(t), &kms.SignInput{KeyId: m.KeyId, Message: in, MessageType: mt, SigningAlgorithm: types.SigningAlgorithmSpecSm2dsa})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			dir := t.TempDir()
			writeFile(t, dir, "pub.der", pk.PublicKey)
			writeFile(t, dir, "msg.bin", msg)
			writeFile(t, dir, "sig.bin", out.Signature)
			res := openssl(t, dir, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-rawin", "-in", "msg.bin",
				"-sigfile", "sig.bin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")
			if !strings.Contains(string(res), "Signature Verified Successfully") {
				t.Fatalf("openssl: %s", res)
			}
			if _, err := pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: in, MessageType: mt,
				SigningAlgorithm: types.SigningAlgorithmSpecSm2dsa, Signature: out.Signature}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			bad := append([]byte(nil), out.Signature...)
			bad[len(bad)-3] ^= 1
			_, err = pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: in, MessageType: mt,
				SigningAlgorithm: types.SigningAlgorithmSpecSm2dsa, Signature: bad})
			wantAPIError(t, err, "KMSInvalidSignatureException", "")
		})
	}
	t.Run("fail/Sign SM2DSA digest 31", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecSm2, types.KeyUsageTypeSignVerify)
		_, err := pool.c.Sign(ctxT(t), &kms.SignInput{KeyId: m.KeyId, Message: make([]byte, 31), MessageType: types.MessageTypeDigest,
			SigningAlgorithm: types.SigningAlgorithmSpecSm2dsa})
		wantAPIError(t, err, "ValidationException", "Digest is invalid length for algorithm SM2DSA.")
	})
	t.Run("fail/Sign ECDSA_SHA_256 on SM2", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecSm2, types.KeyUsageTypeSignVerify)
		_, err := pool.c.Sign(ctxT(t), &kms.SignInput{KeyId: m.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantAPIError(t, err, "InvalidKeyUsageException", "Algorithm ECDSA_SHA_256 is incompatible with key spec SM2.")
	})

	t.Run("ok/SM2PKE round trip and openssl ciphertext", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecSm2, types.KeyUsageTypeEncryptDecrypt)
		pt := randBytes(t, 1000)
		enc, err := pool.c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: m.KeyId, Plaintext: pt, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke})
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		dec, err := pool.c.Decrypt(ctxT(t), &kms.DecryptInput{KeyId: m.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke})
		if err != nil {
			t.Fatalf("Decrypt: %v", err)
		}
		if !bytes.Equal(dec.Plaintext, pt) || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSm2pke {
			t.Fatal("Decrypt returned another plaintext")
		}
		_, err = pool.c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: m.KeyId, Plaintext: pt, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		wantAPIError(t, err, "InvalidKeyUsageException", "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SM2.")
		if !hasOpenSSL() {
			testenv.Missing(t, testenv.OpenSSL, "openssl not installed")
		}
		pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		writeFile(t, dir, "pub.der", pk.PublicKey)
		writeFile(t, dir, "pt.bin", pt)
		openssl(t, dir, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "pt.bin", "-out", "ct.bin")
		dec, err = pool.c.Decrypt(ctxT(t), &kms.DecryptInput{KeyId: m.KeyId, CiphertextBlob: readFile(t, dir, "ct.bin"),
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke})
		if err != nil {
			t.Fatalf("Decrypt of an openssl SM2 ciphertext: %v", err)
		}
		if !bytes.Equal(dec.Plaintext, pt) {
			t.Fatal("openssl ciphertext decrypted to another plaintext")
		}
	})

	t.Run("ok/ECDH on SM2 equals local gmsm ecdh", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecSm2, types.KeyUsageTypeKeyAgreement)
		pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
		if err != nil {
			t.Fatal(err)
		}
		trentPub, err := gmecdh.P256().NewPublicKey(checkPublicKey(t, types.KeySpecSm2, pk.PublicKey).([]byte))
		if err != nil {
			t.Fatal(err)
		}
		local, err := gmecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		params, _ := asn1.Marshal(oidSM2)
		localDER, err := asn1.Marshal(spkiDER{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidEC, Parameters: asn1.RawValue{FullBytes: params}},
			PublicKey: asn1.BitString{Bytes: local.PublicKey().Bytes(), BitLength: 8 * len(local.PublicKey().Bytes())}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := pool.c.DeriveSharedSecret(ctxT(t), &kms.DeriveSharedSecretInput{KeyId: m.KeyId,
			KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: localDER})
		if err != nil {
			t.Fatalf("DeriveSharedSecret: %v", err)
		}
		want, err := local.ECDH(trentPub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.SharedSecret, want) {
			t.Fatal("Trent's SM2 shared secret differs from gmsm ecdh's")
		}
	})

	t.Run("datakeypair", func(t *testing.T) {
		t.Parallel()
		sym := pool.get(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
		checkDataKeyPairs(t, pool.c, sym, []types.DataKeyPairSpec{types.DataKeyPairSpecSm2})
	})
}
