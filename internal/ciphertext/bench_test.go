package ciphertext

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"testing"
)

var benchContext = map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket/object", "purpose": "benchmark"}

func BenchmarkSeal(b *testing.B) {
	for _, size := range []int{1024, 4096} {
		pt := make([]byte, size)
		b.Run(fmt.Sprintf("func/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := Seal(rand.Reader, testMaterial, testKeyID, testMaterialID, pt, benchContext); err != nil {
					b.Fatal(err)
				}
			}
		})
		k, err := NewKey(testMaterial, testKeyID, testMaterialID)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("key/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := k.Seal(rand.Reader, pt, benchContext); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, size := range []int{1024, 4096} {
		blob := mustSeal(b, make([]byte, size), benchContext)
		b.Run(fmt.Sprintf("parse+open/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := parseOpen(testMaterial, blob, benchContext); err != nil {
					b.Fatal(err)
				}
			}
		})
		bl, err := Parse(blob)
		if err != nil {
			b.Fatal(err)
		}
		k, err := NewKey(testMaterial, testKeyID, testMaterialID)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("key/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := k.Open(bl, benchContext); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	blob := mustSeal(b, make([]byte, 1024), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(blob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeContext(b *testing.B) {
	for _, n := range []int{0, 2, 8} {
		ec := map[string]string{}
		for i := range n {
			ec[fmt.Sprintf("context-key-%d", i)] = fmt.Sprintf("some context value %d", i)
		}
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				buf = AppendContext(buf[:0], ec)
			}
		})
		b.Run(fmt.Sprintf("alloc/pairs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = EncodeContext(ec)
			}
		})
	}
}

// BenchmarkDerive compares the KDF as built (stack pads, sha256.Sum256)
// with the alternative the brief suggested: an HMAC keyed once per material
// and cloned per message.
func BenchmarkDerive(b *testing.B) {
	h := mustSeal(b, nil, nil)[:HeaderSize]
	b.Run("pads", func(b *testing.B) {
		var k Key
		setPads(&k.ipad, &k.opad, testMaterial)
		var out [32]byte
		b.ReportAllocs()
		for b.Loop() {
			k.derive(&out, h)
		}
	})
	b.Run("hmac_clone", func(b *testing.B) {
		base := hmac.New(sha256.New, testMaterial).(hash.Cloner)
		var msg [kdfMsgLen]byte
		binary.BigEndian.PutUint32(msg[0:], 1)
		copy(msg[4:], kdfLabel)
		copy(msg[5+len(kdfLabel):], h)
		binary.BigEndian.PutUint32(msg[kdfMsgLen-4:], 256)
		var out [32]byte
		b.ReportAllocs()
		for b.Loop() {
			c, err := base.Clone()
			if err != nil {
				b.Fatal(err)
			}
			c.Write(msg[:])
			c.Sum(out[:0])
		}
	})
}
