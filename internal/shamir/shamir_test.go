package shamir

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// fixed returns a reader yielding b, then failing.
func fixed(b ...byte) io.Reader { return bytes.NewReader(b) }

func TestSplitKnownAnswer(t *testing.T) {
	t.Parallel()
	// Secret {00}, k = 2, coefficient {57}: share x holds {57}·x, so the
	// shares at x = {83} and x = {13} are FIPS-197's worked products.
	shares, err := Split(fixed(0x57), []byte{0x00}, 0x83, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := shares[0x83-1]; got.X != 0x83 || got.Y[0] != 0xc1 {
		t.Errorf("share %02x = %02x, want c1", got.X, got.Y)
	}
	if got := shares[0x13-1]; got.X != 0x13 || got.Y[0] != 0xfe {
		t.Errorf("share %02x = %02x, want fe", got.X, got.Y)
	}
	// Secret {57 00}, k = 3, coefficients {01 02} for byte 0 and {57 00}
	// for byte 1: f0(x) = 57 + x + 02·x², f1(x) = 57·x.
	// f0(1) = 57^01^02 = 54; f0(2) = 57^02^(02·04=08) = 5d;
	// f0(3) = 57^03^(02·05=0a) = 5e. f1(1) = 57, f1(2) = ae,
	// f1(3) = 57·03 = ae^57 = f9.
	shares, err = Split(fixed(0x01, 0x02, 0x57, 0x00), []byte{0x57, 0x00}, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"01:5457", "02:5dae", "03:5ef9"}
	for i, s := range shares {
		if got := fmt.Sprintf("%02x:%x", s.X, s.Y); got != want[i] {
			t.Errorf("share %d = %s, want %s", i, got, want[i])
		}
	}
	if got, err := Combine(shares); err != nil || !bytes.Equal(got, []byte{0x57, 0x00}) {
		t.Errorf("Combine = %x %v", got, err)
	}
}

// subsets calls f with every subset of shares with at least min members.
func subsets(shares []Share, min int, f func([]Share)) {
	for mask := 1; mask < 1<<len(shares); mask++ {
		var sub []Share
		for i := range shares {
			if mask>>i&1 == 1 {
				sub = append(sub, shares[i])
			}
		}
		if len(sub) >= min {
			f(sub)
		}
	}
}

func TestCombineEverySubset(t *testing.T) {
	t.Parallel()
	secret := make([]byte, 32)
	rand.Read(secret)
	for _, p := range []struct{ n, k int }{{2, 2}, {3, 2}, {5, 3}, {7, 4}, {8, 8}} {
		t.Run(fmt.Sprintf("ok/%d-of-%d", p.k, p.n), func(t *testing.T) {
			t.Parallel()
			shares, err := Split(rand.Reader, secret, p.n, p.k)
			if err != nil {
				t.Fatal(err)
			}
			count := 0
			subsets(shares, 1, func(sub []Share) {
				got, err := Combine(sub)
				if err != nil {
					t.Fatal(err)
				}
				if ok := bytes.Equal(got, secret); ok != (len(sub) >= p.k) {
					t.Fatalf("%d of %d shares (k %d): rebuilt the secret: %v", len(sub), p.n, p.k, ok)
				}
				count++
			})
			if count != 1<<p.n-1 {
				t.Fatalf("tried %d subsets", count)
			}
		})
	}
	t.Run("ok/255-of-255", func(t *testing.T) {
		t.Parallel()
		shares, err := Split(rand.Reader, secret, 255, 255)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Combine(shares); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Combine = %v", err)
		}
		if got, _ := Combine(shares[1:]); bytes.Equal(got, secret) {
			t.Fatal("254 of 255 shares rebuilt the secret")
		}
	})
}

// TestSecrecyExact shows that k-1 shares say nothing about the secret, by
// enumeration rather than statistics: for k = 3, over every choice of the
// two random coefficients, every pair of values of shares 3 and 8 occurs
// exactly once, whatever the secret byte. Forcing the top coefficient to be
// non-zero, or a share at x = 0, would fail this.
func TestSecrecyExact(t *testing.T) {
	t.Parallel()
	for _, s := range []byte{0x00, 0x01, 0xa5, 0xff} {
		var seen [65536]int
		for c := range 65536 {
			shares, err := Split(fixed(byte(c), byte(c>>8)), []byte{s}, 8, 3)
			if err != nil {
				t.Fatal(err)
			}
			seen[int(shares[2].Y[0])<<8|int(shares[7].Y[0])]++
		}
		for pair, n := range seen {
			if n != 1 {
				t.Fatalf("secret %02x: share values %04x occur %d times", s, pair, n)
			}
		}
	}
}

// TestSecrecyStatistical draws real randomness: with k = 2 the single
// share's byte is uniform (chi-square over 256 cells) for two secrets
// that differ in every bit.
func TestSecrecyStatistical(t *testing.T) {
	t.Parallel()
	const perCell = 64
	for _, s := range []byte{0x00, 0xff} {
		var hist [256]int
		for range 256 * perCell {
			shares, err := Split(rand.Reader, []byte{s}, 2, 2)
			if err != nil {
				t.Fatal(err)
			}
			hist[shares[0].Y[0]]++
		}
		chi := 0.0
		for _, n := range hist {
			d := float64(n - perCell)
			chi += d * d / perCell
		}
		// 255 degrees of freedom: mean 255, standard deviation 22.6; 400
		// is beyond 6 standard deviations (a false failure about once in
		// a billion runs), and a share that leaked the secret byte would
		// put everything in one cell (chi-square 65280).
		if chi > 400 {
			t.Fatalf("secret %02x: chi-square %.1f over 255 degrees of freedom", s, chi)
		}
	}
}

func TestSplitFail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		secret    []byte
		n, k      int
		random    io.Reader
		wantError string
	}{
		{"fail/k-1", []byte{1}, 3, 1, rand.Reader, "threshold 1"},
		{"fail/k>n", []byte{1}, 3, 4, rand.Reader, "threshold 4 and 3 shares"},
		{"fail/n>255", []byte{1}, 256, 2, rand.Reader, "256 shares"},
		{"fail/empty", nil, 3, 2, rand.Reader, "empty secret"},
		{"fail/random", []byte{1, 2}, 3, 2, iotest.ErrReader(errors.New("no entropy")), "no entropy"},
		{"fail/short-random", []byte{1, 2}, 3, 3, fixed(1, 2, 3), "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Split(tc.random, tc.secret, tc.n, tc.k); err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantError)) {
				t.Fatalf("err = %v, want %q", err, tc.wantError)
			}
		})
	}
}

func TestCombineFail(t *testing.T) {
	t.Parallel()
	shares, err := Split(rand.Reader, []byte("secret"), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		shares []Share
	}{
		{"fail/none", nil},
		{"fail/duplicate", []Share{shares[0], shares[1], shares[0]}},
		{"fail/index-0", []Share{shares[0], {X: 0, Y: shares[1].Y}}},
		{"fail/lengths", []Share{shares[0], {X: 2, Y: shares[1].Y[:5]}}},
		{"fail/empty", []Share{{X: 1}, {X: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Combine(tc.shares); !errors.Is(err, ErrShares) || got != nil {
				t.Fatalf("Combine = %x, %v; want ErrShares", got, err)
			}
		})
	}
}

func BenchmarkSplit32(b *testing.B) {
	secret := make([]byte, 32)
	for b.Loop() {
		Split(rand.Reader, secret, 5, 3)
	}
}

func BenchmarkCombine32(b *testing.B) {
	shares, _ := Split(rand.Reader, make([]byte, 32), 5, 3)
	for b.Loop() {
		Combine(shares[:3])
	}
}

// FuzzSplitCombine: for any secret, coefficients, n and k, the first k
// shares, the last k and all n rebuild the secret, and k-1 shares, whose
// result is unrelated to it, never make Combine fail or panic.
func FuzzSplitCombine(f *testing.F) {
	f.Add([]byte("secret"), []byte("coefficients-of-some-length"), byte(5), byte(3))
	f.Add([]byte{0}, []byte{0, 0, 0, 0}, byte(2), byte(2))
	f.Add(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0x57}, 32*254), byte(255), byte(255))
	f.Fuzz(func(t *testing.T, secret, coef []byte, n, k byte) {
		if len(secret) == 0 || len(secret) > 64 || k < 2 || k > n {
			return
		}
		// Coefficients from the input, repeated to the length Split
		// reads: any bytes, zeros included, must work.
		if len(coef) == 0 {
			coef = []byte{0}
		}
		want := len(secret) * int(k-1)
		random := bytes.Repeat(coef, want/len(coef)+1)[:want]
		shares, err := Split(bytes.NewReader(random), secret, int(n), int(k))
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range [][]Share{shares[:k], shares[int(n)-int(k):], shares} {
			got, err := Combine(set)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("%d of %d shares (k=%d): %x, %v; want %x", len(set), n, k, got, err, secret)
			}
		}
		if _, err := Combine(shares[:k-1]); err != nil {
			t.Fatalf("k-1 shares: %v", err)
		}
	})
}
