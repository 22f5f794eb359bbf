// Package ideal is the yardstick server for "trent bench": the least work an
// AWS-KMS-compatible Encrypt/Decrypt/GenerateDataKey endpoint can do over
// net/http with encoding/json and AES-256-GCM. It has no authentication
// (signatures are ignored), no storage, no audit and one in-memory key, so
// its throughput bounds what Trent can reach on the same machine (issue 10:
// Trent must reach at least 0.65 times it).
//
// It is a test fixture: never expose it, it encrypts for anyone.
package ideal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// KeyARN is the key ID the server reports for every request.
const KeyARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"

type server struct{ aead cipher.AEAD }

// Handler returns the yardstick handler with a fresh random key. It answers
// TrentService.Encrypt, Decrypt and GenerateDataKey; anything else gets
// UnknownOperationException, undecodable JSON SerializationException and a
// ciphertext that does not open InvalidCiphertextException, all with 400.
func Handler() http.Handler {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return &server{aead: aead}
}

type request struct {
	KeyID          string `json:"KeyId"`
	Plaintext      []byte `json:"Plaintext"`
	CiphertextBlob []byte `json:"CiphertextBlob"`
	NumberOfBytes  int    `json:"NumberOfBytes"`
	KeySpec        string `json:"KeySpec"`
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, "SerializationException", "")
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	switch op {
	case "Encrypt":
		reply(w, map[string]any{"KeyId": KeyARN, "CiphertextBlob": s.seal(req.Plaintext), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
	case "Decrypt":
		ns := s.aead.NonceSize()
		if len(req.CiphertextBlob) < ns {
			fail(w, "InvalidCiphertextException", "")
			return
		}
		pt, err := s.aead.Open(nil, req.CiphertextBlob[:ns], req.CiphertextBlob[ns:], nil)
		if err != nil {
			fail(w, "InvalidCiphertextException", "")
			return
		}
		reply(w, map[string]any{"KeyId": KeyARN, "Plaintext": pt, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
	case "GenerateDataKey":
		n := req.NumberOfBytes
		if n <= 0 || n > 1024 {
			n = 32
		}
		dk := make([]byte, n)
		rand.Read(dk)
		reply(w, map[string]any{"KeyId": KeyARN, "Plaintext": dk, "CiphertextBlob": s.seal(dk)})
	default:
		fail(w, "UnknownOperationException", "")
	}
}

func (s *server) seal(pt []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(pt)+s.aead.Overhead())
	rand.Read(out)
	return s.aead.Seal(out, out, pt, nil)
}

func reply(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Write(b)
}

func fail(w http.ResponseWriter, code, msg string) {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	w.Write(b)
}
