package arn

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want ARN
		ok   bool
	}{
		{"ok/key", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			ARN{"aws", "kms", "eu-west-1", "111122223333", "key/1234abcd-12ab-34cd-56ef-1234567890ab"}, true},
		{"ok/user-with-path", "arn:aws-cn:iam::111122223333:user/admins/boss",
			ARN{"aws-cn", "iam", "", "111122223333", "user/admins/boss"}, true},
		{"ok/session", "arn:aws:sts::111122223333:assumed-role/app/s1",
			ARN{"aws", "sts", "", "111122223333", "assumed-role/app/s1"}, true},
		{"ok/resource-with-colons", "arn:aws:logs:us-east-1:111122223333:log-group:g:*",
			ARN{"aws", "logs", "us-east-1", "111122223333", "log-group:g:*"}, true},
		{"ok/all-empty", "arn:::::", ARN{}, true},
		{"fail/five-fields", "arn:aws:kms:eu-west-1:111122223333", ARN{}, false},
		{"fail/not-arn", "urn:aws:kms:eu-west-1:111122223333:key/x", ARN{}, false},
		{"fail/case", "ARN:aws:kms:eu-west-1:111122223333:key/x", ARN{}, false},
		{"fail/empty", "", ARN{}, false},
		{"fail/key-id", "1234abcd-12ab-34cd-56ef-1234567890ab", ARN{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Parse(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			if ok && got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		i    int
		want string
	}{
		{"ok/region", "arn:aws:kms:eu-west-1:111122223333:key/x", 3, "eu-west-1"},
		{"ok/account", "arn:aws:kms:eu-west-1:111122223333:key/x", 4, "111122223333"},
		{"ok/resource-with-colons", "arn:aws:logs:r:a:log-group:g", 5, "log-group:g"},
		{"ok/cut-short", "arn:aws:kms:eu-west-1", 3, "eu-west-1"},
		{"ok/no-prefix-check", "x:y:z:r", 3, "r"},
		{"fail/too-few-colons", "arn:aws:kms", 3, ""},
		{"fail/negative", "arn:aws:kms:r:a:k", -1, ""},
		{"fail/past-the-end", "arn:aws:kms:r:a:k", 6, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Field(tc.in, tc.i); got != tc.want {
				t.Fatalf("Field(%q, %d) = %q, want %q", tc.in, tc.i, got, tc.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	f, ok := Split("arn:aws:kms:*:*:key/*")
	if !ok || f != [6]string{"arn", "aws", "kms", "*", "*", "key/*"} {
		t.Fatalf("Split = %q, %v", f, ok)
	}
	if f, ok := Split("*:aws:kms:r:a:k"); !ok || f[0] != "*" {
		t.Fatalf("Split of a pattern = %q, %v", f, ok)
	}
	if _, ok := Split("arn:aws:kms:r:a"); ok {
		t.Fatal("Split of five fields reported ok")
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"arn:aws:iam::111122223333:role/app":          "app",
		"arn:aws:iam::111122223333:user/admins/boss":  "boss",
		"arn:aws:sts::111122223333:assumed-role/a/s1": "s1",
		"arn:aws:iam::111122223333:root":              "arn:aws:iam::111122223333:root",
		"":                                            "",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPartitionOf(t *testing.T) {
	t.Parallel()
	for region, want := range map[string]string{
		"eu-west-1": "aws", "us-east-1": "aws", "cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "": "aws",
	} {
		if got := PartitionOf(region); got != want {
			t.Errorf("PartitionOf(%q) = %q, want %q", region, got, want)
		}
	}
}

// TestNoAllocations: the split runs on the request path.
func TestNoAllocations(t *testing.T) {
	s := "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	var sink string
	if n := testing.AllocsPerRun(100, func() {
		a, _ := Parse(s)
		f, _ := Split(s)
		sink = a.Account
		sink = f[3]
		sink = Field(s, 3)
		sink = Name(s)
	}); n != 0 {
		t.Fatalf("%v allocations per split, want 0", n)
	}
	_ = sink
}

// FuzzParse: every function agrees with strings.SplitN, the allocating
// way ARNs used to be split, and Parse round-trips.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:iam::111122223333:user/admins/boss",
		"arn:aws:logs:r:a:log-group:g:*",
		"arn:aws:kms:eu-west-1",
		"::::::",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts := strings.SplitN(s, ":", 6)
		a, ok := Parse(s)
		if ok != (len(parts) == 6 && parts[0] == "arn") {
			t.Fatalf("Parse(%q) ok = %v, SplitN gives %q", s, ok, parts)
		}
		if ok {
			if (a != ARN{parts[1], parts[2], parts[3], parts[4], parts[5]}) {
				t.Fatalf("Parse(%q) = %+v, SplitN gives %q", s, a, parts)
			}
			if a.String() != s {
				t.Fatalf("Parse(%q).String() = %q", s, a.String())
			}
		}
		fs, ok := Split(s)
		if ok != (len(parts) == 6) {
			t.Fatalf("Split(%q) ok = %v, SplitN gives %q", s, ok, parts)
		}
		for i := -1; i <= 6; i++ {
			want := ""
			if i >= 0 && i < len(parts) {
				want = parts[i]
			}
			if got := Field(s, i); got != want {
				t.Fatalf("Field(%q, %d) = %q, want %q", s, i, got, want)
			}
			if ok && i >= 0 && i < 6 && fs[i] != want {
				t.Fatalf("Split(%q)[%d] = %q, want %q", s, i, fs[i], want)
			}
		}
	})
}

var sinkARN ARN

func BenchmarkParse(b *testing.B) {
	s := "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkARN, _ = Parse(s)
		}
	})
	b.Run("Field", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkARN.Region = Field(s, 3)
		}
	})
	// What internal/iam and internal/policy did before: SplitN allocates
	// the slice of fields.
	b.Run("SplitN", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f := strings.SplitN(s, ":", 6)
			sinkARN.Account = f[4]
		}
	})
}

func TestValidAccountID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"111122223333": true, "000000000000": true,
		"11112222333": false, "1111222233334": false, "11112222333a": false, "": false,
		"１１１１２２２２３３３３": false, // full-width digits
	} {
		if got := ValidAccountID(s); got != want {
			t.Errorf("ValidAccountID(%q) = %v, want %v", s, got, want)
		}
	}
}
