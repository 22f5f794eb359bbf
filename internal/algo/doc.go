// Package algo implements every KMS key spec other than SYMMETRIC_DEFAULT
// encryption: RSA, NIST and secp256k1 ECC, Ed25519, SM2, ML-DSA, ML-KEM and
// HMAC, with the algorithm parameters AWS KMS uses, so that results
// interoperate with OpenSSL, the AWS SDKs and anything else that verifies
// or encrypts offline with a KMS public key.
//
// The package is pure: no I/O, no clocks, no storage, no logging. Randomness
// comes from the io.Reader the caller passes (crypto/rand.Reader in
// production), except where the standard library ignores it since Go 1.26
// (RSA key generation, RSA/ECDSA signing, ML-KEM-768/1024 encapsulation use
// the library's own secure source).
//
// # Usage
//
// The spec table (LookupSpec, Spec.Algorithms, ResolveUsage) answers
// CreateKey validation and the algorithm lists of DescribeKey and
// GetPublicKey. Generate and GenerateDataKeyPair create material; ParseKey
// turns stored or imported material into a *Key, which the caller caches per
// key version. Key's methods implement Sign/Verify, Encrypt/Decrypt,
// GenerateMac/VerifyMac, DeriveSharedSecret and Encapsulate/Decapsulate.
// KeyWrapPad and KeyUnwrapPad are AES Key Wrap with Padding (RFC 5649), the
// second half of the RSA_AES_KEY_WRAP wrapping algorithms of imported key
// material.
//
// # Invariants
//
//   - Every error a client may see is an *awserr.Error with AWS's exception
//     name and text, or one of ErrKeyUsage / *AlgorithmError /
//     ErrInvalidKeyMaterial which the caller maps (the messages that need
//     the key ARN are built by the caller).
//   - No error, panic or String method contains plaintext, key material or
//     MAC/shared-secret bytes.
//   - Verify and VerifyMAC never report "false": a mismatch is
//     KMSInvalidSignatureException / KMSInvalidMacException with an empty
//     message. MACs and secret comparisons are constant time.
//   - Private keys are PKCS#8 DER; public keys are DER SubjectPublicKeyInfo.
//     ML-DSA and ML-KEM private keys are written in the seed-only form of
//     RFC 9881/9935; the seed-and-expanded form is accepted after checking
//     the expanded key against the seed; the expanded-only form is refused.
//
// # Algorithm choices
//
//   - RSASSA-PSS: salt length = hash length; RSAES-OAEP: MGF1 hash = OAEP
//     hash, empty label.
//   - ECDSA signatures are DER; the hash is bound to the curve. secp256k1
//     signing is RFC 6979 deterministic with low S; verification accepts
//     high S.
//   - ED25519_SHA_512 is pure Ed25519 over a RAW message;
//     ED25519_PH_SHA_512 is Ed25519ph over a 64-byte SHA-512 DIGEST.
//   - ML_DSA_SHAKE_256 with RAW is pure ML-DSA (FIPS 204 Algorithm 2) with
//     an empty context, hedged with 32 bytes from rand; EXTERNAL_MU takes the
//     caller's 64-byte μ = SHAKE256(SHAKE256(pk,64) ‖ 0x00 ‖ 0x00 ‖ M, 64),
//     so both produce signatures any FIPS 204 verifier accepts for M with an
//     empty context.
//   - SM2DSA uses SM3 and the default ID "1234567812345678"; a DIGEST is the
//     32-byte e = SM3(Z_A ‖ M). SM2PKE ciphertext is ASN.1 C1C3C2
//     (GM/T 0009). SM2 key agreement is plain ECDH on the SM2 curve
//     (x-coordinate), like the NIST curves.
//   - ML-KEM Decapsulate uses implicit rejection; only a wrong ciphertext
//     length is an error.
package algo
