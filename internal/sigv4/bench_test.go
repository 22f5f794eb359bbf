package sigv4

import (
	"context"
	"testing"
)

func benchRequest(b *testing.B) (*Verifier, []byte, func() error) {
	v := testVerifier(testNow)
	body := []byte(testBody)
	r := newKMSRequest(b, "Encrypt", testBody)
	sdkSign(b, r, body, testAKID, testSecret, "", "us-east-1", "kms", testNow)
	ctx := context.Background()
	return v, body, func() error { _, err := v.Verify(ctx, r, body); return err }
}

// BenchmarkVerify measures Verify with the signing key cached (the steady state).
func BenchmarkVerify(b *testing.B) {
	_, _, verify := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyUncached derives the signing key on every call.
func BenchmarkVerifyUncached(b *testing.B) {
	v, _, verify := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		v.cache.m = nil
		if err := verify(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	s := &Signer{AccessKeyID: testAKID, Secret: []byte(testSecret), Region: "us-east-1", Service: "kms"}
	body := []byte(testBody)
	r := newKMSRequest(b, "Encrypt", testBody)
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(r, body, testNow)
	}
}
