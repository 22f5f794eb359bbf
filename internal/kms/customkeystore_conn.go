package kms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/wire"
	"github.com/trentkms/trent/internal/xks"
)

// cloudHsmClusterNotRelated is AWS's exception for an UpdateCustomKeyStore
// that names a cluster unrelated to the store's (awserr has no constant).
const cloudHsmClusterNotRelated = awserr.CloudHsmClusterNotRelated

// CustomKeyStoreConfig says how custom key stores reach their backends.
type CustomKeyStoreConfig struct {
	// PKCS11Module is the PKCS#11 library that AWS_CLOUDHSM-type stores
	// open their token with. Empty means CloudHSM-type stores cannot
	// connect (their operations report that PKCS#11 is not configured).
	PKCS11Module string
	// NewXKSClient builds the client of an EXTERNAL_KEY_STORE store; the
	// server supplies TLS settings here. Nil means xks.NewClient as is.
	NewXKSClient func(xks.ClientConfig) (*xks.Client, error)
	// XKSTimeout bounds each proxy call; 0 means 250 ms, as in AWS KMS.
	XKSTimeout time.Duration
}

// customKeyStores holds the open connections of CONNECTED stores, by store
// record ID. A connection is opened lazily by the first operation that
// needs it and dropped when the store's record changes (on this node or,
// through the change feed, on another).
type customKeyStores struct {
	cfg    CustomKeyStoreConfig
	mu     sync.Mutex
	conns  map[string]*ksConn
	openMu sync.Mutex
}

type ksConn struct {
	typ  string
	tok  *hsm.Token
	xks  *xks.Client
	keys sync.Map // HSM key label -> hsm.Key
}

// ConfigureCustomKeyStores sets how custom key stores reach their backends
// and subscribes to their changes. Call it once, before Start.
func (s *Service) ConfigureCustomKeyStores(cfg CustomKeyStoreConfig) {
	s.cks.cfg = cfg
	s.OnChange(kindKeyStore, s.dropConn)
}

// dropConn forgets the connection of store record rid. An HSM session is
// closed a little later so that operations in flight finish.
func (s *Service) dropConn(rid string) {
	s.cks.mu.Lock()
	c := s.cks.conns[rid]
	delete(s.cks.conns, rid)
	s.cks.mu.Unlock()
	if c != nil && c.tok != nil {
		time.AfterFunc(5*time.Second, func() { c.tok.Close() })
	}
}

// closeKeyStoreConns closes every connection (tests, shutdown).
func (s *Service) closeKeyStoreConns() {
	s.cks.mu.Lock()
	conns := s.cks.conns
	s.cks.conns = nil
	s.cks.mu.Unlock()
	for _, c := range conns {
		if c.tok != nil {
			c.tok.Close()
		}
	}
}

// CloseCustomKeyStores closes the HSM sessions of connected CloudHSM-type
// stores. The stores stay CONNECTED; the next operation reopens them.
func (s *Service) CloseCustomKeyStores() { s.closeKeyStoreConns() }

func (s *Service) openStoreToken(label, pin string) (*hsm.Token, error) {
	if s.cks.cfg.PKCS11Module == "" {
		if !hsm.Available {
			return nil, hsm.ErrUnavailable
		}
		return nil, fmt.Errorf("%w: no PKCS#11 module is configured for custom key stores (root_key.pkcs11_module or TRENT_HSM_MODULE)", hsm.ErrModule)
	}
	return hsm.Open(hsm.Config{Module: s.cks.cfg.PKCS11Module, TokenLabel: label, PIN: pin})
}

func (s *Service) newXKSClient(d *keyStoreDoc, secret []byte) (*xks.Client, error) {
	cfg := xks.ClientConfig{Endpoint: d.XksEndpoint, Path: d.XksPath, Region: s.region, Timeout: s.cks.cfg.XKSTimeout,
		Credential: xks.Credential{AccessKeyID: d.XksAccessKeyID, SecretAccessKey: string(secret)}}
	if s.cks.cfg.NewXKSClient != nil {
		return s.cks.cfg.NewXKSClient(cfg)
	}
	return xks.NewClient(cfg)
}

// xksMetadata is the requestMetadata Trent sends with a proxy call.
func (s *Service) xksMetadata(ctx context.Context, op, keyARN string) xks.RequestMetadata {
	var id [16]byte
	rand.Read(id[:])
	md := xks.RequestMetadata{KMSOperation: op, KMSRequestID: hex.EncodeToString(id[:]), KMSKeyARN: keyARN}
	if c := CallerFrom(ctx); c != nil {
		md.AWSPrincipalARN = c.ARN
	}
	return md
}

// conn returns the open connection of a store, opening it if the store is
// CONNECTED. It returns nil and no error if the store is not connected.
func (s *Service) conn(ctx context.Context, account, storeID string) (*ksConn, error) {
	rid := keyStoreRecordID(account, storeID)
	s.cks.mu.Lock()
	c := s.cks.conns[rid]
	s.cks.mu.Unlock()
	if c != nil {
		return c, nil
	}
	s.cks.openMu.Lock()
	defer s.cks.openMu.Unlock()
	s.cks.mu.Lock()
	c = s.cks.conns[rid]
	s.cks.mu.Unlock()
	if c != nil {
		return c, nil
	}
	d, _, err := s.getKeyStore(ctx, account, storeID)
	if err != nil {
		if e := awserr.As(err); e != nil && e.Code == awserr.CustomKeyStoreNotFound {
			return nil, nil
		}
		return nil, err
	}
	if d.State != ConnConnected {
		return nil, nil
	}
	secret, err := s.root.Open(d.SealedSecret, keyStoreSecretAAD(d.ID))
	if err != nil {
		return nil, fmt.Errorf("kms: custom key store %s: %w", d.ID, err)
	}
	defer clear(secret)
	c = &ksConn{typ: d.Type}
	if d.Type == StoreTypeCloudHSM {
		if c.tok, err = s.openStoreToken(d.tokenLabel(), string(secret)); err != nil {
			s.log.WarnContext(ctx, "custom key store: cannot open token", "store", d.ID, "err", safeHSMError(err))
			return nil, nil
		}
	} else if c.xks, err = s.newXKSClient(d, secret); err != nil {
		return nil, nil
	}
	s.cks.mu.Lock()
	if s.cks.conns == nil {
		s.cks.conns = map[string]*ksConn{}
	}
	s.cks.conns[rid] = c
	s.cks.mu.Unlock()
	return c, nil
}

// hsmKey finds the HSM key of a CloudHSM-backed KMS key.
func (c *ksConn) hsmKey(label string) (hsm.Key, error) {
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

func unavailable(lk *Key) error {
	return awserr.Newf(awserr.KMSInvalidState, "%s is unavailable.", lk.arn)
}

// keyConn returns the connection of lk's store, or KMSInvalidStateException
// "<arn> is unavailable." when the store is not connected.
func (s *Service) keyConn(ctx context.Context, lk *Key) (*ksConn, error) {
	c, err := s.conn(ctx, lk.doc.Account, lk.doc.CustomKeyStoreID)
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	if c == nil {
		return nil, unavailable(lk)
	}
	return c, nil
}

// hsmMaterialID is the material ID written into the ciphertexts of a
// CloudHSM-backed key: the key's material never leaves the HSM, so the ID
// names the HSM key.
func hsmMaterialID(d *KeyDoc) [32]byte {
	return sha256.Sum256([]byte("trent/cloudhsm-key/v1\x00" + d.ID + "\x00" + d.HSMKeyLabel))
}

// hsmFailure maps an HSM error during a cryptographic operation.
func (s *Service) hsmFailure(ctx context.Context, lk *Key, err error) error {
	if errors.Is(err, hsm.ErrDecrypt) {
		return awserr.New(awserr.InvalidCiphertext, "")
	}
	s.log.WarnContext(ctx, "custom key store: HSM operation failed", "key", lk.doc.ID, "err", safeHSMError(err))
	if errors.Is(err, hsm.ErrClosed) {
		s.dropConn(keyStoreRecordID(lk.doc.Account, lk.doc.CustomKeyStoreID))
	}
	return unavailable(lk)
}

// sealInStore encrypts plaintext with a key of a custom key store. The
// ciphertext keeps Trent's blob format (package ciphertext), so that
// Decrypt finds the key from the blob:
//
//   - CloudHSM type: the body is AES-256-GCM computed inside the HSM under
//     the key's non-extractable HSM key, with the IV of the header and the
//     header plus encryption context as AAD.
//   - External type (double encryption, as AWS does it): the plaintext is
//     first sealed with the key's own material inside Trent; that inner
//     body is then encrypted by the XKS proxy under the external key with
//     the inner header plus encryption context as AAD. The outer body is
//     len8(iv) | iv | len8(metadata) | metadata | ciphertext | tag.
func (s *Service) sealInStore(ctx context.Context, lk *Key, plaintext []byte, ec map[string]string) ([]byte, error) {
	c, err := s.keyConn(ctx, lk)
	if err != nil {
		return nil, err
	}
	if c.typ == StoreTypeCloudHSM {
		k, err := c.hsmKey(lk.doc.HSMKeyLabel)
		if err != nil {
			return nil, s.hsmFailure(ctx, lk, err)
		}
		b := &ciphertext.Blob{KeyID: lk.doc.ID, MaterialID: hsmMaterialID(lk.doc), Body: make([]byte, ciphertext.TagSize)}
		if _, err := io.ReadFull(s.rand, b.Nonce[:]); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(s.rand, b.IV[:]); err != nil {
			return nil, err
		}
		hdr, err := b.Marshal()
		if err != nil {
			return nil, err
		}
		aad := ciphertext.AppendContext(hdr[:ciphertext.HeaderSize], ec)
		body, err := c.tok.Encrypt(k, b.IV[:], plaintext, aad)
		if err != nil {
			return nil, s.hsmFailure(ctx, lk, err)
		}
		b.Body = body
		return b.Marshal()
	}
	if lk.symCurrent == nil {
		return nil, unavailable(lk)
	}
	inner, err := lk.symCurrent.Seal(s.rand, plaintext, ec)
	if err != nil {
		return nil, err
	}
	hdr := inner[:ciphertext.HeaderSize:ciphertext.HeaderSize]
	aad := ciphertext.AppendContext(append([]byte(nil), hdr...), ec)
	out, err := c.xks.Encrypt(ctx, lk.doc.XksKeyID, s.xksMetadata(ctx, "Encrypt", lk.arn), inner[ciphertext.HeaderSize:], aad)
	if err != nil {
		return nil, xks.ToAWS(err, xks.CallerCrypto)
	}
	blob := make([]byte, 0, len(hdr)+2+len(out.IV)+len(out.CiphertextMetadata)+len(out.Ciphertext)+len(out.Tag))
	blob = append(blob, hdr...)
	blob = append(blob, byte(len(out.IV)))
	blob = append(blob, out.IV...)
	blob = append(blob, byte(len(out.CiphertextMetadata)))
	blob = append(blob, out.CiphertextMetadata...)
	blob = append(blob, out.Ciphertext...)
	return append(blob, out.Tag...), nil
}

// openInStore decrypts a blob of a custom key store's key; see sealInStore.
// It returns the plaintext and the material ID the blob names.
func (s *Service) openInStore(ctx context.Context, lk *Key, b *ciphertext.Blob, ec map[string]string) ([]byte, string, error) {
	c, err := s.keyConn(ctx, lk)
	if err != nil {
		return nil, "", err
	}
	hdrBlob := *b
	hdrBlob.Body = make([]byte, ciphertext.TagSize)
	hdr, err := hdrBlob.Marshal()
	if err != nil {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	hdr = hdr[:ciphertext.HeaderSize]
	aad := ciphertext.AppendContext(hdr, ec)
	if c.typ == StoreTypeCloudHSM {
		if b.MaterialID != hsmMaterialID(lk.doc) {
			return nil, "", awserr.New(awserr.InvalidCiphertext, "")
		}
		k, err := c.hsmKey(lk.doc.HSMKeyLabel)
		if err != nil {
			return nil, "", s.hsmFailure(ctx, lk, err)
		}
		pt, err := c.tok.Decrypt(k, b.IV[:], b.Body, aad)
		if err != nil {
			return nil, "", s.hsmFailure(ctx, lk, err)
		}
		return pt, ciphertext.MaterialIDString(b.MaterialID), nil
	}
	ck := lk.symKey(b.MaterialID)
	if ck == nil {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	body := b.Body
	var in xks.EncryptOutput
	if len(body) < 1 || len(body) < 1+int(body[0])+1 {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	in.IV, body = body[1:1+int(body[0])], body[1+int(body[0]):]
	if len(body) < 1+int(body[0])+xksTagSize {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	in.CiphertextMetadata, body = body[1:1+int(body[0])], body[1+int(body[0]):]
	in.Ciphertext, in.Tag = body[:len(body)-xksTagSize], body[len(body)-xksTagSize:]
	innerBody, err := c.xks.Decrypt(ctx, lk.doc.XksKeyID, s.xksMetadata(ctx, "Decrypt", lk.arn), &in, aad)
	if err != nil {
		return nil, "", xks.ToAWS(err, xks.CallerCrypto)
	}
	inner, err := ciphertext.Parse(append(append(make([]byte, 0, len(hdr)+len(innerBody)), hdr...), innerBody...))
	if err != nil {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	pt, err := ck.Open(inner, ec)
	if err != nil {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	return pt, ciphertext.MaterialIDString(b.MaterialID), nil
}

const xksTagSize = 16

// openSymmetricInStore finishes openSymmetric for a key of a custom key
// store.
func (s *Service) openSymmetricInStore(ctx context.Context, lk *Key, b *ciphertext.Blob, ec map[string]string, dry bool) (*Key, []byte, string, error) {
	pt, mid, err := s.openInStore(ctx, lk, b, ec)
	if err != nil {
		return nil, nil, "", err
	}
	if dry {
		clear(pt)
		return nil, nil, "", DryRun()
	}
	return lk, pt, mid, nil
}

// createInCustomKeyStore creates the backing key of a new KMS key in its
// custom key store: a non-extractable AES-256 key generated inside the
// token (AWS_CLOUDHSM), or Trent's own material plus a check that the
// external key exists and can encrypt and decrypt (EXTERNAL_KEY_STORE).
func (s *Service) createInCustomKeyStore(ctx context.Context, d *KeyDoc, in *wire.CreateKeyInput) error {
	if in.CustomKeyStoreID == nil {
		return awserr.Newf(awserr.Validation, "You must specify a CustomKeyStoreId when Origin is %s.", d.Origin)
	}
	ks, _, err := s.getKeyStore(ctx, d.Account, *in.CustomKeyStoreID)
	if err != nil {
		return err
	}
	if (d.Origin == "AWS_CLOUDHSM") != (ks.Type == StoreTypeCloudHSM) {
		return awserr.Newf(awserr.UnsupportedOperation, "Origin %s is not valid for custom key store %s of type %s.", d.Origin, ks.ID, ks.Type)
	}
	if d.Spec != SymmetricDefault || d.Usage != "ENCRYPT_DECRYPT" {
		return awserr.Newf(awserr.UnsupportedOperation, "KeySpec %s is not supported for KMS keys in a custom key store.", d.Spec)
	}
	if ks.State != ConnConnected {
		return awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", ks.ID)
	}
	c, err := s.conn(ctx, d.Account, ks.ID)
	if err != nil {
		return s.StoreErr(ctx, err)
	}
	if c == nil {
		return awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", ks.ID)
	}
	d.CustomKeyStoreID = ks.ID
	if ks.Type == StoreTypeCloudHSM {
		label := "trent-kms-" + d.ID
		k, err := c.tok.GenerateAESKey(label)
		if err != nil {
			s.log.WarnContext(ctx, "custom key store: cannot generate key", "store", ks.ID, "err", safeHSMError(err))
			return awserr.Newf(awserr.CloudHsmClusterInvalidConfiguration, "The HSM of custom key store %s could not create the key.", ks.ID)
		}
		c.keys.Store(label, k)
		d.HSMKeyLabel = label
		d.CloudHsmClusterID = ks.ClusterID
		return nil
	}
	if in.XksKeyID == nil {
		return awserr.New(awserr.Validation, "You must specify an XksKeyId when Origin is EXTERNAL_KEY_STORE.")
	}
	md, err := c.xks.GetKeyMetadata(ctx, *in.XksKeyID, s.xksMetadata(ctx, "CreateKey", ""))
	if err != nil {
		return xks.ToAWS(err, xks.CallerCreateKey)
	}
	usage := map[string]bool{}
	for _, u := range md.KeyUsage {
		usage[u] = true
	}
	if md.KeySpec != "AES_256" || !usage["ENCRYPT"] || !usage["DECRYPT"] || md.KeyStatus != "ENABLED" {
		return awserr.Newf(awserr.XksKeyInvalidConfiguration, "The external key %s must be an enabled AES_256 key that can encrypt and decrypt.", *in.XksKeyID)
	}
	ids, err := s.storeKeys(ctx, ks)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if k, err := s.GetKey(ctx, id); err == nil && k != nil && k.doc.XksKeyID == *in.XksKeyID {
			return awserr.Newf(awserr.XksKeyAlreadyInUse, "The external key %s is already associated with KMS key %s in this custom key store.", *in.XksKeyID, id)
		}
	}
	material, err := s.generateMaterial(SymmetricDefault)
	if err != nil {
		return err
	}
	mid := NewHexID()
	sealed, err := s.SealMaterial(d.ID, mid, material)
	clear(material)
	if err != nil {
		return err
	}
	d.Materials = []MaterialDoc{{ID: mid, Sealed: sealed, State: MaterialCurrent, RotationDate: d.Created}}
	d.CurrentMaterial = mid
	d.XksKeyID = *in.XksKeyID
	return nil
}

// generateRandomInStore implements GenerateRandom with a CustomKeyStoreId:
// random bytes from the HSM of a connected CloudHSM-type store.
func (s *Service) generateRandomInStore(ctx context.Context, id string, n int) (*wire.GenerateRandomOutput, error) {
	account := CallerFrom(ctx).Account
	ks, _, err := s.getKeyStore(ctx, account, id)
	if err != nil {
		return nil, err
	}
	if ks.Type != StoreTypeCloudHSM {
		return nil, awserr.New(awserr.UnsupportedOperation, "GenerateRandom with a CustomKeyStoreId is supported only for AWS CloudHSM key stores.")
	}
	c, err := s.conn(ctx, account, id)
	if err != nil {
		return nil, s.StoreErr(ctx, err)
	}
	if c == nil {
		return nil, awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", id)
	}
	b, err := c.tok.Random(n)
	if err != nil {
		s.log.WarnContext(ctx, "custom key store: HSM random failed", "store", id, "err", safeHSMError(err))
		return nil, awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", id)
	}
	return &wire.GenerateRandomOutput{Plaintext: b}, nil
}
