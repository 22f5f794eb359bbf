package shamir

import (
	"errors"
	"fmt"
	"io"
)

// Share is one share of a secret: the values at X of the polynomials of
// every byte of the secret.
type Share struct {
	// X is the share's index, 1 to 255.
	X byte
	// Y holds one byte per byte of the secret.
	Y []byte
}

// ErrShares is returned (wrapped) by Combine for a set of shares that
// cannot be combined: none, an index 0, two with one index, or lengths
// that differ.
var ErrShares = errors.New("shamir: invalid set of shares")

// Split divides secret into n shares, any k of which rebuild it, drawing
// the polynomials' coefficients from random. It requires 2 <= k <= n <=
// 255 and a non-empty secret; share i (0-based) has X = i+1. An error from
// random is returned as it is, wrapped.
func Split(random io.Reader, secret []byte, n, k int) ([]Share, error) {
	if k < 2 || k > n || n > 255 {
		return nil, fmt.Errorf("shamir: want 2 <= threshold <= shares <= 255, have threshold %d and %d shares", k, n)
	}
	if len(secret) == 0 {
		return nil, errors.New("shamir: empty secret")
	}
	// coef[j*(k-1)+c] is coefficient c+1 of byte j's polynomial.
	coef := make([]byte, len(secret)*(k-1))
	defer clear(coef)
	if _, err := io.ReadFull(random, coef); err != nil {
		return nil, fmt.Errorf("shamir: random: %w", err)
	}
	shares := make([]Share, n)
	for i := range shares {
		x := byte(i + 1)
		y := make([]byte, len(secret))
		for j, s := range secret {
			c := coef[j*(k-1) : (j+1)*(k-1)]
			// Horner, from the highest coefficient down to the secret.
			var v byte
			for d := len(c) - 1; d >= 0; d-- {
				v = mul(v, x) ^ c[d]
			}
			y[j] = mul(v, x) ^ s
		}
		shares[i] = Share{X: x, Y: y}
	}
	return shares, nil
}

// Combine rebuilds the secret from shares by Lagrange interpolation at 0.
// Given k or more shares of one Split, it returns the secret; given fewer,
// or shares of different splits, it returns bytes unrelated to the secret
// without an error (the shares carry nothing to check against: callers
// check the result). It returns an error wrapping ErrShares if shares is
// empty, an X is 0, two shares have the same X, or their lengths differ.
func Combine(shares []Share) ([]byte, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: no shares", ErrShares)
	}
	n := len(shares[0].Y)
	if n == 0 {
		return nil, fmt.Errorf("%w: empty share", ErrShares)
	}
	var seen [256]bool
	for _, s := range shares {
		if s.X == 0 {
			return nil, fmt.Errorf("%w: share index 0", ErrShares)
		}
		if seen[s.X] {
			return nil, fmt.Errorf("%w: two shares with index %d", ErrShares, s.X)
		}
		seen[s.X] = true
		if len(s.Y) != n {
			return nil, fmt.Errorf("%w: shares of different lengths", ErrShares)
		}
	}
	secret := make([]byte, n)
	for i, si := range shares {
		// The Lagrange basis polynomial of share i at 0:
		// prod over j != i of x_j / (x_j - x_i); subtraction is XOR.
		num, den := byte(1), byte(1)
		for j, sj := range shares {
			if j != i {
				num = mul(num, sj.X)
				den = mul(den, sj.X^si.X)
			}
		}
		l := mul(num, inv(den))
		for b := range secret {
			secret[b] ^= mul(l, si.Y[b])
		}
	}
	return secret, nil
}
