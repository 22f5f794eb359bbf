package bench

import (
	"math/rand/v2"
	"testing"
)

func TestParseMix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // Mix.String(), or "" for an error
	}{
		{"ok/single", "Encrypt", "Encrypt=1"},
		{"ok/weighted", "Encrypt=5,Decrypt=5,GenerateDataKey=1", "Encrypt=5,Decrypt=5,GenerateDataKey=1"},
		{"ok/spaces-and-trailing-comma", " Sign = 2 , Verify=3,", "Sign=2,Verify=3"},
		{"ok/all-ops", "Encrypt,Decrypt,GenerateDataKey,ReEncrypt,Sign,Verify,GenerateMac,DescribeKey,CreateKey",
			"Encrypt=1,Decrypt=1,GenerateDataKey=1,ReEncrypt=1,Sign=1,Verify=1,GenerateMac=1,DescribeKey=1,CreateKey=1"},
		{"fail/empty", "", ""},
		{"fail/unknown-op", "Encrypt=1,Frobnicate=2", ""},
		{"fail/lowercase", "encrypt", ""},
		{"fail/zero-weight", "Encrypt=0", ""},
		{"fail/negative-weight", "Encrypt=-1", ""},
		{"fail/non-numeric-weight", "Encrypt=x", ""},
		{"fail/duplicate", "Encrypt=1,Encrypt=2", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseMix(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParseMix(%q) = %v, want error", tc.in, m)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMix(%q): %v", tc.in, err)
			}
			if m.String() != tc.want {
				t.Fatalf("ParseMix(%q) = %s, want %s", tc.in, m, tc.want)
			}
		})
	}
}

// TestPickerProportions checks that the picker follows the weights.
func TestPickerProportions(t *testing.T) {
	t.Parallel()
	m, err := ParseMix("Encrypt=5,Decrypt=3,GenerateDataKey=2")
	if err != nil {
		t.Fatal(err)
	}
	p := newPicker(m)
	r := rand.New(rand.NewPCG(1, 1))
	counts := make([]int, len(m))
	const n = 100000
	for i := 0; i < n; i++ {
		counts[p.pick(r.IntN(p.total))]++
	}
	for i, w := range m {
		want := n * w.Weight / p.total
		if d := counts[i] - want; d > n/100 || d < -n/100 {
			t.Errorf("%s picked %d times, want about %d", w.Op, counts[i], want)
		}
	}
}

func TestErrorName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		hdr    string
		body   string
		want   outcome
	}{
		{"ok/plain", 400, "", `{"__type":"NotFoundException","message":"x"}`, "NotFoundException"},
		{"ok/namespaced", 400, "", `{"__type":"com.amazon.coral.service#UnrecognizedClientException"}`, "UnrecognizedClientException"},
		{"ok/header", 400, "ThrottlingException:http://internal.amazon.com/", `not json`, "ThrottlingException"},
		{"ok/no-name", 502, "", `<html>bad gateway</html>`, "HTTP502"},
	}
	for _, tc := range tests {
		if got := errorName(tc.status, tc.hdr, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: errorName = %q, want %q", tc.name, got, tc.want)
		}
	}
}
