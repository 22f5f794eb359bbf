package algo

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"filippo.io/mldsa"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	circldsa44 "github.com/cloudflare/circl/sign/mldsa/mldsa44"
	circldsa65 "github.com/cloudflare/circl/sign/mldsa/mldsa65"
	circldsa87 "github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	gmecdh "github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Key is parsed private key material of one key version, ready for use.
// A Key is immutable and safe for concurrent use; parse once and cache it.
type Key struct {
	spec  *Spec
	usage string
	pub   []byte // DER SubjectPublicKeyInfo; nil for HMAC

	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	ecdh  *ecdh.PrivateKey
	k1    *secp256k1.PrivateKey
	ed    ed25519.PrivateKey
	sm2   *sm2.PrivateKey
	sm2dh *gmecdh.PrivateKey
	dsa   *mldsa.PrivateKey
	kem   kemKey
	mac   []byte
}

// Spec returns the key's spec.
func (k *Key) Spec() *Spec { return k.spec }

// Usage returns the KeyUsage the key was parsed for.
func (k *Key) Usage() string { return k.usage }

// PublicKeyDER returns the DER SubjectPublicKeyInfo of an asymmetric key, as
// GetPublicKey returns it. It returns ErrKeyUsage for HMAC keys, which have
// no public key. The caller must not modify the returned slice.
func (k *Key) PublicKeyDER() ([]byte, error) {
	if k.pub == nil {
		return nil, ErrKeyUsage
	}
	return k.pub, nil
}

// ParseKey parses private key material for a key with the given spec and
// usage and checks that it matches the spec: PKCS#8 DER for asymmetric specs
// (what Generate returns, or imported material), raw bytes for HMAC specs
// (224: 28–64 B, 256: 32–64, 384: 48–128, 512: 64–128).
//
// ParseKey returns a ValidationException *awserr.Error if the usage is not
// allowed for the spec, and an error wrapping ErrInvalidKeyMaterial if the
// material is malformed or belongs to another spec. SYMMETRIC_DEFAULT
// material is not handled here (see internal/ciphertext).
func ParseKey(spec, usage string, material []byte) (*Key, error) {
	if _, err := ResolveUsage(spec, usage); err != nil || usage == "" {
		if err == nil {
			err = ErrKeyUsage
		}
		return nil, err
	}
	s, _ := LookupSpec(spec)
	k := &Key{spec: s, usage: usage}
	var err error
	switch s.fam {
	case famSymmetric:
		return nil, invalidMaterial("SYMMETRIC_DEFAULT material is not handled by package algo")
	case famHMAC:
		if len(material) < s.hmacRange[0] || len(material) > s.hmacRange[1] {
			return nil, invalidMaterial("%s key material must be %d to %d bytes", spec, s.hmacRange[0], s.hmacRange[1])
		}
		k.mac = append([]byte(nil), material...)
		return k, nil
	}
	p, curve, err := parsePKCS8(material)
	if err != nil {
		return nil, invalidMaterial("%s", err)
	}
	switch s.fam {
	case famRSA:
		err = k.parseRSA(material)
	case famECDSA:
		err = k.parseECDSA(material)
	case famSecp256k1:
		err = k.parseSecp256k1(p, curve)
	case famEd25519:
		err = k.parseEd25519(material)
	case famSM2:
		err = k.parseSM2(material, curve)
	case famMLDSA:
		err = k.parseMLDSA(p)
	case famMLKEM:
		err = k.parseMLKEM(p)
	}
	if err != nil {
		return nil, invalidMaterial("%s: %s", spec, err)
	}
	return k, nil
}

func (k *Key) parseRSA(der []byte) error {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return errors.New("not an RSA private key")
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return errors.New("not an RSA private key")
	}
	if rk.N.BitLen() != k.spec.bits {
		return fmt.Errorf("RSA modulus is %d bits", rk.N.BitLen())
	}
	if rk.E != 65537 {
		return errors.New("RSA public exponent must be 65537")
	}
	k.rsa = rk
	k.pub, err = x509.MarshalPKIXPublicKey(&rk.PublicKey)
	return err
}

func nistCurve(spec string) elliptic.Curve {
	switch spec {
	case "ECC_NIST_P256":
		return elliptic.P256()
	case "ECC_NIST_P384":
		return elliptic.P384()
	case "ECC_NIST_P521":
		return elliptic.P521()
	}
	return nil
}

func (k *Key) parseECDSA(der []byte) error {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return errors.New("not an EC private key on a supported curve")
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != nistCurve(k.spec.Name) {
		return errors.New("not a private key on the spec's curve")
	}
	k.ec = ek
	if k.ecdh, err = ek.ECDH(); err != nil {
		return errors.New("invalid EC private key")
	}
	k.pub, err = x509.MarshalPKIXPublicKey(&ek.PublicKey)
	return err
}

func (k *Key) parseSecp256k1(p pkcs8, curve asn1.ObjectIdentifier) error {
	if !p.Algo.Algorithm.Equal(oidECPublicKey) || !oidSecp256k1.Equal(curve) {
		return errors.New("not a secp256k1 private key")
	}
	var ec ecPrivateKey
	if rest, err := asnUnmarshal(p.PrivateKey, &ec); err != nil || len(rest) != 0 || ec.Version != 1 {
		return errors.New("malformed ECPrivateKey")
	}
	if ec.Curve != nil && !ec.Curve.Equal(oidSecp256k1) {
		return errors.New("ECPrivateKey names another curve")
	}
	var d secp256k1.ModNScalar
	if len(ec.PrivateKey) != 32 || d.SetByteSlice(ec.PrivateKey) || d.IsZero() {
		return errors.New("private scalar out of range")
	}
	k.k1 = secp256k1.NewPrivateKey(&d)
	pub := k.k1.PubKey().SerializeUncompressed()
	if len(ec.PublicKey.Bytes) != 0 && !sameBytes(ec.PublicKey.Bytes, pub) {
		return errors.New("embedded public key does not match the private key")
	}
	k.pub = marshalSPKI(oidECPublicKey, oidSecp256k1, pub)
	return nil
}

func (k *Key) parseEd25519(der []byte) error {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return errors.New("not an Ed25519 private key")
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return errors.New("not an Ed25519 private key")
	}
	k.ed = ed
	k.pub, err = x509.MarshalPKIXPublicKey(ed.Public())
	return err
}

func (k *Key) parseSM2(der []byte, curve asn1.ObjectIdentifier) error {
	if !oidSM2Curve.Equal(curve) {
		return errors.New("not an SM2 private key")
	}
	key, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return errors.New("not an SM2 private key")
	}
	sk, ok := key.(*sm2.PrivateKey)
	if !ok {
		return errors.New("not an SM2 private key")
	}
	k.sm2 = sk
	if k.sm2dh, err = sk.ECDH(); err != nil {
		return errors.New("invalid SM2 private key")
	}
	k.pub, err = smx509.MarshalPKIXPublicKey(&sk.PublicKey)
	return err
}

func mldsaOID(bits int) asn1.ObjectIdentifier {
	switch bits {
	case 44:
		return oidMLDSA44
	case 65:
		return oidMLDSA65
	}
	return oidMLDSA87
}

func (k *Key) parseMLDSA(p pkcs8) error {
	if !p.Algo.Algorithm.Equal(mldsaOID(k.spec.bits)) || len(p.Algo.Parameters.FullBytes) != 0 {
		return errors.New("not a private key for this ML-DSA parameter set")
	}
	seed, expanded, err := parseSeedKey(p.PrivateKey, 32)
	if err != nil {
		return err
	}
	if k.dsa, err = newMLDSA(k.spec.bits, seed); err != nil {
		return err
	}
	if expanded != nil && !sameBytes(expanded, mldsaExpanded(k.spec.bits, seed)) {
		return errors.New("expanded key does not match the seed")
	}
	k.pub = marshalSPKI(mldsaOID(k.spec.bits), nil, k.dsa.PublicKey().Bytes())
	return nil
}

func newMLDSA(bits int, seed []byte) (*mldsa.PrivateKey, error) {
	switch bits {
	case 44:
		return mldsa.NewPrivateKey(mldsa.MLDSA44(), seed)
	case 65:
		return mldsa.NewPrivateKey(mldsa.MLDSA65(), seed)
	}
	return mldsa.NewPrivateKey(mldsa.MLDSA87(), seed)
}

// mldsaExpanded returns the FIPS 204 private key encoding derived from seed,
// used only to check the expanded half of a "both"-form PKCS#8 key.
func mldsaExpanded(bits int, seed []byte) []byte {
	var s [32]byte
	copy(s[:], seed)
	switch bits {
	case 44:
		_, sk := circldsa44.NewKeyFromSeed(&s)
		return sk.Bytes()
	case 65:
		_, sk := circldsa65.NewKeyFromSeed(&s)
		return sk.Bytes()
	}
	_, sk := circldsa87.NewKeyFromSeed(&s)
	return sk.Bytes()
}

// kemKey is one ML-KEM parameter set's decapsulation key.
type kemKey interface {
	encapsulate(rand io.Reader) (sharedSecret, ciphertext []byte, err error)
	decapsulate(ct []byte) ([]byte, error)
	publicKey() []byte
	ciphertextSize() int
}

type kem768 struct{ dk *mlkem.DecapsulationKey768 }

func (k kem768) encapsulate(io.Reader) ([]byte, []byte, error) {
	ss, ct := k.dk.EncapsulationKey().Encapsulate()
	return ss, ct, nil
}
func (k kem768) decapsulate(ct []byte) ([]byte, error) { return k.dk.Decapsulate(ct) }
func (k kem768) publicKey() []byte                     { return k.dk.EncapsulationKey().Bytes() }
func (k kem768) ciphertextSize() int                   { return mlkem.CiphertextSize768 }

type kem1024 struct{ dk *mlkem.DecapsulationKey1024 }

func (k kem1024) encapsulate(io.Reader) ([]byte, []byte, error) {
	ss, ct := k.dk.EncapsulationKey().Encapsulate()
	return ss, ct, nil
}
func (k kem1024) decapsulate(ct []byte) ([]byte, error) { return k.dk.Decapsulate(ct) }
func (k kem1024) publicKey() []byte                     { return k.dk.EncapsulationKey().Bytes() }
func (k kem1024) ciphertextSize() int                   { return mlkem.CiphertextSize1024 }

// kem512 uses circl: the standard library has no ML-KEM-512.
type kem512 struct {
	sk kem.PrivateKey
	pk kem.PublicKey
}

func (k kem512) encapsulate(rand io.Reader) ([]byte, []byte, error) {
	seed := make([]byte, mlkem512.EncapsulationSeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, nil, err
	}
	ct, ss, err := mlkem512.Scheme().EncapsulateDeterministically(k.pk, seed)
	return ss, ct, err
}
func (k kem512) decapsulate(ct []byte) ([]byte, error) {
	return mlkem512.Scheme().Decapsulate(k.sk, ct)
}
func (k kem512) publicKey() []byte {
	b, _ := k.pk.MarshalBinary()
	return b
}
func (k kem512) ciphertextSize() int { return mlkem512.CiphertextSize }

func mlkemOID(bits int) asn1.ObjectIdentifier {
	switch bits {
	case 512:
		return oidMLKEM512
	case 768:
		return oidMLKEM768
	}
	return oidMLKEM1K
}

func newMLKEM(bits int, seed []byte) (kemKey, error) {
	switch bits {
	case 512:
		pk, sk := mlkem512.Scheme().DeriveKeyPair(seed)
		return kem512{sk: sk, pk: pk}, nil
	case 768:
		dk, err := mlkem.NewDecapsulationKey768(seed)
		return kem768{dk}, err
	}
	dk, err := mlkem.NewDecapsulationKey1024(seed)
	return kem1024{dk}, err
}

// mlkemExpanded returns the FIPS 203 decapsulation key encoding for seed.
func mlkemExpanded(bits int, seed []byte) []byte {
	var sch kem.Scheme
	switch bits {
	case 512:
		sch = mlkem512.Scheme()
	case 768:
		sch = mlkem768.Scheme()
	default:
		sch = mlkem1024.Scheme()
	}
	_, sk := sch.DeriveKeyPair(seed)
	b, _ := sk.MarshalBinary()
	return b
}

func (k *Key) parseMLKEM(p pkcs8) error {
	if !p.Algo.Algorithm.Equal(mlkemOID(k.spec.bits)) || len(p.Algo.Parameters.FullBytes) != 0 {
		return errors.New("not a private key for this ML-KEM parameter set")
	}
	seed, expanded, err := parseSeedKey(p.PrivateKey, 64)
	if err != nil {
		return err
	}
	if k.kem, err = newMLKEM(k.spec.bits, seed); err != nil {
		return err
	}
	if expanded != nil && !sameBytes(expanded, mlkemExpanded(k.spec.bits, seed)) {
		return errors.New("expanded key does not match the seed")
	}
	k.pub = marshalSPKI(mlkemOID(k.spec.bits), nil, k.kem.publicKey())
	return nil
}
