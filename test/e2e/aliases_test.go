package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func listAliases(t testing.TB, c *kms.Client, keyID *string) map[string]types.AliasListEntry {
	t.Helper()
	got := map[string]types.AliasListEntry{}
	var marker *string
	for {
		out, err := c.ListAliases(ctxT(t), &kms.ListAliasesInput{KeyId: keyID, Marker: marker, Limit: aws.Int32(3)})
		if err != nil {
			t.Fatalf("ListAliases: %v", err)
		}
		if len(out.Aliases) > 3 {
			t.Fatalf("ListAliases returned %d aliases with Limit 3", len(out.Aliases))
		}
		for _, a := range out.Aliases {
			if _, dup := got[*a.AliasName]; dup {
				t.Fatalf("alias %s listed twice", *a.AliasName)
			}
			got[*a.AliasName] = a
		}
		if !out.Truncated {
			return got
		}
		marker = out.NextMarker
	}
}

func TestAliases(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	k1, k2 := createKey(t, c, nil), createKey(t, c, nil)
	byID := uniq("alias/e2e-id")
	byARN := uniq("alias/e2e-arn")
	if _, err := c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: &byID, TargetKeyId: k1.KeyId}); err != nil {
		t.Fatalf("CreateAlias by key ID: %v", err)
	}
	if _, err := c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: &byARN, TargetKeyId: k1.Arn}); err != nil {
		t.Fatalf("CreateAlias by key ARN: %v", err)
	}
	got := listAliases(t, c, k1.KeyId)
	if len(got) != 2 {
		t.Fatalf("ListAliases(k1) = %d aliases, want 2", len(got))
	}
	for _, name := range []string{byID, byARN} {
		a, ok := got[name]
		if !ok || *a.TargetKeyId != *k1.KeyId || *a.AliasArn != aliasARN(name) || a.CreationDate == nil || a.LastUpdatedDate == nil {
			t.Fatalf("alias %s = %+v", name, a)
		}
	}
	if all := listAliases(t, c, nil); len(all) < 2 {
		t.Fatalf("ListAliases() = %d aliases", len(all))
	}

	if _, err := c.UpdateAlias(ctxT(t), &kms.UpdateAliasInput{AliasName: &byID, TargetKeyId: k2.Arn}); err != nil {
		t.Fatalf("UpdateAlias: %v", err)
	}
	if m := describe(t, c, byID); *m.KeyId != *k2.KeyId {
		t.Fatalf("alias %s names %s after UpdateAlias, want %s", byID, *m.KeyId, *k2.KeyId)
	}
	if got := listAliases(t, c, k2.KeyId); len(got) != 1 {
		t.Fatalf("ListAliases(k2) = %v, want just %s", got, byID)
	}
	if _, err := c.DeleteAlias(ctxT(t), &kms.DeleteAliasInput{AliasName: &byID}); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	_, err := c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: &byID})
	wantAPIError(t, err, "NotFoundException", "Alias "+aliasARN(byID)+" is not found.")
	if got := listAliases(t, c, k2.KeyId); len(got) != 0 {
		t.Fatalf("ListAliases(k2) after DeleteAlias = %v", got)
	}

	missing := "6f8f41a4-6a8e-4c3b-9a1e-3a5b2c1d0e92"
	create := func(name, target string) func() error {
		return func() error {
			_, err := c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: &name, TargetKeyId: &target})
			return err
		}
	}
	fails := []struct {
		name      string
		call      func() error
		code, msg string
	}{
		{"fail/CreateAlias existing name", create(byARN, *k2.KeyId), "AlreadyExistsException", "An alias with the name " + aliasARN(byARN) + " already exists"},
		{"fail/CreateAlias without prefix", create("e2e-no-prefix", *k1.KeyId), "ValidationException",
			`Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`},
		{"fail/CreateAlias reserved alias/aws/", create("alias/aws/e2e", *k1.KeyId), "InvalidAliasNameException", anyMessage},
		{"fail/CreateAlias bad characters", create("alias/e2e bad!", *k1.KeyId), "ValidationException",
			"1 validation error detected: Value 'alias/e2e bad!' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
		{"fail/CreateAlias too long", create("alias/"+strings.Repeat("a", 251), *k1.KeyId), "ValidationException", anyMessage},
		{"fail/CreateAlias unknown key", create(uniq("alias/e2e"), missing), "NotFoundException", "Key '" + keyARN(missing) + "' does not exist"},
		{"fail/CreateAlias target is an alias", create(uniq("alias/e2e"), byARN), "NotFoundException", anyMessage},
		{"fail/UpdateAlias unknown alias", func() error {
			_, err := c.UpdateAlias(ctxT(t), &kms.UpdateAliasInput{AliasName: aws.String("alias/e2e-nope"), TargetKeyId: k1.KeyId})
			return err
		}, "NotFoundException", "Alias " + aliasARN("alias/e2e-nope") + " is not found."},
		{"fail/DeleteAlias unknown alias", func() error {
			_, err := c.DeleteAlias(ctxT(t), &kms.DeleteAliasInput{AliasName: aws.String("alias/e2e-nope")})
			return err
		}, "NotFoundException", "Alias " + aliasARN("alias/e2e-nope") + " is not found."},
		{"fail/ListAliases limit 101", func() error {
			_, err := c.ListAliases(ctxT(t), &kms.ListAliasesInput{Limit: aws.Int32(101)})
			return err
		}, "ValidationException", "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.call(), tc.code, tc.msg) })
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	tag := func(k, v string) types.Tag { return types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)} }
	list := func() map[string]string {
		got := map[string]string{}
		var marker *string
		for {
			out, err := c.ListResourceTags(ctxT(t), &kms.ListResourceTagsInput{KeyId: m.Arn, Limit: aws.Int32(2), Marker: marker})
			if err != nil {
				t.Fatalf("ListResourceTags: %v", err)
			}
			for _, tg := range out.Tags {
				got[*tg.TagKey] = *tg.TagValue
			}
			if !out.Truncated {
				return got
			}
			marker = out.NextMarker
		}
	}
	if _, err := c.TagResource(ctxT(t), &kms.TagResourceInput{KeyId: m.KeyId, Tags: []types.Tag{tag("a", "1"), tag("b", "2"), tag("c", "")}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.TagResource(ctxT(t), &kms.TagResourceInput{KeyId: m.Arn, Tags: []types.Tag{tag("a", "updated")}}); err != nil {
		t.Fatalf("TagResource (overwrite): %v", err)
	}
	if got := list(); len(got) != 3 || got["a"] != "updated" || got["b"] != "2" || got["c"] != "" {
		t.Fatalf("tags = %v", got)
	}
	if _, err := c.UntagResource(ctxT(t), &kms.UntagResourceInput{KeyId: m.KeyId, TagKeys: []string{"b", "not-there"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	if got := list(); len(got) != 2 || got["a"] != "updated" {
		t.Fatalf("tags after UntagResource = %v", got)
	}

	fifty := make([]types.Tag, 49)
	for i := range fifty {
		fifty[i] = tag("n"+strings.Repeat("x", i), "v")
	}
	tagCall := func(tags []types.Tag) func() error {
		return func() error {
			_, err := c.TagResource(ctxT(t), &kms.TagResourceInput{KeyId: m.KeyId, Tags: tags})
			return err
		}
	}
	fails := []struct {
		name      string
		call      func() error
		code, msg string
	}{
		{"fail/aws: prefix", tagCall([]types.Tag{tag("aws:k", "v")}), "TagException", "Tags beginning with aws: are reserved"},
		{"fail/Aws: prefix", tagCall([]types.Tag{tag("Aws:k", "v")}), "TagException", "Tags beginning with aws: are reserved"},
		{"fail/duplicate keys", tagCall([]types.Tag{tag("d", "1"), tag("d", "2")}), "TagException", "Duplicate tag keys"},
		{"fail/over 50 on the key", tagCall(fifty), "TagException", "Too many tags"},
		{"fail/key too long", tagCall([]types.Tag{tag(strings.Repeat("k", 129), "v")}), "ValidationException",
			"1 validation error detected: Value '" + strings.Repeat("k", 129) + "' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"fail/untag aws: key", func() error {
			_, err := c.UntagResource(ctxT(t), &kms.UntagResourceInput{KeyId: m.KeyId, TagKeys: []string{"aws:k"}})
			return err
		}, "TagException", "Tags beginning with aws: are reserved"},
		{"fail/list limit 51", func() error {
			_, err := c.ListResourceTags(ctxT(t), &kms.ListResourceTagsInput{KeyId: m.KeyId, Limit: aws.Int32(51)})
			return err
		}, "ValidationException", "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.call(), tc.code, tc.msg) })
	}
	if got := list(); len(got) != 2 {
		t.Fatalf("failed TagResource calls changed the tags: %v", got)
	}
}
