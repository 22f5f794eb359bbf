package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// otherKey is a second fixed signing key: the one that replaces testKey.
var otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func otherKID() string { return KeyID(otherKey.Public().(ed25519.PublicKey)) }
func testKID() string  { return KeyID(testKey.Public().(ed25519.PublicKey)) }

func bothKeys() []ed25519.PublicKey {
	return []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey), otherKey.Public().(ed25519.PublicKey)}
}

// digestsOf returns the parsed digests of node "n" in dir.
func digestsOf(t *testing.T, dir string) []parsedDigest {
	t.Helper()
	ds, err := readDigests(filepath.Join(dir, digestName("n")))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// verifyNode1 verifies node "n" of dir with keys (and the anchor a, if not
// nil) and returns its report.
func verifyNode1(t *testing.T, dir string, a Anchor, keys ...ed25519.PublicKey) NodeReport {
	t.Helper()
	o := VerifyOptions{PublicKeys: keys, RequireDigests: true}
	if a != nil {
		o.Anchor, o.ExpectNodes = a, []string{"n"}
	}
	rep, err := Verify(dir, o)
	if err != nil || len(rep.Nodes) != 1 {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
	return rep.Nodes[0]
}

// TestSignerChangedRefused: Open refuses a signer that is not the key of
// the trail's latest digest, naming both, and changes no file.
func TestSignerChangedRefused(t *testing.T) {
	t.Parallel()
	dir, a, o := anchoredTrail(t, 0)
	before := snapshotDir(t, dir)
	o.Signer = otherKey
	l, err := Open(o)
	if !errors.Is(err, ErrSignerChanged) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open with another key = %v, want ErrSignerChanged", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "signed with key "+testKID()) || !strings.Contains(msg, otherKID()) {
		t.Errorf("error does not name both keys: %v", err)
	}
	if after := snapshotDir(t, dir); !maps.Equal(before, after) {
		t.Errorf("the refused Open changed the trail directory")
	}
	// Only the anchor names the key (the digest file is gone): still
	// refused, and the error is about the key, not the truncation.
	os.Remove(filepath.Join(dir, digestName("n")))
	if _, err := Open(o); !errors.Is(err, ErrSignerChanged) {
		t.Fatalf("Open with another key, anchor only = %v, want ErrSignerChanged", err)
	}
	if ts, err := LastSigner(dir, "n", a, nil); err != nil || !ts.Signed || ts.KeyID != testKID() || ts.DigestSeq == 0 {
		t.Fatalf("LastSigner from the anchor = %+v, %v", ts, err)
	}
}

func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		m[e.Name()] = string(b)
	}
	return m
}

// TestSignerReplaced: with ReplaceSigner, the first digest under the new
// key declares the replacement (version 3, previous key ID, new public
// key), an AuditSigningKeyReplaced event follows, the new public key file
// is written, and the replacement happens once. Verify with the old key
// only fails there naming the new key; with both it passes with a
// warning; the anchor names the new key.
func TestSignerReplaced(t *testing.T) {
	t.Parallel()
	dir, a, o := anchoredTrail(t, 0)
	old := digestsOf(t, dir)
	o.Signer, o.ReplaceSigner, o.ReplaceReason = otherKey, true, "audit-signing.key was missing"
	l := openLog(t, o)
	appendN(t, l, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ds := digestsOf(t, dir)
	r := ds[len(old)]
	if r.Reason != DigestKeyReplaced || r.Version != DigestVersionKeyReplaced || r.KeyID != otherKID() || r.PrevKeyID != testKID() {
		t.Fatalf("first digest under the new key: %+v", r.Digest)
	}
	der, _ := base64.StdEncoding.DecodeString(r.PublicKey)
	if k, err := x509.ParsePKIXPublicKey(der); err != nil || !bytes.Equal(k.(ed25519.PublicKey), otherKey.Public().(ed25519.PublicKey)) {
		t.Fatalf("publicKey of the replacement digest: %v", err)
	}
	for _, d := range ds[len(old)+1:] {
		if d.Version != DigestVersion || d.PrevKeyID != "" || d.PublicKey != "" {
			t.Errorf("digest %d carries replacement fields: %+v", d.DigestSeq, d.Digest)
		}
	}
	evs := eventsNamed(t, dir, EventSigningKeyReplaced)
	if len(evs) != 1 || !strings.Contains(string(evs[0].Raw), `"previousKeyId":"`+testKID()+`"`) ||
		!strings.Contains(string(evs[0].Raw), `"keyId":"`+otherKID()+`"`) || !strings.Contains(string(evs[0].Raw), "was missing") {
		t.Fatalf("replacement events: %d %v", len(evs), evs)
	}
	if _, err := os.Stat(filepath.Join(dir, "pubkey-"+otherKID()+".pem")); err != nil {
		t.Fatalf("new public key file: %v", err)
	}
	if s, _ := a.get("n"); s.KeyID != otherKID() {
		t.Fatalf("anchor names key %q, want %s", s.KeyID, otherKID())
	}

	// Once: a later Open, with or without the option, replaces nothing.
	for _, replace := range []bool{true, false} {
		o.ReplaceSigner = replace
		l = openLog(t, o)
		l.Close()
	}
	n := 0
	for _, d := range digestsOf(t, dir) {
		if d.Reason == DigestKeyReplaced {
			n++
		}
	}
	if n != 1 || len(eventsNamed(t, dir, EventSigningKeyReplaced)) != 1 {
		t.Fatalf("%d replacement digests after later starts, want 1", n)
	}

	// Verify: the old key only fails where the key changed.
	nr := verifyNode1(t, dir, a, pubKeys()...)
	if len(nr.Problems) != 1 || nr.Problems[0].Kind != ProblemKeyReplaced || nr.Problems[0].Line != len(old)+1 ||
		!strings.Contains(nr.Problems[0].Detail, "by key ID "+otherKID()) || !strings.Contains(nr.Problems[0].Detail, "--public-key") {
		t.Fatalf("verify with the old key only: %+v", nr.Problems)
	}
	// Both keys: OK, with a warning naming the replacement.
	nr = verifyNode1(t, dir, a, bothKeys()...)
	if len(nr.Problems) != 0 {
		t.Fatalf("verify with both keys: %+v", nr.Problems)
	}
	w := strings.Join(nr.Warnings, "\n")
	if !strings.Contains(w, "the signing key was replaced at") || !strings.Contains(w, testKID()) || !strings.Contains(w, otherKID()) {
		t.Fatalf("warnings: %s", w)
	}
	if strings.Contains(w, "crashed") {
		t.Fatalf("the replacement reads as a crash: %s", w)
	}
	// The new key only: the digests before the replacement do not verify.
	if nr := verifyNode1(t, dir, a, otherKey.Public().(ed25519.PublicKey)); len(nr.Problems) == 0 {
		t.Fatal("verify with the new key only passed")
	}
}

// TestSignerReplacedWithTruncation: a trail cut at its end, whose key is
// lost too. The replacement digest comes first (restating the previous
// coverage), then the accepted truncation; the trail verifies with both
// keys and the anchor.
func TestSignerReplacedWithTruncation(t *testing.T) {
	t.Parallel()
	dir, a, o := anchoredTrail(t, 0)
	cutTail(t, dir, 7)
	o.Signer = otherKey
	if _, err := Open(o); !errors.Is(err, ErrSignerChanged) {
		t.Fatalf("Open = %v, want ErrSignerChanged first", err)
	}
	o.ReplaceSigner = true
	if _, err := Open(o); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Open with ReplaceSigner = %v, want ErrTruncated", err)
	}
	o.AcceptTruncation = true
	l := openLog(t, o)
	appendN(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, d := range digestsOf(t, dir) {
		if d.KeyID == otherKID() {
			reasons = append(reasons, d.Reason)
		}
	}
	if len(reasons) < 3 || !slices.Equal(reasons[:3], []string{DigestKeyReplaced, DigestTruncation, DigestStart}) {
		t.Fatalf("digests under the new key: %v", reasons)
	}
	nr := verifyNode1(t, dir, a, bothKeys()...)
	if len(nr.Problems) != 0 {
		t.Fatalf("verify: %+v", nr.Problems)
	}
	w := strings.Join(nr.Warnings, "\n")
	if !strings.Contains(w, "truncation accepted") || !strings.Contains(w, "the signing key was replaced") {
		t.Fatalf("warnings: %s", w)
	}
}

// appendDigest appends to node "n"'s digest file a digest chained to the
// last one, changed by f and signed with k: what a node that silently
// changed its key wrote, or what someone holding a key could forge.
func appendDigest(t *testing.T, dir string, k ed25519.PrivateKey, f func(d *Digest)) {
	t.Helper()
	ds := digestsOf(t, dir)
	last := ds[len(ds)-1]
	d := last.Digest
	d.DigestSeq++
	d.Time = time.Now().UTC().Format(time.RFC3339Nano)
	d.Reason, d.FirstSeq = DigestStart, 0
	d.PrevDigest = last.payloadHash.String()
	d.PrevSignature = base64.StdEncoding.EncodeToString(last.sig)
	d.KeyID = KeyID(k.Public().(ed25519.PublicKey))
	if f != nil {
		f(&d)
	}
	line, _, _, err := signDigest(k, &d)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(filepath.Join(dir, digestName("n")), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Write(line); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyKeyChanges: key changes Verify must tell apart.
func TestVerifyKeyChanges(t *testing.T) {
	t.Parallel()
	pubOf := func(k ed25519.PrivateKey) string {
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		return base64.StdEncoding.EncodeToString(der)
	}
	tests := []struct {
		name string
		f    func(d *Digest)
		keys []ed25519.PublicKey
		// kind is the problem's kind ("" for none); text is in the
		// problem, or in the warnings when kind is "".
		kind, text string
	}{
		{name: "fail/silent-change-old-key-trusted", keys: pubKeys(), kind: ProblemDigestSignature, text: "no signing-key-replaced digest records a change of key"},
		{name: "ok/silent-change-both-trusted", keys: bothKeys(), text: "no signing-key-replaced digest records the change"},
		{name: "fail/replacement-carries-another-public-key", keys: bothKeys(), kind: ProblemDigestMalformed, text: "carries a publicKey that is not key",
			f: func(d *Digest) {
				d.Reason, d.Version, d.PrevKeyID, d.PublicKey = DigestKeyReplaced, DigestVersionKeyReplaced, testKID(), pubOf(testKey)
			}},
		{name: "fail/replacement-names-another-previous-key", keys: bothKeys(), kind: ProblemDigestMalformed, text: "says it replaces key",
			f: func(d *Digest) {
				d.Reason, d.Version, d.PrevKeyID, d.PublicKey = DigestKeyReplaced, DigestVersionKeyReplaced, "0000000000000000", pubOf(otherKey)
			}},
		{name: "fail/replacement-fields-on-another-reason", keys: bothKeys(), kind: ProblemDigestMalformed, text: "carries signing-key replacement fields",
			f: func(d *Digest) {
				d.Version, d.PrevKeyID, d.PublicKey = DigestVersionKeyReplaced, testKID(), pubOf(otherKey)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, _, _ := anchoredTrail(t, 0)
			appendDigest(t, dir, otherKey, tc.f)
			nr := verifyNode1(t, dir, nil, tc.keys...)
			if tc.kind == "" {
				if len(nr.Problems) != 0 || !strings.Contains(strings.Join(nr.Warnings, "\n"), tc.text) {
					t.Fatalf("problems %+v, warnings %q", nr.Problems, nr.Warnings)
				}
				return
			}
			if len(nr.Problems) != 1 || nr.Problems[0].Kind != tc.kind || !strings.Contains(nr.Problems[0].Detail, tc.text) {
				t.Fatalf("problems %+v, want %s %q", nr.Problems, tc.kind, tc.text)
			}
		})
	}
}

// TestLastSigner reads the key of the latest digest from the end of a
// digest file, past torn and malformed lines, in a file longer than the
// tail it reads first, and falls back to the whole file.
func TestLastSigner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if ts, err := LastSigner(dir, "n", nil, nil); err != nil || ts.Signed {
		t.Fatalf("no trail: %+v %v", ts, err)
	}
	o := testOptions(dir, "n")
	l := openLog(t, o)
	l.Close()
	p := filepath.Join(dir, digestName("n"))
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("not a digest\n{\"digest\":"))
	f.Close()
	ts, err := LastSigner(dir, "n", nil, nil)
	if err != nil || !ts.Signed || ts.KeyID != testKID() || ts.DigestSeq != 2 {
		t.Fatalf("after a malformed and a torn line: %+v %v", ts, err)
	}
	// A line naming the key the caller holds but not signed by it (what
	// whoever can write the directory can append) is skipped.
	f, _ = os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("\n"))
	f.Close()
	appendDigest(t, dir, otherKey, nil)
	if ts, err := LastSigner(dir, "n", nil, nil); err != nil || ts.KeyID != otherKID() || ts.DigestSeq != 3 {
		t.Fatalf("appended digest: %+v %v", ts, err)
	}
	if ts, err := LastSigner(dir, "n", nil, otherKey.Public().(ed25519.PublicKey)); err != nil || ts.KeyID != otherKID() || ts.DigestSeq != 3 {
		t.Fatalf("appended digest, with its key: %+v %v", ts, err)
	}
	forged := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	if ts, err := LastSigner(dir, "n", nil, forged.Public().(ed25519.PublicKey)); err != nil || ts.KeyID != otherKID() {
		t.Fatalf("with an unrelated key: %+v %v", ts, err)
	}
	appendDigest(t, dir, forged, func(d *Digest) { d.KeyID = otherKID() }) // names otherKey, signed by another
	if ts, err := LastSigner(dir, "n", nil, otherKey.Public().(ed25519.PublicKey)); err != nil || ts.KeyID != otherKID() || ts.DigestSeq != 3 {
		t.Fatalf("forged digest naming the held key: %+v %v", ts, err)
	}
	if ts, err := LastSigner(dir, "n", nil, testKey.Public().(ed25519.PublicKey)); err != nil || ts.DigestSeq != 4 {
		t.Fatalf("forged digest, holding another key: %+v %v", ts, err)
	}
	// Past the tail: the end of the file holds no digest.
	f, _ = os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(bytes.Repeat([]byte("x\n"), tailBytes))
	f.Close()
	if ts, err := LastSigner(dir, "n", nil, otherKey.Public().(ed25519.PublicKey)); err != nil || ts.KeyID != otherKID() || ts.DigestSeq != 3 {
		t.Fatalf("digests before a long tail of garbage: %+v %v", ts, err)
	}
	// Records whose digests are gone: signed, key unknown.
	os.Remove(p)
	if ts, err := LastSigner(dir, "n", nil, nil); err != nil || !ts.Signed || ts.KeyID != "" || ts.DigestSeq != 0 {
		t.Fatalf("segments without digests: %+v %v", ts, err)
	}
}

// TestLatestSigner: the anchor wins when it names a later digest; an
// older anchor without a key ID leaves the disk's key.
func TestLatestSigner(t *testing.T) {
	t.Parallel()
	now := time.Now()
	disk := TrailSigner{Signed: true, KeyID: "disk", DigestSeq: 5, Time: now}
	tests := []struct {
		name   string
		disk   TrailSigner
		anchor *AnchorState
		want   TrailSigner
	}{
		{name: "ok/none", want: TrailSigner{}},
		{name: "ok/disk-only", disk: disk, want: disk},
		{name: "ok/anchor-behind", disk: disk, anchor: &AnchorState{DigestSeq: 4, KeyID: "anchor"}, want: disk},
		{name: "ok/anchor-equal", disk: disk, anchor: &AnchorState{DigestSeq: 5, KeyID: "anchor"}, want: disk},
		{name: "ok/anchor-ahead", disk: disk, anchor: &AnchorState{DigestSeq: 6, KeyID: "anchor", Time: now},
			want: TrailSigner{Signed: true, KeyID: "anchor", DigestSeq: 6, Time: now}},
		{name: "ok/anchor-ahead-without-key", disk: disk, anchor: &AnchorState{DigestSeq: 6, Time: now},
			want: TrailSigner{Signed: true, KeyID: "disk", DigestSeq: 6, Time: now}},
		{name: "ok/anchor-only-without-key", anchor: &AnchorState{DigestSeq: 6, Time: now},
			want: TrailSigner{Signed: true, DigestSeq: 6, Time: now}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := latestSigner(tc.disk, tc.anchor); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestRunVerifyPublicKeys: --public-key may be repeated.
func TestRunVerifyPublicKeys(t *testing.T) {
	t.Parallel()
	dir, _, o := anchoredTrail(t, 0)
	o.Signer, o.ReplaceSigner = otherKey, true
	o.Anchor = nil
	l := openLog(t, o)
	l.Close()
	keys := t.TempDir()
	var files []string
	for _, k := range bothKeys() {
		b, _ := MarshalPublicKeyPEM(k)
		p := filepath.Join(keys, KeyID(k)+".pem")
		os.WriteFile(p, b, 0o600)
		files = append(files, p)
	}
	var out, errOut bytes.Buffer
	if err := Run([]string{"verify", "--dir", dir, "--public-key", files[0]}, &out, &errOut); !errors.Is(err, ErrVerifyFailed) ||
		!strings.Contains(out.String(), "key-replaced") {
		t.Fatalf("one key: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := Run([]string{"verify", "--dir", dir, "--public-key", files[0], "--public-key", files[1]}, &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "OK") || !strings.Contains(out.String(), "the signing key was replaced") {
		t.Fatalf("both keys: %v\n%s", err, out.String())
	}
}
