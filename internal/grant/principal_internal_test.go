package grant

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// TestPrincipalOfAccount: which retiring principals ListRetirableGrants
// takes as the caller's account's own.
func TestPrincipalOfAccount(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, _ := rootkey.NewStatic(bytes.Repeat([]byte{7}, 32))
	svc, err := kms.New(kms.Config{Store: st, Root: root, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{kms: svc}
	const acct = "111122223333"
	for arn, want := range map[string]bool{
		"arn:aws:iam::111122223333:root":                   true,
		"arn:aws:iam::111122223333:user/bob":               true,
		"arn:aws:iam::111122223333:role/path/app":          true,
		"arn:aws:sts::111122223333:assumed-role/app/s1":    true,
		"arn:aws:iam::111122223333:user/a:b":               true,
		"arn:aws:iam::444455556666:user/bob":               false, // another account
		"arn:aws-cn:iam::111122223333:user/bob":            false, // another partition
		"arn:aws:iam:us-east-1:111122223333:user/bob":      false, // a Region
		"arn:aws:kms::111122223333:key/x":                  false, // another service
		"arn:aws:iam::111122223333:":                       false, // no resource
		"arn:aws:iam::111122223333":                        false, // five fields
		"ARN:aws:iam::111122223333:user/bob":               false,
		"xrn:aws:iam::111122223333:user/bob":               false,
		"111122223333":                                     false,
		"":                                                 false,
		"arn:aws:iam::111122223333:user/bob:extra:colons:": true,
	} {
		if got := s.principalOfAccount(arn, acct); got != want {
			t.Errorf("principalOfAccount(%q, %q) = %v, want %v", arn, acct, got, want)
		}
	}
}
