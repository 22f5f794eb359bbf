package kms

import (
	"context"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// # The concerns beside the core
//
// Grants (package grant), imported key material (keyimport), custom key
// stores (keystore) and background work (job) are built over a *Service
// and registered with it when they are built. The core defines what it
// needs of them here, and they implement it.

// KeyRecords is implemented by a concern that keeps store records about
// keys (grants, usage notes): they are deleted with their key, in the same
// atomic write.
type KeyRecords interface {
	// KeyDeletionOps returns the operations that delete the records of key
	// keyID. An operation conditioned on a record's version makes the
	// deletion conflict (and run again later) if a writer changes that
	// record meanwhile. Errors are store failures.
	KeyDeletionOps(ctx context.Context, keyID string) ([]store.Op, error)
}

// AddKeyRecords registers r, whose records go with every key deleted from
// then on. Concerns call it when they are built.
func (s *Service) AddKeyRecords(r KeyRecords) { s.keyRecords = append(s.keyRecords, r) }

// Grants is the grant half of authorization (package grant implements it).
// The core asks it only when the key's policies alone do not allow a
// request, and checks grant tokens through it on every request that
// carries some.
type Grants interface {
	// CheckTokens returns InvalidGrantTokenException if a token is not one
	// this service issued.
	CheckTokens(tokens []string) error
	// Allowing returns the ID of a grant on key k that lets the caller in
	// ctx perform action, given the request's conditions (its encryption
	// context, for grant constraints) and grant tokens, or "" if none does.
	// Errors are InvalidGrantTokenException and store failures as a client
	// sees them.
	Allowing(ctx context.Context, k *Key, action string, conds map[string][]string, tokens []string) (string, error)
}

// SetGrants makes g the grant half of authorization. Package grant calls it
// when it is built, before the node serves.
func (s *Service) SetGrants(g Grants) { s.grants = g }

// noGrants is the Grants of a Service without the grant concern: no grant
// exists, so no grant token is valid.
type noGrants struct{}

func (noGrants) CheckTokens(tokens []string) error {
	if len(tokens) > 0 {
		return awserr.New(awserr.InvalidGrantToken, "Invalid grant token.")
	}
	return nil
}

func (noGrants) Allowing(context.Context, *Key, string, map[string][]string, []string) (string, error) {
	return "", nil
}

// KeyStores is the custom key store concern as the core's key operations
// see it (package keystore implements it, with its CloudHSM and XKS
// backends behind it): the creation of keys whose material lives in a
// custom key store, and their cryptography. Errors are what the client
// sees: *awserr.Error values (KMSInvalidStateException "<arn> is
// unavailable." when the store is not connected).
type KeyStores interface {
	// CreateKey creates in its custom key store the backing key of d, a new
	// key of Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE requested by in, and
	// records it in d.
	CreateKey(ctx context.Context, d *KeyDoc, in *wire.CreateKeyInput) error
	// Seal encrypts plaintext with k, a key of a custom key store, bound to
	// the encryption context ec, into Trent's ciphertext format.
	Seal(ctx context.Context, k *Key, plaintext []byte, ec map[string]string) ([]byte, error)
	// Open decrypts b, a ciphertext of k, and returns the plaintext and the
	// material ID b names.
	Open(ctx context.Context, k *Key, b *ciphertext.Blob, ec map[string]string) (plaintext []byte, materialID string, err error)
	// GenerateRandom returns n random bytes from the HSM of custom key store
	// storeID of the caller's account.
	GenerateRandom(ctx context.Context, storeID string, n int) ([]byte, error)
}

// SetKeyStores makes ks the custom key store concern. Package keystore
// calls it when it is built, before the node serves.
func (s *Service) SetKeyStores(ks KeyStores) { s.keyStores = ks }

// noKeyStores is the KeyStores of a Service without the custom key store
// concern: no store can be reached.
type noKeyStores struct{}

func errNoKeyStores() error {
	return awserr.New(awserr.UnsupportedOperation, "This node serves no custom key stores.")
}

func (noKeyStores) CreateKey(context.Context, *KeyDoc, *wire.CreateKeyInput) error {
	return errNoKeyStores()
}

func (noKeyStores) Seal(_ context.Context, k *Key, _ []byte, _ map[string]string) ([]byte, error) {
	return nil, awserr.Newf(awserr.KMSInvalidState, "%s is unavailable.", k.arn)
}

func (noKeyStores) Open(_ context.Context, k *Key, _ *ciphertext.Blob, _ map[string]string) ([]byte, string, error) {
	return nil, "", awserr.Newf(awserr.KMSInvalidState, "%s is unavailable.", k.arn)
}

func (noKeyStores) GenerateRandom(context.Context, string, int) ([]byte, error) {
	return nil, errNoKeyStores()
}
