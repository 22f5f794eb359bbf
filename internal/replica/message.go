package replica

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
)

// Version is the protocol version of messages and answers.
const Version = 1

// Domain separation of the signatures.
const (
	signMessage = "trent replication message v1\x00"
	signAnswer  = "trent replication answer v1\x00"
)

// MaxMessage bounds a message's size (a key with many materials).
const MaxMessage = 1 << 20

// Message is what one deployment sends another about a multi-Region key:
// the sender's state of it (Shared, with the materials the receiver may
// lack wrapped to the receiver's KEM key), or that the sender no longer
// has it (Deleted).
type Message struct {
	V    int       `json:"v"`
	From string    `json:"from"`
	To   string    `json:"to"`
	Time time.Time `json:"time"`
	// Nonce is unique per message: the receiver refuses one it has seen
	// within the time window, and the answer repeats it.
	Nonce   string      `json:"nonce"`
	KeyID   string      `json:"keyId"`
	Account string      `json:"account"`
	Deleted bool        `json:"deleted,omitempty"`
	Shared  *kms.Shared `json:"shared,omitempty"`
	// Epoch is, with Deleted, the epoch of the last state the deleted
	// replica had: the primary acts on the notice only if that replica is
	// the one it has in the sender's Region (kms.KeyDoc.ReplicaSince).
	Epoch int64 `json:"epoch,omitempty"`
	// Materials are the key's materials, each age-encrypted to the
	// receiver (KEM) as "trent mrk material v1\0<keyID>\0<materialID>\0"
	// followed by the material.
	Materials map[string][]byte `json:"materials,omitempty"`
	// Create holds the independent properties of a replica that
	// ReplicateKey asked for, until the replica confirms it exists.
	Create *CreateParams `json:"create,omitempty"`
}

// CreateParams are ReplicateKey's independent properties of a new replica.
type CreateParams struct {
	Policy      string     `json:"policy,omitempty"`
	Bypass      bool       `json:"bypass,omitempty"`
	Description string     `json:"description,omitempty"`
	Tags        []wire.Tag `json:"tags,omitempty"`
}

// Answer is the receiver's signed answer to a Message.
type Answer struct {
	V     int    `json:"v"`
	From  string `json:"from"`
	To    string `json:"to"`
	Nonce string `json:"nonce"`
	// Error is empty when the message was applied (or was already).
	Error string `json:"error,omitempty"`
}

func materialPrefix(keyID, materialID string) []byte {
	return []byte("trent mrk material v1\x00" + keyID + "\x00" + materialID + "\x00")
}

// wrap encrypts material to r, bound to its key and material IDs.
func wrap(r age.Recipient, keyID, materialID string, material []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		return nil, err
	}
	pt := append(materialPrefix(keyID, materialID), material...)
	defer clear(pt)
	if _, err := w.Write(pt); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// unwrap opens what wrap made with id, and checks its binding.
func unwrap(id age.Identity, keyID, materialID string, blob []byte) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(blob), id)
	if err != nil {
		return nil, errors.New("replica: a wrapped material does not open")
	}
	pt, err := io.ReadAll(io.LimitReader(r, 16<<10))
	if err != nil {
		clear(pt)
		return nil, errors.New("replica: a wrapped material does not open")
	}
	p := materialPrefix(keyID, materialID)
	if !bytes.HasPrefix(pt, p) {
		clear(pt)
		return nil, errors.New("replica: a wrapped material is bound to another key or material")
	}
	out := append([]byte(nil), pt[len(p):]...)
	clear(pt)
	return out, nil
}

// Sign returns the signature of a message body.
func (id *Identity) signMessage(body []byte) []byte {
	return ed25519.Sign(id.sign, append([]byte(signMessage), body...))
}

func (id *Identity) signAnswer(body []byte) []byte {
	return ed25519.Sign(id.sign, append([]byte(signAnswer), body...))
}

func verify(pub ed25519.PublicKey, domain string, body, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, append([]byte(domain), body...), sig)
}

// Printable returns at most n characters of s, a text that a peer chose,
// without its control, format (bidirectional overrides) and invalid
// characters: what a debug log line may show of it.
func Printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			continue
		}
		if n == 0 {
			b.WriteString("...")
			break
		}
		b.WriteRune(r)
		n--
	}
	return b.String()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
