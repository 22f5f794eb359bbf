package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// The signing key. An operator verifies digests with a trusted copy of the
// node's public key, so a node that silently made a new key would break
// verification from then on without a word. The key that signed a trail's
// digests is named by its latest digest (and by its anchor in the store);
// Open refuses a signer that is not that key unless the operator says the
// old key is lost (Options.ReplaceSigner), and then records the change: a
// signed DigestKeyReplaced digest, the first under the new key, naming the
// old key's ID and carrying the new public key, and an
// AuditSigningKeyReplaced event.

// ErrSignerChanged is returned by Open when the trail's latest digest was
// signed by another key than Options.Signer and Options.ReplaceSigner is
// not set.
var ErrSignerChanged = errors.New("audit: the trail's digests were signed with another key")

// TrailSigner names the key that signed a trail's latest digest.
type TrailSigner struct {
	// Signed reports whether the trail was ever signed: the node's
	// digest file holds a digest, the store holds its anchor, or the
	// node has segments (a node writes a digest before its first
	// record, so records without digests lost them).
	Signed bool
	// KeyID is the ID of the key that signed the latest digest; "" if
	// it is unknown (the digest file has no digest and the anchor, if
	// any, was saved before anchors named the key).
	KeyID string
	// DigestSeq and Time are the number and time of that digest (zero
	// if only segments are left).
	DigestSeq uint64
	Time      time.Time
}

func (s TrailSigner) String() string {
	switch {
	case s.DigestSeq == 0:
		return "the trail has records but neither digests nor an anchor in the store: they were removed"
	case s.KeyID == "":
		return fmt.Sprintf("digest %d of %s was signed with a key this trail does not name (only the anchor in the store, saved by an older Trent, is left)",
			s.DigestSeq, s.Time.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("digest %d of %s was signed with key %s", s.DigestSeq, s.Time.UTC().Format(time.RFC3339), s.KeyID)
}

// latestSigner combines the latest digest on disk (disk.Signed false if
// there is none) with the anchor (nil if none): the anchor wins when it
// names a later digest, since digests may have been cut from the disk.
func latestSigner(disk TrailSigner, a *AnchorState) TrailSigner {
	if a == nil || (disk.Signed && disk.DigestSeq >= a.DigestSeq) {
		return disk
	}
	s := TrailSigner{Signed: true, KeyID: a.KeyID, DigestSeq: a.DigestSeq, Time: a.Time}
	if s.KeyID == "" {
		s.KeyID = disk.KeyID // an older anchor: the disk's key is the best guess
	}
	return s
}

// LastSigner returns the key that signed the latest digest of node's trail
// in dir, from the end of its digest file and from its anchor in a (nil:
// none). It checks no signature but one: with pub (the key the caller
// holds; nil if none), a digest at the end that names pub's key but whose
// signature does not verify with it is skipped as forged, so that a line
// appended by whoever can write the directory cannot make another key
// pass for the trail's. It tells which key the trail needs, not whether
// the trail is intact (Verify does). It returns an error only if the
// files or the anchor cannot be read.
func LastSigner(dir, node string, a Anchor, pub ed25519.PublicKey) (TrailSigner, error) {
	disk, err := lastDigestOnDisk(filepath.Join(dir, digestName(node)), pub)
	if err != nil {
		return TrailSigner{}, fmt.Errorf("audit: reading the digests of node %q: %w", node, err)
	}
	if !disk.Signed {
		segs, err := listSegments(dir, node)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return TrailSigner{}, fmt.Errorf("audit: %w", err)
		}
		disk.Signed = len(segs[node]) > 0
	}
	var anchor *AnchorState
	if a != nil {
		ctx, cancel := context.WithTimeout(context.Background(), anchorTimeout)
		s, ok, err := a.LoadAnchor(ctx, node)
		cancel()
		if err != nil {
			return TrailSigner{}, fmt.Errorf("audit: reading the anchor of node %q's trail: %w", node, err)
		}
		if ok {
			anchor = &s
		}
	}
	return latestSigner(disk, anchor), nil
}

// tailBytes is how much of the end of a digest file lastDigestOnDisk reads
// first: a digest line is under 1 KiB.
const tailBytes = 64 << 10

// lastDigestOnDisk returns the signer of the last digest of a digest file
// that parses and, if it names pub's key, verifies with pub (Signed false
// if there is none, or no file). It reads the end of the file, and the
// whole file only if the end holds no such digest.
func lastDigestOnDisk(path string, pub ed25519.PublicKey) (TrailSigner, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return TrailSigner{}, nil
	}
	if err != nil {
		return TrailSigner{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return TrailSigner{}, err
	}
	off := max(st.Size()-tailBytes, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return TrailSigner{}, err
	}
	if off > 0 {
		// The first line is partial: start after it.
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			buf = nil
		} else {
			buf = buf[i+1:]
		}
	}
	keep := func(d *parsedDigest) bool {
		return pub == nil || d.KeyID != KeyID(pub) || d.verify(map[string]ed25519.PublicKey{d.KeyID: pub}) == nil
	}
	if d, ok := lastDigestIn(buf, keep); ok {
		return signerOf(&d), nil
	}
	if off == 0 {
		return TrailSigner{}, nil
	}
	ds, err := readDigests(path)
	if err != nil {
		return TrailSigner{}, err
	}
	for i := len(ds) - 1; i >= 0; i-- {
		if keep(&ds[i]) {
			return signerOf(&ds[i]), nil
		}
	}
	return TrailSigner{}, nil
}

// lastDigestIn returns the last complete line of buf that parses as a
// digest that keep accepts.
func lastDigestIn(buf []byte, keep func(*parsedDigest) bool) (parsedDigest, bool) {
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i] // an unterminated last line is torn
	} else {
		return parsedDigest{}, false
	}
	for len(buf) > 0 {
		line := buf
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			line, buf = buf[i+1:], buf[:i]
		} else {
			buf = nil
		}
		if d, err := parseDigest(line); err == nil && keep(&d) {
			return d, true
		}
	}
	return parsedDigest{}, false
}

func signerOf(d *parsedDigest) TrailSigner {
	s := TrailSigner{Signed: true, KeyID: d.KeyID, DigestSeq: d.DigestSeq}
	s.Time, _ = time.Parse(time.RFC3339Nano, d.Time)
	return s
}

// replaceSigner writes the DigestKeyReplaced digest, the first signed by
// the new key. On a trail whose records end before its digests' coverage
// (a truncation about to be accepted), it restates the previous digest's
// coverage, so that the truncation digest after it declares the hole as
// it would have. Writer only (or Open, before the writer starts).
func (l *Log) replaceSigner(old TrailSigner) error {
	der, err := x509.MarshalPKIXPublicKey(l.pub)
	if err != nil {
		return err
	}
	l.log.Error("audit: the trail's signing key was replaced by the operator; digests are signed by the new key from now on",
		"node", l.opts.Node, "previousKeyId", old.KeyID, "keyId", l.kid,
		"publicKeyFile", filepath.Join(l.opts.Dir, "pubkey-"+l.kid+".pem"), "reason", l.opts.ReplaceReason)
	return l.digest(DigestKeyReplaced, func(d *Digest) {
		d.Version = DigestVersionKeyReplaced
		d.PrevKeyID = old.KeyID
		d.PublicKey = base64.StdEncoding.EncodeToString(der)
		if l.seq < l.dLast {
			d.FirstSeq, d.LastSeq, d.LastHash = 0, l.dLast, l.dLastHash
		}
	})
}

// recordReplacement writes the AuditSigningKeyReplaced event. Writer only
// (or Open, before the writer starts).
func (l *Log) recordReplacement(old TrailSigner) error {
	der, err := x509.MarshalPKIXPublicKey(l.pub)
	if err != nil {
		return err
	}
	details := map[string]any{
		"previousKeyId": old.KeyID, "keyId": l.kid, "publicKey": base64.StdEncoding.EncodeToString(der),
		"publicKeyFile": "pubkey-" + l.kid + ".pem", "previousDigestSeq": old.DigestSeq,
	}
	if !old.Time.IsZero() {
		details["previousDigestTime"] = old.Time.UTC().Format(time.RFC3339)
	}
	if l.opts.ReplaceReason != "" {
		details["reason"] = l.opts.ReplaceReason
	}
	return l.writeSystemEvent(EventSigningKeyReplaced, details)
}
