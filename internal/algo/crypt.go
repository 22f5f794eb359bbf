package algo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/x509"
	"io"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// maxSM2Plaintext is the SM2PKE plaintext limit AWS documents for Encrypt.
const maxSM2Plaintext = 1024

// MaxPlaintext returns the largest plaintext Encrypt accepts for an
// algorithm on this key: k − 2·hLen − 2 for RSAES-OAEP (214/190, 342/318,
// 470/446 bytes) and 1024 for SM2PKE. It returns 0 for an algorithm the key
// cannot encrypt with.
func (k *Key) MaxPlaintext(alg string) int {
	switch {
	case k.spec.fam == famRSA && (alg == RSAESOAEPSHA1 || alg == RSAESOAEPSHA256):
		return k.rsa.Size() - 2*oaepHash(alg).Size() - 2
	case k.spec.fam == famSM2 && alg == SM2PKE:
		return maxSM2Plaintext
	}
	return 0
}

func oaepHash(alg string) crypto.Hash {
	if alg == RSAESOAEPSHA1 {
		return crypto.SHA1
	}
	return crypto.SHA256
}

func (k *Key) checkCrypt(alg string) error {
	if k.usage != UsageEncryptDecrypt {
		return ErrKeyUsage
	}
	if !k.spec.allows(UsageEncryptDecrypt, alg) {
		return &AlgorithmError{Algorithm: alg, KeySpec: k.spec.Name}
	}
	return nil
}

// Encrypt encrypts pt with the key's public key: RSAES-OAEP with SHA-1 or
// SHA-256 (MGF1 with the same hash, empty label), or SM2PKE producing the
// ASN.1 C1C3C2 ciphertext of GM/T 0009. The output is the raw ciphertext, as
// KMS returns for asymmetric keys.
//
// Errors: ErrKeyUsage unless the key is ENCRYPT_DECRYPT; *AlgorithmError for
// an algorithm the spec does not allow; ValidationException for an empty
// plaintext or one over MaxPlaintext ("Algorithm RSAES_OAEP_SHA_1 and key
// spec RSA_2048 cannot encrypt data larger than 214 bytes.").
func (k *Key) Encrypt(rand io.Reader, alg string, pt []byte) ([]byte, error) {
	if err := k.checkCrypt(alg); err != nil {
		return nil, err
	}
	if len(pt) == 0 {
		return nil, errMessageEmpty("plaintext")
	}
	if max := k.MaxPlaintext(alg); len(pt) > max {
		return nil, errPlaintextTooLarge(alg, k.spec.Name, max)
	}
	if k.spec.fam == famSM2 {
		return sm2.EncryptASN1(rand, &k.sm2.PublicKey, pt)
	}
	return rsa.EncryptOAEP(oaepHash(alg).New(), rand, &k.rsa.PublicKey, pt, nil)
}

// Decrypt reverses Encrypt. Any malformed or unauthentic ciphertext yields
// InvalidCiphertextException with an empty message; the usage and algorithm
// errors are those of Encrypt. SM2PKE ciphertexts must be in ASN.1 form.
func (k *Key) Decrypt(alg string, ct []byte) ([]byte, error) {
	if err := k.checkCrypt(alg); err != nil {
		return nil, err
	}
	if k.spec.fam == famSM2 {
		if len(ct) == 0 || ct[0] != 0x30 {
			return nil, errInvalidCiphertext
		}
		pt, err := sm2.Decrypt(k.sm2, ct)
		if err != nil {
			return nil, errInvalidCiphertext
		}
		return pt, nil
	}
	if len(ct) != k.rsa.Size() {
		return nil, errInvalidCiphertext
	}
	pt, err := rsa.DecryptOAEP(oaepHash(alg).New(), nil, k.rsa, ct, nil)
	if err != nil {
		return nil, errInvalidCiphertext
	}
	return pt, nil
}

// DeriveSharedSecret performs ECDH (SP 800-56A cofactor Diffie-Hellman; the
// cofactor is 1 on every curve offered) between the key and a peer public
// key given as DER SubjectPublicKeyInfo on the same curve, and returns the
// raw shared secret: the x-coordinate, as long as the field size. SM2
// KEY_AGREEMENT keys use the same plain ECDH on the SM2 curve, not the
// interactive SM2 key-exchange protocol of GM/T 0003.3.
//
// Errors: ErrKeyUsage unless the key is KEY_AGREEMENT; ValidationException
// with an empty message (as AWS sends) for a public key that does not parse,
// is not on the key's curve, or is the point at infinity.
func (k *Key) DeriveSharedSecret(peerSPKI []byte) ([]byte, error) {
	if k.usage != UsageKeyAgreement {
		return nil, ErrKeyUsage
	}
	if k.spec.fam == famSM2 {
		pub, err := smx509.ParsePKIXPublicKey(peerSPKI)
		if err != nil {
			return nil, errBadPublicKey
		}
		ep, ok := pub.(*ecdsa.PublicKey)
		if !ok || !sm2.IsSM2PublicKey(ep) {
			return nil, errBadPublicKey
		}
		dp, err := sm2.PublicKeyToECDH(ep)
		if err != nil {
			return nil, errBadPublicKey
		}
		secret, err := k.sm2dh.ECDH(dp)
		if err != nil {
			return nil, errBadPublicKey
		}
		return secret, nil
	}
	pub, err := x509.ParsePKIXPublicKey(peerSPKI)
	if err != nil {
		return nil, errBadPublicKey
	}
	ep, ok := pub.(*ecdsa.PublicKey)
	if !ok || ep.Curve != k.ec.Curve {
		return nil, errBadPublicKey
	}
	dp, err := ep.ECDH()
	if err != nil {
		return nil, errBadPublicKey
	}
	secret, err := k.ecdh.ECDH(dp)
	if err != nil {
		return nil, errBadPublicKey
	}
	return secret, nil
}

// Encapsulate runs ML-KEM.Encaps with the key's encapsulation key and
// returns the 32-byte shared secret and the ciphertext (768, 1088 or 1568
// bytes). ML-KEM-512 reads its randomness from rand; for ML-KEM-768/1024 the
// standard library uses its own secure source. It returns ErrKeyUsage unless
// the key is ENCAPSULATE_DECAPSULATE.
func (k *Key) Encapsulate(rand io.Reader) (sharedSecret, ciphertext []byte, err error) {
	if k.usage != UsageEncapsulateDecapsulate {
		return nil, nil, ErrKeyUsage
	}
	return k.kem.encapsulate(rand)
}

// Decapsulate runs ML-KEM.Decaps. Because of FIPS 203 implicit rejection a
// tampered or foreign ciphertext of the right length yields a pseudo-random
// 32-byte secret, not an error; only a wrong length returns
// InvalidCiphertextException (empty message). ErrKeyUsage as Encapsulate.
func (k *Key) Decapsulate(ct []byte) ([]byte, error) {
	if k.usage != UsageEncapsulateDecapsulate {
		return nil, ErrKeyUsage
	}
	if len(ct) != k.kem.ciphertextSize() {
		return nil, errInvalidCiphertext
	}
	ss, err := k.kem.decapsulate(ct)
	if err != nil {
		return nil, errInvalidCiphertext
	}
	return ss, nil
}

func (k *Key) checkMAC(alg string, msg []byte) error {
	if k.usage != UsageGenerateVerifyMAC {
		return ErrKeyUsage
	}
	if !k.spec.allows(UsageGenerateVerifyMAC, alg) {
		return &AlgorithmError{Algorithm: alg, KeySpec: k.spec.Name}
	}
	if len(msg) == 0 {
		return errMessageEmpty("message")
	}
	if len(msg) > maxRawMessageLength {
		return errMessageTooLong("message", maxRawMessageLength)
	}
	return nil
}

// MAC returns HMAC(key, msg) with the hash of alg, which must be the one
// algorithm of the key's spec; otherwise *AlgorithmError, whose message is
// AWS's "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.".
// ErrKeyUsage for a non-HMAC key; ValidationException for an empty or
// >4096-byte message.
func (k *Key) MAC(alg string, msg []byte) ([]byte, error) {
	if err := k.checkMAC(alg, msg); err != nil {
		return nil, err
	}
	h := hmac.New(k.spec.hash.New, k.mac)
	h.Write(msg)
	return h.Sum(nil), nil
}

// VerifyMAC recomputes the MAC and compares it in constant time. It returns
// nil on a match and KMSInvalidMacException (empty message) otherwise; the
// other errors are those of MAC.
func (k *Key) VerifyMAC(alg string, msg, mac []byte) error {
	want, err := k.MAC(alg, msg)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, mac) {
		return errInvalidMAC
	}
	return nil
}
