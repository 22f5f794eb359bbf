package store

import (
	"bytes"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, prefix string
		want         []byte
	}{
		{"ok/simple", "user/", []byte("user0")},
		{"ok/trailing-ff", "a\xff\xff", []byte("b")},
		{"ok/inner-ff", "\xffa", []byte("\xffb")},
		{"fail/empty", "", nil},
		{"fail/all-ff", "\xff\xff", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PrefixEnd(tc.prefix)
			if !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("PrefixEnd(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
			if got == nil {
				return
			}
			// Every string with the prefix sorts below the end, and the
			// end itself does not have the prefix.
			for _, s := range []string{tc.prefix, tc.prefix + "\x00", tc.prefix + "\xff\xff\xff"} {
				if bytes.Compare([]byte(s), got) >= 0 {
					t.Fatalf("%q sorts at or after the end %q", s, got)
				}
			}
			if bytes.HasPrefix(got, []byte(tc.prefix)) {
				t.Fatalf("the end %q has the prefix", got)
			}
		})
	}
}
