package shamir

import "testing"

// refMul multiplies as FIPS-197 section 4.2 defines it, independently of
// mul: a carry-less product of degree up to 14, then reduction modulo
// 0x11b by long division.
func refMul(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for d := 14; d >= 8; d-- {
		if p>>d&1 == 1 {
			p ^= 0x11b << (d - 8)
		}
	}
	return byte(p)
}

func TestMulFIPS197(t *testing.T) {
	t.Parallel()
	// The worked products of FIPS-197 sections 4.2 and 4.2.1.
	for _, tc := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xc1},
		{0x57, 0x13, 0xfe},
		{0x57, 0x02, 0xae},
		{0x57, 0x04, 0x47},
		{0x57, 0x08, 0x8e},
		{0x57, 0x10, 0x07},
	} {
		if got := mul(tc.a, tc.b); got != tc.want {
			t.Errorf("{%02x}·{%02x} = {%02x}, want {%02x}", tc.a, tc.b, got, tc.want)
		}
		if got := refMul(tc.a, tc.b); got != tc.want {
			t.Errorf("reference {%02x}·{%02x} = {%02x}, want {%02x}", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestMulAll(t *testing.T) {
	t.Parallel()
	for a := range 256 {
		for b := range 256 {
			x, y := byte(a), byte(b)
			if got, want := mul(x, y), refMul(x, y); got != want {
				t.Fatalf("{%02x}·{%02x} = {%02x}, reference {%02x}", x, y, got, want)
			}
			if mul(x, y) != mul(y, x) {
				t.Fatalf("{%02x}·{%02x} does not commute", x, y)
			}
		}
	}
}

func TestInv(t *testing.T) {
	t.Parallel()
	// FIPS-197 section 5.1.1: the S-box starts from the inverse, and its
	// example maps {53} through {ca}.
	if got := inv(0x53); got != 0xca {
		t.Fatalf("inv({53}) = {%02x}, want {ca}", got)
	}
	if inv(0) != 0 {
		t.Fatal("inv(0) != 0")
	}
	for a := 1; a < 256; a++ {
		if p := mul(byte(a), inv(byte(a))); p != 1 {
			t.Fatalf("{%02x}·inv = {%02x}", a, p)
		}
	}
}
