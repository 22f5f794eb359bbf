package kms

import (
	"reflect"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
)

// TestParseKeyRef pins the answer to every form of KeyId parameter, the
// malformed ones byte for byte: AWS's clients parse these messages, and
// the Region rather than the ARN in "Invalid arn" for another partition
// or Region is AWS's.
func TestParseKeyRef(t *testing.T) {
	t.Parallel()
	s := &Service{partition: "aws", region: "us-east-1"}
	const (
		id   = "1234abcd-12ab-34cd-56ef-1234567890ab"
		acct = "111122223333"
	)
	tests := []struct {
		name string
		raw  string
		kind RefKind
		want keyRef
		msg  string // NotFoundException message; "" if ok
	}{
		{"ok/key-id", id, RefKeyOnly, keyRef{keyID: id}, ""},
		{"ok/mrk-id", "mrk-1234abcd12ab34cd56ef1234567890ab", RefKeyOnly, keyRef{keyID: "mrk-1234abcd12ab34cd56ef1234567890ab"}, ""},
		{"ok/key-arn", "arn:aws:kms:us-east-1:" + acct + ":key/" + id, RefKeyOnly, keyRef{account: acct, keyID: id, isARN: true}, ""},
		{"ok/alias-name", "alias/app", RefAliasOK, keyRef{alias: "alias/app"}, ""},
		{"ok/alias-arn", "arn:aws:kms:us-east-1:" + acct + ":alias/app", RefAliasOK, keyRef{account: acct, alias: "alias/app", isARN: true}, ""},
		{"ok/alias-arn-with-colon", "arn:aws:kms:us-east-1:" + acct + ":alias/a:b", RefAliasOK, keyRef{account: acct, alias: "alias/a:b", isARN: true}, ""},

		{"fail/key-id", "fake-key-id", RefKeyOnly, keyRef{}, "Invalid keyId 'fake-key-id'"},
		{"fail/key-id-no-dashes", "1234abcd12ab34cd56ef1234567890ab", RefAliasOK, keyRef{}, "Invalid keyId '1234abcd12ab34cd56ef1234567890ab'"},
		{"fail/alias-name-not-allowed", "alias/app", RefKeyOnly, keyRef{}, "Invalid keyId 'alias/app'"},
		{"fail/alias-arn-not-allowed", "arn:aws:kms:us-east-1:" + acct + ":alias/app", RefKeyOnly, keyRef{account: acct, isARN: true}, "Invalid keyId 'arn:aws:kms:us-east-1:" + acct + ":alias/app'"},
		{"fail/key-arn-bad-id", "arn:aws:kms:us-east-1:" + acct + ":key/x", RefKeyOnly, keyRef{account: acct, keyID: "x", isARN: true}, "Invalid keyId 'arn:aws:kms:us-east-1:" + acct + ":key/x'"},
		{"fail/key-arn-empty-id", "arn:aws:kms:us-east-1:" + acct + ":key/", RefAliasOK, keyRef{account: acct, isARN: true}, "Invalid keyId 'arn:aws:kms:us-east-1:" + acct + ":key/'"},
		{"fail/other-resource", "arn:aws:kms:us-east-1:" + acct + ":thing/x", RefAliasOK, keyRef{account: acct, isARN: true}, "Invalid arn arn:aws:kms:us-east-1:" + acct + ":thing/x"},
		{"fail/empty-resource", "arn:aws:kms:us-east-1:" + acct + ":", RefAliasOK, keyRef{account: acct, isARN: true}, "Invalid arn arn:aws:kms:us-east-1:" + acct + ":"},
		{"fail/five-fields", "arn:aws:kms:us-east-1:" + acct, RefAliasOK, keyRef{}, "Invalid arn arn:aws:kms:us-east-1:" + acct},
		{"fail/only-prefix", "arn:", RefAliasOK, keyRef{}, "Invalid arn arn:"},
		{"fail/other-service", "arn:aws:iam::" + acct + ":key/" + id, RefAliasOK, keyRef{}, "Invalid arn arn:aws:iam::" + acct + ":key/" + id},
		{"fail/empty-partition", "arn::kms:us-east-1:" + acct + ":key/" + id, RefAliasOK, keyRef{}, "Invalid arn arn::kms:us-east-1:" + acct + ":key/" + id},
		{"fail/other-partition", "arn:aws-cn:kms:us-east-1:" + acct + ":key/" + id, RefAliasOK, keyRef{}, "Invalid arn us-east-1"},
		{"fail/other-region", "arn:aws:kms:us-west-2:" + acct + ":key/" + id, RefAliasOK, keyRef{}, "Invalid arn us-west-2"},
		{"fail/other-region-alias", "arn:aws:kms:us-west-2:" + acct + ":alias/app", RefAliasOK, keyRef{}, "Invalid arn us-west-2"},
		{"fail/empty-region", "arn:aws:kms::" + acct + ":key/" + id, RefAliasOK, keyRef{}, "Invalid arn "},
		{"fail/short-account", "arn:aws:kms:us-east-1:11112222333:key/" + id, RefAliasOK, keyRef{}, "Invalid arn arn:aws:kms:us-east-1:11112222333:key/" + id},
		{"fail/letter-account", "arn:aws:kms:us-east-1:11112222333a:alias/app", RefAliasOK, keyRef{}, "Invalid arn arn:aws:kms:us-east-1:11112222333a:alias/app"},
		{"fail/empty-account", "arn:aws:kms:us-east-1::key/" + id, RefAliasOK, keyRef{}, "Invalid arn arn:aws:kms:us-east-1::key/" + id},
		{"fail/upper-case-prefix", "ARN:aws:kms:us-east-1:" + acct + ":key/" + id, RefAliasOK, keyRef{}, "Invalid keyId 'ARN:aws:kms:us-east-1:" + acct + ":key/" + id + "'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.parseKeyRef(tc.raw, tc.kind)
			tc.want.raw = tc.raw
			if tc.msg == "" {
				if err != nil || got != tc.want {
					t.Fatalf("parseKeyRef(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
				}
				return
			}
			e := awserr.As(err)
			if e == nil || e.Code != awserr.NotFound || e.Message != tc.msg {
				t.Fatalf("parseKeyRef(%q) error = %v; want %s: %s", tc.raw, err, awserr.NotFound, tc.msg)
			}
			if got != tc.want {
				t.Fatalf("parseKeyRef(%q) = %+v; want %+v", tc.raw, got, tc.want)
			}
		})
	}
}

func TestRequestAliasCond(t *testing.T) {
	t.Parallel()
	alias := func(a string) map[string][]string { return map[string][]string{"kms:requestalias": {a}} }
	tests := []struct {
		name string
		ref  *string
		want map[string][]string
	}{
		{"ok/alias-name", sp("alias/app"), alias("alias/app")},
		{"ok/alias-arn", sp("arn:aws:kms:us-east-1:111122223333:alias/app"), alias("alias/app")},
		{"ok/alias-arn-with-colon", sp("arn:aws:kms:us-east-1:111122223333:alias/a:b"), alias("alias/a:b")},
		{"fail/nil", nil, nil},
		{"fail/key-id", sp("1234abcd-12ab-34cd-56ef-1234567890ab"), nil},
		{"fail/key-arn", sp("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"), nil},
		{"fail/alias-prefix-not-arn", sp("xarn:aws:kms:us-east-1:111122223333:alias/app"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RequestAliasCond(tc.ref); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("RequestAliasCond = %v, want %v", got, tc.want)
			}
		})
	}
}

func sp(s string) *string { return &s }

// FuzzParseKeyRef: whatever a client sends as KeyId, parseKeyRef answers
// with a reference that names exactly one well-formed key ID or alias (an
// ARN only of this partition and Region, with an account ID) or with
// NotFoundException in one of AWS's three messages; it never panics.
func FuzzParseKeyRef(f *testing.F) {
	for _, s := range []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab", "alias/app", "arn:",
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:111122223333:alias/a:b", "arn:aws:kms:us-west-2:111122223333:alias/app",
		"arn:aws:kms:us-east-1:111122223333:thing/x",
	} {
		f.Add(s, true)
	}
	s := &Service{partition: "aws", region: "us-east-1"}
	f.Fuzz(func(t *testing.T, raw string, aliasOK bool) {
		kind := RefKeyOnly
		if aliasOK {
			kind = RefAliasOK
		}
		r, err := s.parseKeyRef(raw, kind)
		if err != nil {
			e := awserr.As(err)
			if e == nil || e.Code != awserr.NotFound {
				t.Fatalf("parseKeyRef(%q): %v", raw, err)
			}
			switch e.Message {
			case "Invalid arn " + raw, "Invalid keyId '" + raw + "'", "Invalid arn " + arn.Field(raw, 3):
			default:
				t.Fatalf("parseKeyRef(%q): message %q", raw, e.Message)
			}
			return
		}
		if (r.keyID == "") == (r.alias == "") || r.keyID != "" && !ValidKeyID(r.keyID) ||
			r.alias != "" && (!aliasOK || !strings.HasPrefix(r.alias, "alias/")) {
			t.Fatalf("parseKeyRef(%q) = %+v", raw, r)
		}
		want := r.keyID
		if r.alias != "" {
			want = r.alias
		} else if r.isARN {
			want = "key/" + r.keyID
		}
		if r.isARN {
			want = "arn:aws:kms:us-east-1:" + r.account + ":" + want
			if !arn.ValidAccountID(r.account) {
				t.Fatalf("parseKeyRef(%q) = %+v", raw, r)
			}
		}
		if raw != want || r.raw != raw {
			t.Fatalf("parseKeyRef(%q) = %+v, which names %q", raw, r, want)
		}
	})
}
