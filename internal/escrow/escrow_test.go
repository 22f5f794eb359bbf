package escrow

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/rootkey"
)

func newKeys(t testing.TB, n int) []rootkey.Key {
	t.Helper()
	keys := make([]rootkey.Key, n)
	for i := range keys {
		k := make([]byte, KeySize)
		rand.Read(k)
		keys[i] = rootkey.Key{ID: rootkey.ID(k), Secret: k}
	}
	return keys
}

func split(t testing.TB, keys []rootkey.Key, n, k int) []*Share {
	t.Helper()
	shares, err := Split(rand.Reader, keys, n, k)
	if err != nil {
		t.Fatal(err)
	}
	return shares
}

// reparse runs shares through their text files.
func reparse(t testing.TB, shares []*Share) []*Share {
	t.Helper()
	out := make([]*Share, len(shares))
	for i, s := range shares {
		p, err := Parse(s.Marshal())
		if err != nil {
			t.Fatalf("share %d: %v", s.Index, err)
		}
		out[i] = p
	}
	return out
}

func sameKeys(a, b []rootkey.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || !bytes.Equal(a[i].Secret, b[i].Secret) {
			return false
		}
	}
	return true
}

func TestRecoverEverySubset(t *testing.T) {
	t.Parallel()
	for _, p := range []struct{ keys, n, k int }{{1, 2, 2}, {1, 5, 3}, {3, 4, 2}, {2, 6, 6}} {
		t.Run(fmt.Sprintf("ok/%d-keys-%d-of-%d", p.keys, p.k, p.n), func(t *testing.T) {
			t.Parallel()
			keys := newKeys(t, p.keys)
			shares := reparse(t, split(t, keys, p.n, p.k))
			for mask := 1; mask < 1<<p.n; mask++ {
				var sub []*Share
				for i := range shares {
					if mask>>i&1 == 1 {
						sub = append(sub, shares[i])
					}
				}
				got, err := Recover(sub)
				if len(sub) < p.k {
					if !errors.Is(err, ErrTooFew) || got != nil {
						t.Fatalf("%d of %d shares: %v", len(sub), p.n, err)
					}
					continue
				}
				if err != nil || !sameKeys(got, keys) {
					t.Fatalf("%d of %d shares: rebuilt other keys (%v)", len(sub), p.n, err)
				}
			}
		})
	}
}

// forge returns a copy of s changed by f, with a correct checksum: what an
// adversary holding a share can make.
func forge(t *testing.T, s *Share, f func(*Share)) *Share {
	t.Helper()
	c := *s
	c.Y = bytes.Clone(s.Y)
	c.KeyIDs = append([]string(nil), s.KeyIDs...)
	f(&c)
	p, err := Parse(c.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecoverFail(t *testing.T) {
	t.Parallel()
	keys := newKeys(t, 1)
	a := reparse(t, split(t, keys, 5, 3))
	b := reparse(t, split(t, keys, 5, 3)) // a second escrow of the same key
	other := reparse(t, split(t, newKeys(t, 1), 5, 3))
	for _, tc := range []struct {
		name   string
		shares []*Share
		want   error
		msg    string
	}{
		{"fail/none", nil, ErrTooFew, "none given"},
		{"fail/too-few", a[:2], ErrTooFew, "2 given; any 3 of the 5 shares"},
		{"fail/two-escrows-of-one-key", []*Share{a[0], a[1], b[2]}, ErrMismatch, "is of escrow set"},
		{"fail/two-keys", []*Share{a[0], other[1], a[2]}, ErrMismatch, "is of escrow set"},
		{"fail/duplicate", []*Share{a[0], a[1], a[1]}, ErrDuplicate, "share 2 of escrow set"},
		{"fail/duplicate-only", []*Share{a[0], a[0], a[0]}, ErrDuplicate, "share 1"},
		{"fail/threshold-changed", []*Share{a[0], a[1], forge(t, a[2], func(s *Share) { s.Threshold = 2 })}, ErrMismatch, "disagree"},
		{"fail/ids-changed", []*Share{a[0], a[1], forge(t, a[2], func(s *Share) { s.KeyIDs[0] = "file-000000000000" })}, ErrMismatch, "disagree"},
		{"fail/same-index-differs", []*Share{a[0], a[1], forge(t, a[1], func(s *Share) { s.Y[0] ^= 1 })}, ErrMismatch, "two different shares 2"},
		{"fail/altered", []*Share{a[0], a[1], forge(t, a[2], func(s *Share) { s.Y[7] ^= 0x80 })}, ErrWrongKey, "rebuild another"},
		{"fail/relabelled", []*Share{a[0], a[1], forge(t, a[2], func(s *Share) { s.Index = 4 })}, ErrWrongKey, "rebuild another"},
		{"fail/altered-with-extra", []*Share{a[0], a[1], a[2], forge(t, a[3], func(s *Share) { s.Y[0] ^= 1 })}, ErrWrongKey, "rebuild another"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Recover(tc.shares)
			if !errors.Is(err, tc.want) || got != nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Recover = %v, want %v containing %q", err, tc.want, tc.msg)
			}
			if strings.Contains(err.Error(), fmt.Sprintf("%x", keys[0].Secret[:8])) {
				t.Fatal("the error shows the key")
			}
		})
	}
}

func TestSplitFail(t *testing.T) {
	t.Parallel()
	keys := newKeys(t, 1)
	for _, tc := range []struct {
		name string
		keys []rootkey.Key
		n, k int
		msg  string
	}{
		{"fail/no-keys", nil, 3, 2, "0 root keys"},
		{"fail/threshold-1", keys, 3, 1, "threshold 1"},
		{"fail/threshold-above", keys, 3, 4, "threshold 4 and 3 shares"},
		{"fail/256-shares", keys, 256, 2, "256 shares"},
		{"fail/short-key", []rootkey.Key{{ID: "file-x", Secret: []byte{1}}}, 3, 2, "1 bytes"},
		{"fail/wrong-id", []rootkey.Key{{ID: "file-000000000000", Secret: keys[0].Secret}}, 3, 2, "has another ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Split(rand.Reader, tc.keys, tc.n, tc.k); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Split = %v, want %q", err, tc.msg)
			}
		})
	}
}

// line returns the base64 of a binary share, as a share file.
func line(b []byte) []byte {
	return []byte(linePre + base64.RawURLEncoding.EncodeToString(b) + "\n")
}

// withSum appends a correct checksum to a binary share body.
func withSum(body []byte) []byte {
	return append(bytes.Clone(body), sumOf(body)...)
}

func TestParse(t *testing.T) {
	t.Parallel()
	s := split(t, newKeys(t, 2), 3, 2)[1]
	good := s.Marshal()
	bin := s.marshalBinary()
	body := bin[:len(bin)-sumSize]
	// mut returns the body with byte i set to v, with a correct checksum.
	mut := func(i int, v byte) []byte {
		b := bytes.Clone(body)
		b[i] = v
		return line(withSum(b))
	}
	const kOff = 1 + setSize // threshold, total, index, key count
	flipped := bytes.Clone(bin)
	flipped[len(flipped)-sumSize-1] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"ok/as-written", good, nil, ""},
		{"ok/crlf", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), nil, ""},
		{"ok/no-comments", line(bin), nil, ""},
		{"fail/empty", nil, ErrMalformed, "no share line"},
		{"fail/comments-only", []byte("# hello\n"), ErrMalformed, "no share line"},
		{"fail/two-lines", append(bytes.Clone(good), line(bin)...), ErrMalformed, "more than one"},
		{"fail/other-text", []byte("age1qqqq\n"), ErrMalformed, "not a Trent root key share"},
		{"fail/base64", []byte(linePre + "!!!!\n"), ErrMalformed, "illegal base64"},
		{"fail/base64-padding", []byte(linePre + base64.URLEncoding.EncodeToString(bin) + "\n"), ErrMalformed, "illegal base64"},
		{"fail/checksum", line(flipped), ErrChecksum, ""},
		{"fail/truncated", line(bin[:20]), ErrMalformed, "truncated"},
		{"fail/version", mut(0, 2), ErrMalformed, "version 2"},
		{"fail/threshold-1", mut(kOff, 1), ErrMalformed, "threshold 1 of 3"},
		{"fail/threshold-above", mut(kOff, 4), ErrMalformed, "threshold 4 of 3"},
		{"fail/index-0", mut(kOff+2, 0), ErrMalformed, "index 0 of 3"},
		{"fail/index-above", mut(kOff+2, 4), ErrMalformed, "index 4 of 3"},
		{"fail/no-keys", mut(kOff+3, 0), ErrMalformed, "no root key"},
		{"fail/more-keys", mut(kOff+3, 3), ErrMalformed, ""},
		{"fail/id-colon", mut(kOff+4+1+4, ':'), ErrMalformed, "bad root key ID"},
		{"fail/id-length", mut(kOff+4, 200), ErrMalformed, ""},
		{"fail/share-bytes", line(withSum(body[:len(body)-1])), ErrMalformed, "63 share bytes for 2 root keys"},
		{"fail/too-big", make([]byte, maxShare+1), ErrMalformed, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.data)
			if tc.want == nil {
				if err != nil || !equalHeader(got, s) || got.Index != s.Index || !bytes.Equal(got.Y, s.Y) {
					t.Fatalf("Parse = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || got != nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Parse = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ParseRecipients(strings.NewReader("# custodians\n" + x.Recipient().String() + "\n\n" + pq.Recipient().String() + "\n"))
	if err != nil || len(recs) != 2 {
		t.Fatalf("ParseRecipients = %d, %v", len(recs), err)
	}
	ids, err := ParseIdentities(strings.NewReader(x.String() + "\n" + pq.String() + "\n"))
	if err != nil || len(ids) != 2 {
		t.Fatalf("ParseIdentities = %d, %v", len(ids), err)
	}
	keys := newKeys(t, 1)
	shares := split(t, keys, 3, 2)
	enc := make([][]byte, 2)
	for i, r := range recs {
		if enc[i], err = shares[i].Encrypt(r); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(enc[i], []byte("-----BEGIN AGE ENCRYPTED FILE-----\n")) || !Encrypted(enc[i]) {
			t.Fatalf("share %d is not armored age:\n%s", i+1, enc[i])
		}
		if bytes.Contains(enc[i], []byte(linePre)) {
			t.Fatalf("share %d in the clear", i+1)
		}
	}
	if !bytes.Contains(enc[1], []byte("-----END AGE ENCRYPTED FILE-----")) || len(enc[1]) < 1000 {
		// An ML-KEM-768 ciphertext is 1088 bytes: a hybrid stanza is large.
		t.Fatalf("hybrid share is %d bytes", len(enc[1]))
	}
	t.Run("ok/each-with-its-identity", func(t *testing.T) {
		got := make([]*Share, 2)
		for i, id := range []age.Identity{x, pq} {
			if got[i], err = ReadShare(enc[i], []age.Identity{id}); err != nil {
				t.Fatalf("share %d: %v", i+1, err)
			}
		}
		if k, err := Recover(got); err != nil || !sameKeys(k, keys) {
			t.Fatalf("Recover = %v", err)
		}
	})
	t.Run("ok/identity-file-with-both", func(t *testing.T) {
		for i := range enc {
			if _, err := ReadShare(enc[i], ids); err != nil {
				t.Fatalf("share %d: %v", i+1, err)
			}
		}
	})
	t.Run("ok/plain-share-ignores-identities", func(t *testing.T) {
		if _, err := ReadShare(shares[2].Marshal(), ids); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/wrong-identity", func(t *testing.T) {
		other, _ := age.GenerateX25519Identity()
		otherPQ, _ := age.GenerateHybridIdentity()
		for i := range enc {
			if _, err := ReadShare(enc[i], []age.Identity{other, otherPQ}); !errors.Is(err, ErrNoIdentity) {
				t.Fatalf("share %d: %v", i+1, err)
			}
		}
		// The X25519 identity does not open the share encrypted to the
		// hybrid recipient of another custodian, nor the other way round.
		if _, err := ReadShare(enc[0], []age.Identity{pq}); !errors.Is(err, ErrNoIdentity) {
			t.Fatalf("share 1 with the hybrid identity: %v", err)
		}
		if _, err := ReadShare(enc[1], []age.Identity{x}); !errors.Is(err, ErrNoIdentity) {
			t.Fatalf("share 2 with the X25519 identity: %v", err)
		}
	})
	t.Run("fail/no-identity", func(t *testing.T) {
		if _, err := ReadShare(enc[0], nil); !errors.Is(err, ErrNoIdentity) || !strings.Contains(err.Error(), "no identity file was given") {
			t.Fatal(err)
		}
	})
	t.Run("fail/tampered", func(t *testing.T) {
		// Change one base64 character in the last body line.
		lines := bytes.Split(enc[0], []byte("\n"))
		l := bytes.Clone(lines[len(lines)-3])
		l[0] ^= 'A' ^ 'B'
		if l[0] == lines[len(lines)-3][0] {
			t.Fatal("no change")
		}
		lines[len(lines)-3] = l
		if _, err := ReadShare(bytes.Join(lines, []byte("\n")), []age.Identity{x}); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoIdentity) {
			t.Fatalf("tampered share: %v", err)
		}
	})
	t.Run("fail/bad-recipient", func(t *testing.T) {
		if _, err := ParseRecipients(strings.NewReader(x.String())); err == nil || strings.Contains(err.Error(), x.String()) {
			t.Fatalf("an identity as a recipient: %v", err)
		}
	})
}

func FuzzParse(f *testing.F) {
	keys := newKeys(f, 2)
	shares, _ := Split(rand.Reader, keys, 3, 2)
	f.Add(shares[0].Marshal())
	f.Add(line(shares[1].marshalBinary()))
	f.Add([]byte("# x\n" + linePre + "AQ\n"))
	f.Add([]byte(linePre))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if s != nil || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrChecksum)) {
				t.Fatalf("Parse = %v, %v", s, err)
			}
			return
		}
		again, err := Parse(s.Marshal())
		if err != nil || !equalHeader(s, again) || s.Index != again.Index || !bytes.Equal(s.Y, again.Y) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseBinary(f *testing.F) {
	keys := newKeys(f, 1)
	shares, _ := Split(rand.Reader, keys, 3, 2)
	f.Add(shares[0].marshalBinary())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseBinary(b)
		if err != nil {
			return
		}
		// Only the bytes Marshal writes parse.
		if got := s.marshalBinary(); !bytes.Equal(got, b) {
			t.Fatalf("parseBinary accepted %x, which marshals as %x", b, got)
		}
	})
}

func BenchmarkRecover(b *testing.B) {
	shares := split(b, newKeys(b, 1), 5, 3)
	for b.Loop() {
		Recover(shares[:3])
	}
}
