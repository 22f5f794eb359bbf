package audit

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// FuzzParseRecord checks that parseRecord never panics, and that any line
// it accepts re-encodes to exactly the same bytes (so no two byte strings
// are the same valid record: every changed byte is detected).
func FuzzParseRecord(f *testing.F) {
	ev := []byte(`{"eventName":"Decrypt"}`)
	g := genesis("n")
	f.Add(bytes.TrimSuffix(appendRecord(nil, 1, g, chainHash(g, 1, ev), ev), []byte("\n")))
	f.Add([]byte(`{"seq":1,"prev":"00","hash":"00","event":{}}`))
	f.Add([]byte(`{"seq":01}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseRecord(line)
		if err != nil {
			return
		}
		again := appendRecord(nil, r.Seq, r.Prev, r.Hash, r.Event)
		if !bytes.Equal(again[:len(again)-1], line) {
			t.Fatalf("accepted line does not round-trip:\n%q\n%q", line, again)
		}
	})
}

// FuzzParseDigest checks that parseDigest never panics and that an
// accepted digest whose signature verifies was signed by the test key.
func FuzzParseDigest(f *testing.F) {
	d := Digest{Version: 1, Node: "n", DigestSeq: 1, FirstSeq: 1, LastSeq: 2, KeyID: KeyID(testKey.Public().(ed25519.PublicKey))}
	line, _, _, _ := signDigest(testKey, &d)
	f.Add(bytes.TrimSuffix(line, []byte("\n")))
	d2 := Digest{Version: DigestVersion, Node: "n", DigestSeq: 2, Reason: DigestTruncation, LastSeq: 2, KeyID: d.KeyID,
		PrevSignature: "AAAA", IntervalMs: 60000, HeartbeatMs: 3600000, LostFrom: 3, LostThrough: 9}
	line, _, _, _ = signDigest(testKey, &d2)
	f.Add(bytes.TrimSuffix(line, []byte("\n")))
	d3 := Digest{Version: DigestVersionKeyReplaced, Node: "n", DigestSeq: 3, Reason: DigestKeyReplaced, LastSeq: 2, KeyID: d.KeyID,
		PrevKeyID: "0011223344556677", PublicKey: "MCowBQYDK2VwAyEAO2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="}
	line, _, _, _ = signDigest(testKey, &d3)
	f.Add(bytes.TrimSuffix(line, []byte("\n")))
	f.Add([]byte(`{"digest":{},"signature":""}`))
	keys := map[string]ed25519.PublicKey{d.KeyID: testKey.Public().(ed25519.PublicKey)}
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := parseDigest(line)
		if err != nil {
			return
		}
		_ = p.verify(keys)
	})
}
