package kms

import "testing"

// BenchmarkParseKeyRef measures the parsing of a KeyId parameter alone,
// in each of its forms.
func BenchmarkParseKeyRef(b *testing.B) {
	s := &Service{partition: "aws", region: "us-east-1"}
	for _, ref := range []struct{ name, ref string }{
		{"id", "1234abcd-12ab-34cd-56ef-1234567890ab"},
		{"arn", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{"alias", "alias/bench"},
		{"alias-arn", "arn:aws:kms:us-east-1:111122223333:alias/bench"},
	} {
		b.Run(ref.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.parseKeyRef(ref.ref, RefAliasOK); err != nil {
					b.Fatal(err)
				}
				if RequestAliasCond(&ref.ref) == nil && ref.name[0] == 'a' && len(ref.name) > 3 {
					b.Fatal("no alias condition")
				}
			}
		})
	}
}
