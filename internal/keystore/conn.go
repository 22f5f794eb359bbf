package keystore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
	"github.com/trentkms/trent/internal/xks"
)

// Config says how custom key stores reach their backends.
type Config struct {
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

// Service implements the custom key store operations of the AWS KMS API
// and, for the core, the cryptography of the keys those stores hold
// (kms.KeyStores).
type Service struct {
	kms   *kms.Service
	store store.Store
	root  rootkey.Provider
	log   *slog.Logger
	cfg   Config

	// conns holds the open connections of CONNECTED stores, by store
	// record ID. A connection is opened lazily by the first operation that
	// needs it and dropped when the store's record changes (on this node
	// or, through the change feed, on another).
	mu     sync.Mutex
	conns  map[string]conn
	openMu sync.Mutex
}

// New returns the custom key store service of svc and registers it with
// svc as its kms.KeyStores, and for the change feed's key store changes.
func New(svc *kms.Service, cfg Config) *Service {
	s := &Service{kms: svc, store: svc.Store(), root: svc.Root(), log: svc.Logger(), cfg: cfg}
	svc.OnChange(kindKeyStore, s.dropConn)
	svc.SetKeyStores(s)
	return s
}

// conn is the open connection of a CONNECTED store to its backend: a
// PKCS#11 token (CloudHSM type, cloudhsm.go) or an XKS proxy (external
// type, xks.go).
type conn interface {
	// seal encrypts plaintext with k into Trent's ciphertext format (see
	// Seal).
	seal(ctx context.Context, k *kms.Key, plaintext []byte, ec map[string]string) ([]byte, error)
	// open decrypts b, made with encryption context ec, whose header is hdr
	// and whose additional data (header and encryption context) is aad,
	// and returns the plaintext and the material ID b names.
	open(ctx context.Context, k *kms.Key, b *ciphertext.Blob, ec map[string]string, hdr, aad []byte) ([]byte, string, error)
	// createKey creates the backing key of the new key d in store ks.
	createKey(ctx context.Context, d *kms.KeyDoc, ks *keyStoreDoc, in *wire.CreateKeyInput) error
	// close releases the connection.
	close()
}

// dropConn forgets the connection of store record rid. An HSM session is
// closed a little later so that operations in flight finish.
func (s *Service) dropConn(rid string) {
	s.mu.Lock()
	c := s.conns[rid]
	delete(s.conns, rid)
	s.mu.Unlock()
	if c != nil {
		time.AfterFunc(5*time.Second, c.close)
	}
}

// Close closes the connections of connected stores (the HSM sessions of
// CloudHSM-type stores). The stores stay CONNECTED; the next operation
// reopens them.
func (s *Service) Close() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// conn returns the open connection of a store, opening it if the store is
// CONNECTED. It returns nil and no error if the store is not connected.
func (s *Service) conn(ctx context.Context, account, storeID string) (conn, error) {
	rid := keyStoreRecordID(account, storeID)
	s.mu.Lock()
	c := s.conns[rid]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	c = s.conns[rid]
	s.mu.Unlock()
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
	if d.Type == StoreTypeCloudHSM {
		tok, err := s.openStoreToken(d.tokenLabel(), string(secret))
		if err != nil {
			s.log.WarnContext(ctx, "custom key store: cannot open token", "store", d.ID, "err", safeHSMError(err))
			return nil, nil
		}
		c = &hsmConn{s: s, tok: tok}
	} else {
		client, err := s.newXKSClient(d, secret)
		if err != nil {
			return nil, nil
		}
		c = &xksConn{s: s, client: client}
	}
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[string]conn{}
	}
	s.conns[rid] = c
	s.mu.Unlock()
	return c, nil
}

func unavailable(lk *kms.Key) error {
	return awserr.Newf(awserr.KMSInvalidState, "%s is unavailable.", lk.ARN())
}

// keyConn returns the connection of lk's store, or KMSInvalidStateException
// "<arn> is unavailable." when the store is not connected.
func (s *Service) keyConn(ctx context.Context, lk *kms.Key) (conn, error) {
	c, err := s.conn(ctx, lk.Doc().Account, lk.Doc().CustomKeyStoreID)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	if c == nil {
		return nil, unavailable(lk)
	}
	return c, nil
}

// Seal implements kms.KeyStores: it encrypts plaintext with a key of a
// custom key store. The ciphertext keeps Trent's blob format (package
// ciphertext), so that Decrypt finds the key from the blob; how the body is
// made is the backend's (cloudhsm.go, xks.go).
func (s *Service) Seal(ctx context.Context, lk *kms.Key, plaintext []byte, ec map[string]string) ([]byte, error) {
	c, err := s.keyConn(ctx, lk)
	if err != nil {
		return nil, err
	}
	return c.seal(ctx, lk, plaintext, ec)
}

// Open implements kms.KeyStores: it decrypts a blob of a custom key store's
// key (see Seal). It returns the plaintext and the material ID the blob
// names.
func (s *Service) Open(ctx context.Context, lk *kms.Key, b *ciphertext.Blob, ec map[string]string) ([]byte, string, error) {
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
	return c.open(ctx, lk, b, ec, hdr, aad)
}

// CreateKey implements kms.KeyStores: it creates the backing key of a new
// KMS key in its custom key store: a non-extractable AES-256 key generated
// inside the token (AWS_CLOUDHSM), or Trent's own material plus a check
// that the external key exists and can encrypt and decrypt
// (EXTERNAL_KEY_STORE).
func (s *Service) CreateKey(ctx context.Context, d *kms.KeyDoc, in *wire.CreateKeyInput) error {
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
	if d.Spec != kms.SymmetricDefault || d.Usage != "ENCRYPT_DECRYPT" {
		return awserr.Newf(awserr.UnsupportedOperation, "KeySpec %s is not supported for KMS keys in a custom key store.", d.Spec)
	}
	if ks.State != ConnConnected {
		return awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", ks.ID)
	}
	c, err := s.conn(ctx, d.Account, ks.ID)
	if err != nil {
		return s.kms.StoreErr(ctx, err)
	}
	if c == nil {
		return awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", ks.ID)
	}
	d.CustomKeyStoreID = ks.ID
	return c.createKey(ctx, d, ks, in)
}

// GenerateRandom implements kms.KeyStores (GenerateRandom with a
// CustomKeyStoreId): random bytes from the HSM of a connected CloudHSM-type
// store.
func (s *Service) GenerateRandom(ctx context.Context, id string, n int) ([]byte, error) {
	account := kms.CallerFrom(ctx).Account
	ks, _, err := s.getKeyStore(ctx, account, id)
	if err != nil {
		return nil, err
	}
	if ks.Type != StoreTypeCloudHSM {
		return nil, awserr.New(awserr.UnsupportedOperation, "GenerateRandom with a CustomKeyStoreId is supported only for AWS CloudHSM key stores.")
	}
	c, err := s.conn(ctx, account, id)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	h, ok := c.(*hsmConn)
	if !ok {
		return nil, awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", id)
	}
	b, err := h.tok.Random(n)
	if err != nil {
		s.log.WarnContext(ctx, "custom key store: HSM random failed", "store", id, "err", safeHSMError(err))
		return nil, awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s is not connected.", id)
	}
	return b, nil
}
