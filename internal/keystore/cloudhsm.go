package keystore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
)

// The CloudHSM backend: an AWS_CLOUDHSM-type store maps to a PKCS#11 token
// of Trent's configured module (Config.PKCS11Module): CloudHsmClusterId is
// "cluster-" followed by the token label, and KeyStorePassword is the
// token's user PIN. A key's material is a non-extractable AES-256 key
// generated inside the token.

// hsmConn is an open session of a CloudHSM-type store's token.
type hsmConn struct {
	s    *Service
	tok  *hsm.Token
	keys sync.Map // HSM key label -> hsm.Key
}

func (c *hsmConn) close() { c.tok.Close() }

// tokenLabel is the PKCS#11 token label a CloudHSM-type store maps to.
func (d *keyStoreDoc) tokenLabel() string { return strings.TrimPrefix(d.ClusterID, "cluster-") }

func (s *Service) openStoreToken(label, pin string) (*hsm.Token, error) {
	if s.cfg.PKCS11Module == "" {
		if !hsm.Available {
			return nil, hsm.ErrUnavailable
		}
		return nil, fmt.Errorf("%w: no PKCS#11 module is configured for custom key stores (root_key.pkcs11_module or TRENT_HSM_MODULE)", hsm.ErrModule)
	}
	return hsm.Open(hsm.Config{Module: s.cfg.PKCS11Module, TokenLabel: label, PIN: pin})
}

// probeToken checks that a CloudHSM-type store's token exists.
func (s *Service) probeToken(d *keyStoreDoc, pin string) error {
	tok, err := s.openStoreToken(d.tokenLabel(), pin)
	switch {
	case err == nil:
		tok.Close()
		return nil
	case errors.Is(err, hsm.ErrTokenNotFound):
		return awserr.Newf(awserr.CloudHsmClusterNotFound, "The cluster %s does not exist.", d.ClusterID)
	case errors.Is(err, hsm.ErrLogin):
		return nil // reported by ConnectCustomKeyStore as INVALID_CREDENTIALS, as AWS does
	}
	return awserr.Newf(awserr.CloudHsmClusterInvalidConfiguration, "The cluster %s cannot be used: %s", d.ClusterID, safeHSMError(err))
}

// tryConnectToken opens a CloudHSM-type store's token and returns "" or a
// ConnectionErrorCode.
func (s *Service) tryConnectToken(ctx context.Context, d *keyStoreDoc, pin string) string {
	tok, err := s.openStoreToken(d.tokenLabel(), pin)
	switch {
	case err == nil:
		tok.Close()
		return ""
	case errors.Is(err, hsm.ErrTokenNotFound):
		return "CLUSTER_NOT_FOUND"
	case errors.Is(err, hsm.ErrLogin):
		return "INVALID_CREDENTIALS"
	}
	s.log.WarnContext(ctx, "custom key store: cannot open token", "store", d.ID, "err", safeHSMError(err))
	return "INTERNAL_ERROR"
}

// safeHSMError is an HSM failure as a client may see it: the sentinel's
// text, which never holds a PIN or key material.
func safeHSMError(err error) string {
	for _, e := range []error{hsm.ErrUnavailable, hsm.ErrModule, hsm.ErrTokenNotFound, hsm.ErrLogin, hsm.ErrClosed, hsm.ErrInput} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "the HSM reported an error"
}

// hsmKey finds the HSM key of a CloudHSM-backed KMS key.
func (c *hsmConn) hsmKey(label string) (hsm.Key, error) {
	if k, ok := c.keys.Load(label); ok {
		return k.(hsm.Key), nil
	}
	k, err := c.tok.FindKey(label)
	if err != nil {
		return hsm.Key{}, err
	}
	c.keys.Store(label, k)
	return k, nil
}

// hsmMaterialID is the material ID written into the ciphertexts of a
// CloudHSM-backed key: the key's material never leaves the HSM, so the ID
// names the HSM key.
func hsmMaterialID(d *kms.KeyDoc) [32]byte {
	return sha256.Sum256([]byte("trent/cloudhsm-key/v1\x00" + d.ID + "\x00" + d.HSMKeyLabel))
}

// failure maps an HSM error during a cryptographic operation.
func (c *hsmConn) failure(ctx context.Context, lk *kms.Key, err error) error {
	if errors.Is(err, hsm.ErrDecrypt) {
		return awserr.New(awserr.InvalidCiphertext, "")
	}
	d := lk.Doc()
	c.s.log.WarnContext(ctx, "custom key store: HSM operation failed", "key", d.ID, "err", safeHSMError(err))
	if errors.Is(err, hsm.ErrClosed) {
		c.s.dropConn(keyStoreRecordID(d.Account, d.CustomKeyStoreID))
	}
	return unavailable(lk)
}

// seal encrypts with AES-256-GCM computed inside the HSM under the key's
// non-extractable HSM key, with the IV of the header and the header plus
// encryption context as AAD.
func (c *hsmConn) seal(ctx context.Context, lk *kms.Key, plaintext []byte, ec map[string]string) ([]byte, error) {
	d := lk.Doc()
	k, err := c.hsmKey(d.HSMKeyLabel)
	if err != nil {
		return nil, c.failure(ctx, lk, err)
	}
	b := &ciphertext.Blob{KeyID: d.ID, MaterialID: hsmMaterialID(d), Body: make([]byte, ciphertext.TagSize)}
	if _, err := io.ReadFull(c.s.kms.Rand(), b.Nonce[:]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(c.s.kms.Rand(), b.IV[:]); err != nil {
		return nil, err
	}
	hdr, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	aad := ciphertext.AppendContext(hdr[:ciphertext.HeaderSize], ec)
	body, err := c.tok.Encrypt(k, b.IV[:], plaintext, aad)
	if err != nil {
		return nil, c.failure(ctx, lk, err)
	}
	b.Body = body
	return b.Marshal()
}

func (c *hsmConn) open(ctx context.Context, lk *kms.Key, b *ciphertext.Blob, _ map[string]string, _, aad []byte) ([]byte, string, error) {
	d := lk.Doc()
	if b.MaterialID != hsmMaterialID(d) {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	k, err := c.hsmKey(d.HSMKeyLabel)
	if err != nil {
		return nil, "", c.failure(ctx, lk, err)
	}
	pt, err := c.tok.Decrypt(k, b.IV[:], b.Body, aad)
	if err != nil {
		return nil, "", c.failure(ctx, lk, err)
	}
	return pt, ciphertext.MaterialIDString(b.MaterialID), nil
}

// createKey generates the key's non-extractable AES-256 key inside the
// token.
func (c *hsmConn) createKey(ctx context.Context, d *kms.KeyDoc, ks *keyStoreDoc, _ *wire.CreateKeyInput) error {
	label := "trent-kms-" + d.ID
	k, err := c.tok.GenerateAESKey(label)
	if err != nil {
		c.s.log.WarnContext(ctx, "custom key store: cannot generate key", "store", ks.ID, "err", safeHSMError(err))
		return awserr.Newf(awserr.CloudHsmClusterInvalidConfiguration, "The HSM of custom key store %s could not create the key.", ks.ID)
	}
	c.keys.Store(label, k)
	d.HSMKeyLabel = label
	d.CloudHsmClusterID = ks.ClusterID
	return nil
}
