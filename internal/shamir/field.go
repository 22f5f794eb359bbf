package shamir

// mul returns a·b in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, in constant
// time: every step runs whatever the bits are, and the conditional XORs
// are masks.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= a & -(b & 1)
		// xtime: multiply a by x, reducing by 0x1b when the top bit falls
		// out.
		a = a<<1 ^ 0x1b&-(a>>7)
		b >>= 1
	}
	return p
}

// inv returns the multiplicative inverse of a (a^254, since a^255 = 1 for
// every a != 0), and 0 for 0, in constant time.
func inv(a byte) byte {
	// 254 = 0b11111110: square and multiply over a fixed exponent.
	a2 := mul(a, a)    // a^2
	a4 := mul(a2, a2)  // a^4
	a8 := mul(a4, a4)  // a^8
	a16 := mul(a8, a8) // a^16
	a32 := mul(a16, a16)
	a64 := mul(a32, a32)
	a128 := mul(a64, a64)
	r := mul(a2, a4)
	r = mul(r, a8)
	r = mul(r, a16)
	r = mul(r, a32)
	r = mul(r, a64)
	return mul(r, a128)
}
