package algo

import (
	"crypto/sha3"
	"crypto/subtle"
)

// This file implements ML-DSA verification from a caller-supplied message
// representative μ: FIPS 204 Algorithm 8 (ML-DSA.Verify_internal) with
// line 7 (μ ← H(BytesToBits(tr) ‖ M′, 64)) replaced by the given μ. It is
// written from the FIPS 204 text; it handles only public data (the public
// key, μ and the signature), so it need not be constant time.

const (
	dsaQ = 8380417 // q = 2^23 − 2^13 + 1
	dsaD = 13      // dropped bits of t
	dsaN = 256     // coefficients per polynomial
	// dsaInv256 is 256^−1 mod q (FIPS 204 Algorithm 42, f = 8347681).
	dsaInv256 = 8347681
)

// mldsaParams is one row of FIPS 204 Table 1 plus derived encoding sizes.
type mldsaParams struct {
	k, l, tau, beta, omega int
	gamma1, gamma2         int32
	ctildeLen              int // λ/4 bytes
	zBits                  int // bitlen(2γ1 − 1)
	w1Bits                 int // bitlen((q−1)/(2γ2) − 1)
}

var (
	mldsa44Params = mldsaParams{k: 4, l: 4, tau: 39, beta: 78, omega: 80, gamma1: 1 << 17, gamma2: (dsaQ - 1) / 88, ctildeLen: 32, zBits: 18, w1Bits: 6}
	mldsa65Params = mldsaParams{k: 6, l: 5, tau: 49, beta: 196, omega: 55, gamma1: 1 << 19, gamma2: (dsaQ - 1) / 32, ctildeLen: 48, zBits: 20, w1Bits: 4}
	mldsa87Params = mldsaParams{k: 8, l: 7, tau: 60, beta: 120, omega: 75, gamma1: 1 << 19, gamma2: (dsaQ - 1) / 32, ctildeLen: 64, zBits: 20, w1Bits: 4}
)

func (p *mldsaParams) pkLen() int { return 32 + 320*p.k }

func (p *mldsaParams) sigLen() int { return p.ctildeLen + p.l*32*p.zBits + p.omega + p.k }

// mldsaParamsForPK selects the parameter set by the encoded public key's
// length (1312, 1952 or 2592 bytes), or returns nil.
func mldsaParamsForPK(pk []byte) *mldsaParams {
	for _, p := range []*mldsaParams{&mldsa44Params, &mldsa65Params, &mldsa87Params} {
		if len(pk) == p.pkLen() {
			return p
		}
	}
	return nil
}

type dsaPoly [dsaN]uint32 // coefficients in [0, q)

// dsaZetas[m] = ζ^brv8(m) mod q with ζ = 1753 (FIPS 204 Appendix B).
var dsaZetas = func() (z [dsaN]uint32) {
	var pow [dsaN]uint64
	pow[0] = 1
	for i := 1; i < dsaN; i++ {
		pow[i] = pow[i-1] * 1753 % dsaQ
	}
	for m := 0; m < dsaN; m++ {
		br := 0
		for b := 0; b < 8; b++ {
			br |= (m >> b & 1) << (7 - b)
		}
		z[m] = uint32(pow[br])
	}
	return z
}()

func dsaMul(a, b uint32) uint32 { return uint32(uint64(a) * uint64(b) % dsaQ) }

func dsaAdd(a, b uint32) uint32 {
	r := a + b
	if r >= dsaQ {
		r -= dsaQ
	}
	return r
}

func dsaSub(a, b uint32) uint32 {
	if a >= b {
		return a - b
	}
	return a + dsaQ - b
}

// ntt transforms f in place (FIPS 204 Algorithm 41).
func (f *dsaPoly) ntt() {
	m := 0
	for ln := 128; ln >= 1; ln /= 2 {
		for start := 0; start < dsaN; start += 2 * ln {
			m++
			z := dsaZetas[m]
			for j := start; j < start+ln; j++ {
				t := dsaMul(z, f[j+ln])
				f[j+ln] = dsaSub(f[j], t)
				f[j] = dsaAdd(f[j], t)
			}
		}
	}
}

// invNTT transforms f in place (FIPS 204 Algorithm 42).
func (f *dsaPoly) invNTT() {
	m := dsaN
	for ln := 1; ln < dsaN; ln *= 2 {
		for start := 0; start < dsaN; start += 2 * ln {
			m--
			z := dsaQ - dsaZetas[m] // −ζ^brv(m)
			for j := start; j < start+ln; j++ {
				t := f[j]
				f[j] = dsaAdd(t, f[j+ln])
				f[j+ln] = dsaMul(z, dsaSub(t, f[j+ln]))
			}
		}
	}
	for j := range f {
		f[j] = dsaMul(f[j], dsaInv256)
	}
}

// rejNTTPoly samples a polynomial in the NTT domain from seed with SHAKE128
// rejection sampling (FIPS 204 Algorithms 30 and 14).
func rejNTTPoly(seed []byte, out *dsaPoly) {
	h := sha3.NewSHAKE128()
	h.Write(seed)
	var buf [168 * 5]byte // a multiple of both 3 and the SHAKE128 rate
	j := 0
	for j < dsaN {
		h.Read(buf[:])
		for i := 0; i+3 <= len(buf) && j < dsaN; i += 3 {
			v := uint32(buf[i]) | uint32(buf[i+1])<<8 | uint32(buf[i+2]&0x7f)<<16
			if v < dsaQ {
				out[j] = v
				j++
			}
		}
	}
}

// sampleInBall derives the challenge c with τ coefficients ±1 from c̃
// (FIPS 204 Algorithm 29).
func sampleInBall(ctilde []byte, tau int) (c dsaPoly) {
	h := sha3.NewSHAKE256()
	h.Write(ctilde)
	var s [8]byte
	h.Read(s[:])
	var signs uint64
	for i := 7; i >= 0; i-- {
		signs = signs<<8 | uint64(s[i])
	}
	var b [1]byte
	for i := dsaN - tau; i < dsaN; i++ {
		for {
			h.Read(b[:])
			if int(b[0]) <= i {
				break
			}
		}
		j := int(b[0])
		c[i] = c[j]
		if signs>>(i+tau-dsaN)&1 == 1 {
			c[j] = dsaQ - 1
		} else {
			c[j] = 1
		}
	}
	return c
}

// unpackBits reads 256 little-endian bit fields of width bits from b, which
// must hold exactly 32·bits bytes.
func unpackBits(b []byte, bits int, out *[dsaN]uint32) {
	var acc uint64
	n := 0
	mask := uint64(1)<<bits - 1
	idx := 0
	for i := 0; i < dsaN; i++ {
		for n < bits {
			acc |= uint64(b[idx]) << n
			idx++
			n += 8
		}
		out[i] = uint32(acc & mask)
		acc >>= bits
		n -= bits
	}
}

// hintBitUnpack decodes the hint vector (FIPS 204 Algorithm 21). It
// returns false for a malformed encoding: non-increasing indices, counts
// out of order or above ω, or non-zero padding.
func hintBitUnpack(y []byte, p *mldsaParams, h [][dsaN]uint8) bool {
	index := 0
	for i := 0; i < p.k; i++ {
		end := int(y[p.omega+i])
		if end < index || end > p.omega {
			return false
		}
		first := index
		for index < end {
			if index > first && y[index-1] >= y[index] {
				return false
			}
			h[i][y[index]] = 1
			index++
		}
	}
	for i := index; i < p.omega; i++ {
		if y[i] != 0 {
			return false
		}
	}
	return true
}

// useHint returns the corrected high bits of r (FIPS 204 Algorithms 36, 40).
func useHint(h uint8, r uint32, gamma2 int32) uint32 {
	m := int32((dsaQ - 1) / (2 * gamma2))
	rp := int32(r)
	r0 := rp % (2 * gamma2)
	if r0 > gamma2 {
		r0 -= 2 * gamma2
	}
	var r1 int32
	if rp-r0 == dsaQ-1 {
		r1, r0 = 0, r0-1
	} else {
		r1 = (rp - r0) / (2 * gamma2)
	}
	if h == 1 {
		if r0 > 0 {
			r1 = (r1 + 1) % m
		} else {
			r1 = (r1 - 1 + m) % m
		}
	}
	return uint32(r1)
}

// mldsaVerifyMu reports whether sig is a valid ML-DSA signature for the
// 64-byte message representative mu under the encoded public key pk
// (FIPS 204 Algorithm 8 with μ supplied by the caller). The parameter set
// follows from len(pk); it returns false, never panics, for any pk, mu or
// sig of the wrong length or encoding.
func mldsaVerifyMu(pk, mu, sig []byte) bool {
	p := mldsaParamsForPK(pk)
	if p == nil || len(mu) != 64 || len(sig) != p.sigLen() {
		return false
	}
	rho, t1b := pk[:32], pk[32:]
	ctilde := sig[:p.ctildeLen]
	zb := sig[p.ctildeLen : p.ctildeLen+p.l*32*p.zBits]
	hb := sig[p.ctildeLen+p.l*32*p.zBits:]

	h := make([][dsaN]uint8, p.k)
	if !hintBitUnpack(hb, p, h) {
		return false
	}

	// z: BitUnpack(·, γ1−1, γ1), coefficient = γ1 − field; check ‖z‖∞ < γ1 − β.
	z := make([]dsaPoly, p.l)
	bound := p.gamma1 - int32(p.beta)
	for i := range z {
		var raw [dsaN]uint32
		unpackBits(zb[i*32*p.zBits:(i+1)*32*p.zBits], p.zBits, &raw)
		for j, v := range raw {
			c := p.gamma1 - int32(v)
			if c >= bound || c <= -bound {
				return false
			}
			if c < 0 {
				c += dsaQ
			}
			z[i][j] = uint32(c)
		}
		z[i].ntt()
	}

	c := sampleInBall(ctilde, p.tau)
	c.ntt()

	seed := make([]byte, 34)
	copy(seed, rho)
	var a dsaPoly
	w1 := make([]byte, 0, p.k*32*p.w1Bits)
	for r := 0; r < p.k; r++ {
		// t1[r]·2^d in the NTT domain, times ĉ.
		var t dsaPoly
		var raw [dsaN]uint32
		unpackBits(t1b[r*320:(r+1)*320], 10, &raw)
		for j, v := range raw {
			t[j] = v << dsaD // < 2^23 < q
		}
		t.ntt()
		var w dsaPoly
		for j := range w {
			w[j] = dsaQ - dsaMul(c[j], t[j])
			if w[j] == dsaQ {
				w[j] = 0
			}
		}
		for s := 0; s < p.l; s++ {
			seed[32], seed[33] = byte(s), byte(r)
			rejNTTPoly(seed, &a)
			for j := range w {
				w[j] = dsaAdd(w[j], dsaMul(a[j], z[s][j]))
			}
		}
		w.invNTT()
		// w1Encode: SimpleBitPack of UseHint(h, w′approx) with w1Bits per coefficient.
		var acc uint64
		n := 0
		for j := range w {
			acc |= uint64(useHint(h[r][j], w[j], p.gamma2)) << n
			n += p.w1Bits
			for n >= 8 {
				w1 = append(w1, byte(acc))
				acc >>= 8
				n -= 8
			}
		}
	}

	hs := sha3.NewSHAKE256()
	hs.Write(mu)
	hs.Write(w1)
	got := make([]byte, p.ctildeLen)
	hs.Read(got)
	return subtle.ConstantTimeCompare(got, ctilde) == 1
}
