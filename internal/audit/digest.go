package audit

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Digest reasons.
const (
	DigestInterval  = "interval"  // records arrived since the previous digest
	DigestHeartbeat = "heartbeat" // no record arrived for HeartbeatInterval
	DigestRotation  = "rotation"  // a segment was closed
	DigestShutdown  = "shutdown"  // the Log was closed cleanly
	DigestRetention = "retention" // segments are about to be deleted or archived
	DigestStart     = "start"     // the Log was opened
	// DigestTruncation marks a trail that was found shorter than its
	// anchor or its own digests and that the operator accepted
	// (Options.AcceptTruncation); LostFrom..LostThrough name the records
	// that are gone.
	DigestTruncation = "truncation-accepted"
	// DigestKeyReplaced is the first digest signed by a new signing key
	// that replaced a lost one (Options.ReplaceSigner): it names the key
	// that signed the digests before it (PrevKeyID) and carries the new
	// public key, so that Verify can say where and by which key the
	// trail's signer changed.
	DigestKeyReplaced = "signing-key-replaced"
	// DigestRestore is the first digest after the trail was restored
	// from a backup (Options.Restore): the records it covers and those
	// before it are the backup's, and the BackupRestored event that
	// follows it names the backup. Records the node wrote after the
	// backup was taken are not in a restored trail; the chain goes on
	// from the backup's last record.
	DigestRestore = "restore"
)

// DigestVersion is the version of the digests the Log writes. Version 2
// added PrevSignature, IntervalMs, HeartbeatMs, LostFrom and LostThrough.
// Version 3 added PrevKeyID and PublicKey, which only a DigestKeyReplaced
// digest carries: the Log writes version 3 for that digest alone, so that
// a verifier that reads version 2 still reads every other digest. Verify
// reads versions 1 to 3.
const (
	DigestVersion            = 2
	DigestVersionKeyReplaced = 3
)

// Digest is the signed payload of one line of a node's digest file. It
// covers the records FirstSeq..LastSeq (none when FirstSeq is 0), names the
// hash of record LastSeq, and chains to the previous digest by the SHA-256
// of that digest's payload bytes and by its signature. A retention digest
// also records that the records 1..PrunedThrough were deleted on purpose
// and that the first remaining record's prev hash is PrunedHash.
//
// A node writes a digest at least every IntervalMs while records arrive and
// at least every HeartbeatMs while none do, so a period without a digest
// (other than between a shutdown digest and the next start) is a gap that
// Verify reports.
type Digest struct {
	Version       int    `json:"version"`
	Node          string `json:"node"`
	DigestSeq     uint64 `json:"digestSeq"`
	Time          string `json:"time"`
	Reason        string `json:"reason"`
	FirstSeq      uint64 `json:"firstSeq"`
	LastSeq       uint64 `json:"lastSeq"`
	LastHash      string `json:"lastHash"`
	PrevDigest    string `json:"prevDigestHash"`
	PrunedThrough uint64 `json:"prunedThrough,omitempty"`
	PrunedHash    string `json:"prunedHash,omitempty"`
	KeyID         string `json:"keyId"`
	// PrevSignature is the base64 signature of the previous digest (""
	// for the first).
	PrevSignature string `json:"prevDigestSignature,omitempty"`
	// IntervalMs and HeartbeatMs are the node's digest periods when it
	// wrote this digest, in milliseconds.
	IntervalMs  int64 `json:"intervalMs,omitempty"`
	HeartbeatMs int64 `json:"heartbeatMs,omitempty"`
	// LostFrom..LostThrough, in a DigestTruncation digest, are the
	// records that were missing when the operator accepted the
	// truncation; the chain continues at LostThrough+1 from the hash of
	// record LastSeq (= LostFrom-1). Zero when no record was lost (only
	// digests were).
	LostFrom    uint64 `json:"lostFrom,omitempty"`
	LostThrough uint64 `json:"lostThrough,omitempty"`
	// PrevKeyID and PublicKey, in a DigestKeyReplaced digest (version
	// 3), are the ID of the key that signed the digests before it (""
	// if the node could not tell) and the new key's public key (base64
	// PKIX DER), whose ID is KeyID.
	PrevKeyID string `json:"prevKeyId,omitempty"`
	PublicKey string `json:"publicKey,omitempty"`
}

// digestLine is the JSON layout of a digest-file line: the payload bytes as
// signed, and the Ed25519 signature over them.
type digestLine struct {
	Digest    json.RawMessage `json:"digest"`
	Signature string          `json:"signature"`
}

// KeyID returns the identifier of an Ed25519 public key used in digests and
// public-key file names: the first 16 hex digits of SHA-256 of its PKIX DER.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:8])
}

// signDigest marshals d, signs it and returns the digest-file line (with
// newline), the hash of the payload and the signature, which the next
// digest chains to.
func signDigest(s crypto.Signer, d *Digest) ([]byte, Hash, []byte, error) {
	payload, err := json.Marshal(d)
	if err != nil {
		return nil, Hash{}, nil, err
	}
	sig, err := s.Sign(rand.Reader, payload, crypto.Hash(0))
	if err != nil {
		return nil, Hash{}, nil, fmt.Errorf("audit: signing digest: %w", err)
	}
	line, err := json.Marshal(digestLine{Digest: payload, Signature: base64.StdEncoding.EncodeToString(sig)})
	if err != nil {
		return nil, Hash{}, nil, err
	}
	return append(line, '\n'), sha256.Sum256(payload), sig, nil
}

var errBadSignature = errors.New("digest signature does not verify")

// parsedDigest is a digest line after parsing.
type parsedDigest struct {
	Digest
	payloadHash Hash
	payload     []byte
	sig         []byte
}

// parseDigest parses one digest-file line (without newline). It does not
// check the signature.
func parseDigest(line []byte) (parsedDigest, error) {
	var p parsedDigest
	var dl digestLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&dl); err != nil || len(dl.Digest) == 0 {
		return p, errMalformed
	}
	d2 := json.NewDecoder(bytes.NewReader(dl.Digest))
	d2.DisallowUnknownFields()
	if err := d2.Decode(&p.Digest); err != nil || p.Version < 1 || p.Version > DigestVersionKeyReplaced {
		return p, errMalformed
	}
	sig, err := base64.StdEncoding.DecodeString(dl.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return p, errMalformed
	}
	p.payload = dl.Digest
	p.sig = sig
	p.payloadHash = sha256.Sum256(dl.Digest)
	return p, nil
}

// verify checks the signature of p with the key of its KeyID in keys.
func (p *parsedDigest) verify(keys map[string]ed25519.PublicKey) error {
	k, ok := keys[p.KeyID]
	if !ok {
		return fmt.Errorf("no public key with id %q", p.KeyID)
	}
	if !ed25519.Verify(k, p.payload, p.sig) {
		return errBadSignature
	}
	return nil
}

// MarshalPublicKeyPEM returns pub as a PEM "PUBLIC KEY" block (PKIX).
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM parses every PEM "PUBLIC KEY" block in data that holds an
// Ed25519 key. It returns an error if there is none.
func ParsePublicKeyPEM(data []byte) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("audit: parsing public key: %w", err)
		}
		if ek, ok := k.(ed25519.PublicKey); ok {
			out = append(out, ek)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("audit: no Ed25519 PUBLIC KEY block found")
	}
	return out, nil
}
