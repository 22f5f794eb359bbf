package replica

import (
	"context"
	"crypto/ed25519"
	"crypto/fips140"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// KindIdentity is the record kind of a deployment's replication identity
// (one record, IdentityID).
const (
	KindIdentity = "replication-identity"
	IdentityID   = "self"
)

// Identity is a deployment's replication identity: the hybrid ML-KEM-768 +
// X25519 age identity that peers wrap key material to, and the Ed25519 key
// that signs what this deployment sends. Its private parts are stored
// sealed under the root key.
type Identity struct {
	Region string
	kem    *age.HybridIdentity
	sign   ed25519.PrivateKey
}

// Public is the public half of an Identity: what a peer's configuration
// holds to trust this deployment.
type Public struct {
	Region string `json:"region" yaml:"region"`
	// KEM is the age recipient ("age1pq1...") material is wrapped to.
	KEM string `json:"kem_public_key" yaml:"kem_public_key"`
	// Sign is the Ed25519 public key, "ed25519:" and base64.
	Sign string `json:"signing_public_key" yaml:"signing_public_key"`
}

// Public returns id's public half.
func (id *Identity) Public() Public {
	return Public{Region: id.Region, KEM: id.kem.Recipient().String(),
		Sign: "ed25519:" + base64.StdEncoding.EncodeToString(id.sign.Public().(ed25519.PublicKey))}
}

// Fingerprint returns a short digest of a public identity, for operators
// comparing what they configured with what a deployment prints.
func (p Public) Fingerprint() string {
	h := sha256.Sum256([]byte(p.KEM + "\n" + p.Sign))
	return "SHA256:" + hex.EncodeToString(h[:16])
}

// ParseSigningKey parses "ed25519:" and base64.
func ParseSigningKey(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return nil, errors.New(`replica: a signing public key begins with "ed25519:"`)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("replica: a signing public key is 32 bytes in base64")
	}
	return ed25519.PublicKey(b), nil
}

// identityDoc is the stored form: private parts sealed under the root key.
type identityDoc struct {
	Region     string `json:"region"`
	KEMSealed  []byte `json:"kemSealed"`
	SignSealed []byte `json:"signSealed"`
}

func identityAAD(part string) []byte { return []byte("trent/replication-identity/v1\x00" + part) }

// LoadIdentity returns the deployment's replication identity, creating it
// (and storing it sealed under root) at the first call. Errors are the
// store's and the root key's, never showing a private key.
func LoadIdentity(ctx context.Context, st store.Store, root rootkey.Provider, region string) (*Identity, error) {
	rec, err := st.Get(ctx, KindIdentity, IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		if err := createIdentity(ctx, st, root, region); err != nil && !errors.Is(err, store.ErrExists) {
			return nil, err
		}
		rec, err = st.Get(ctx, KindIdentity, IdentityID)
	}
	if err != nil {
		return nil, fmt.Errorf("replica: read identity: %w", err)
	}
	var d identityDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, fmt.Errorf("replica: decode identity: %w", err)
	}
	kem, err := root.Open(d.KEMSealed, identityAAD("kem"))
	if err != nil {
		return nil, fmt.Errorf("replica: unseal identity: %w", err)
	}
	defer clear(kem)
	id, err := age.ParseHybridIdentity(string(kem))
	if err != nil {
		return nil, errors.New("replica: the stored KEM identity does not parse")
	}
	seed, err := root.Open(d.SignSealed, identityAAD("sign"))
	if err != nil {
		return nil, fmt.Errorf("replica: unseal identity: %w", err)
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("replica: the stored signing key is not an Ed25519 seed")
	}
	return &Identity{Region: region, kem: id, sign: ed25519.NewKeyFromSeed(seed)}, nil
}

func createIdentity(ctx context.Context, st store.Store, root rootkey.Provider, region string) error {
	if fips140.Enabled() {
		// The FIPS 140-3 module refuses X25519, and hpke then retries key
		// generation for ever.
		return errors.New("replica: a replication identity uses X25519, which FIPS 140-3 mode does not allow")
	}
	kem, err := age.GenerateHybridIdentity()
	if err != nil {
		return err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	defer clear(seed)
	ks := []byte(kem.String())
	defer clear(ks)
	d := identityDoc{Region: region}
	if d.KEMSealed, err = root.Seal(ks, identityAAD("kem")); err != nil {
		return err
	}
	if d.SignSealed, err = root.Seal(seed, identityAAD("sign")); err != nil {
		return err
	}
	data, err := json.Marshal(&d)
	if err != nil {
		return err
	}
	return st.Apply(ctx, store.Op{Kind: KindIdentity, ID: IdentityID, Data: data, Create: true})
}

// IdentityResealer re-seals the stored identity under the current root key
// (reseal.Resealer).
type IdentityResealer struct {
	Store store.Store
	Root  rootkey.Provider
	Locks *store.Locks
}

// ResealAll implements reseal.Resealer.
func (r IdentityResealer) ResealAll(ctx context.Context, progress func(n int)) (int, error) {
	cur := r.Root.CurrentID()
	return reseal.Records(ctx, r.Store, r.Locks, KindIdentity, func(_ string, data []byte) ([]byte, bool, error) {
		var d identityDoc
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, false, err
		}
		if !reseal.Stale(d.KEMSealed, cur) && !reseal.Stale(d.SignSealed, cur) {
			return nil, false, nil
		}
		var err error
		if d.KEMSealed, err = reseal.Blob(r.Root, d.KEMSealed, identityAAD("kem")); err != nil {
			return nil, false, err
		}
		if d.SignSealed, err = reseal.Blob(r.Root, d.SignSealed, identityAAD("sign")); err != nil {
			return nil, false, err
		}
		out, err := json.Marshal(&d)
		return out, err == nil, err
	}, nil, progress)
}
