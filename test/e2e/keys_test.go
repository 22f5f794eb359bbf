package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// createKey makes a symmetric key on c and returns its metadata.
func createKey(t testing.TB, c *kms.Client, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{Description: aws.String(uniq("e2e"))}
	}
	out, err := c.CreateKey(ctxT(t), in)
	skipIfFIPSRefused(t, err, "KeySpec", string(in.KeySpec))
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

// createAlias points a new unique alias at key id and returns its name.
func createAlias(t testing.TB, c *kms.Client, id string) string {
	t.Helper()
	name := uniq("alias/e2e")
	if _, err := c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: &name, TargetKeyId: &id}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	return name
}

const customPolicy = `{"Version":"2012-10-17","Id":"e2e","Statement":[{"Sid":"root","Effect":"Allow",` +
	`"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`

// checkSymmetricMetadata asserts every KeyMetadata member AWS returns for a
// fresh symmetric key, and that the members AWS omits are absent.
func checkSymmetricMetadata(t *testing.T, m *types.KeyMetadata, desc string, before time.Time) {
	t.Helper()
	if m.KeyId == nil || len(*m.KeyId) != 36 {
		t.Fatalf("KeyId = %v, want a UUID", m.KeyId)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"AWSAccountId", aws.ToString(m.AWSAccountId), account},
		{"Arn", aws.ToString(m.Arn), keyARN(*m.KeyId)},
		{"Description", aws.ToString(m.Description), desc},
		{"Enabled", m.Enabled, true},
		{"KeyState", m.KeyState, types.KeyStateEnabled},
		{"KeyUsage", m.KeyUsage, types.KeyUsageTypeEncryptDecrypt},
		{"KeySpec", m.KeySpec, types.KeySpecSymmetricDefault},
		{"CustomerMasterKeySpec", m.CustomerMasterKeySpec, types.CustomerMasterKeySpecSymmetricDefault},
		{"KeyManager", m.KeyManager, types.KeyManagerTypeCustomer},
		{"Origin", m.Origin, types.OriginTypeAwsKms},
		{"MultiRegion", aws.ToBool(m.MultiRegion), false},
		{"EncryptionAlgorithms", len(m.EncryptionAlgorithms) == 1 && m.EncryptionAlgorithms[0] == types.EncryptionAlgorithmSpecSymmetricDefault, true},
		{"CurrentKeyMaterialId set", aws.ToString(m.CurrentKeyMaterialId) != "", true},
		{"no MultiRegionConfiguration", m.MultiRegionConfiguration == nil, true},
		{"no DeletionDate", m.DeletionDate == nil, true},
		{"no PendingDeletionWindowInDays", m.PendingDeletionWindowInDays == nil, true},
		{"no SigningAlgorithms", m.SigningAlgorithms == nil && m.MacAlgorithms == nil, true},
		{"no ExpirationModel", m.ExpirationModel, types.ExpirationModelType("")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("KeyMetadata.%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if m.CreationDate == nil || m.CreationDate.Before(before.Add(-2*time.Second)) || m.CreationDate.After(time.Now().Add(2*time.Second)) {
		t.Errorf("CreationDate = %v, want about %v", m.CreationDate, before)
	}
}

func TestCreateAndDescribeKey(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	before := time.Now()
	desc := uniq("described key")
	created := createKey(t, c, &kms.CreateKeyInput{
		Description:                    &desc,
		Policy:                         aws.String(customPolicy),
		BypassPolicyLockoutSafetyCheck: true,
		Tags:                           []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("e2e")}, {TagKey: aws.String("empty"), TagValue: aws.String("")}},
	})
	checkSymmetricMetadata(t, created, desc, before)
	id := *created.KeyId
	alias := createAlias(t, c, id)

	for _, ref := range []struct{ name, ref string }{
		{"ok/key ID", id}, {"ok/key ARN", keyARN(id)}, {"ok/alias name", alias}, {"ok/alias ARN", aliasARN(alias)},
	} {
		t.Run(ref.name, func(t *testing.T) {
			out, err := c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: aws.String(ref.ref)})
			if err != nil {
				t.Fatalf("DescribeKey(%s): %v", ref.ref, err)
			}
			checkSymmetricMetadata(t, out.KeyMetadata, desc, before)
			if *out.KeyMetadata.KeyId != id || !out.KeyMetadata.CreationDate.Equal(*created.CreationDate) ||
				*out.KeyMetadata.CurrentKeyMaterialId != *created.CurrentKeyMaterialId {
				t.Fatalf("DescribeKey(%s) = %+v, want the created key %+v", ref.ref, out.KeyMetadata, created)
			}
		})
	}

	pol, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: &id})
	if err != nil || aws.ToString(pol.Policy) != customPolicy || aws.ToString(pol.PolicyName) != "default" {
		t.Fatalf("GetKeyPolicy = %v, %v; want the policy given to CreateKey", pol, err)
	}
	tags, err := c.ListResourceTags(ctxT(t), &kms.ListResourceTagsInput{KeyId: &id})
	if err != nil || len(tags.Tags) != 2 || *tags.Tags[0].TagKey != "empty" || *tags.Tags[1].TagKey != "team" || *tags.Tags[1].TagValue != "e2e" {
		t.Fatalf("ListResourceTags = %+v, %v; want the tags given to CreateKey", tags, err)
	}
}

func TestCreateKeyDefaultPolicy(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, &kms.CreateKeyInput{})
	if aws.ToString(m.Description) != "" {
		t.Errorf("Description = %q, want empty", *m.Description)
	}
	for _, policyName := range []*string{nil, aws.String("default")} {
		pol, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: m.Arn, PolicyName: policyName})
		if err != nil {
			t.Fatalf("GetKeyPolicy: %v", err)
		}
		p := aws.ToString(pol.Policy)
		for _, want := range []string{`"Id" : "key-default-1"`, `"AWS" : "arn:aws:iam::111122223333:root"`, `"Action" : "kms:*"`} {
			if !strings.Contains(p, want) {
				t.Errorf("default policy lacks %s:\n%s", want, p)
			}
		}
	}
	lp, err := c.ListKeyPolicies(ctxT(t), &kms.ListKeyPoliciesInput{KeyId: m.KeyId})
	if err != nil || len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "default" || lp.Truncated {
		t.Fatalf("ListKeyPolicies = %+v, %v; want [default]", lp, err)
	}
	if _, err := c.PutKeyPolicy(ctxT(t), &kms.PutKeyPolicyInput{KeyId: m.KeyId, Policy: aws.String(customPolicy)}); err != nil {
		t.Fatalf("PutKeyPolicy: %v", err)
	}
	pol, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: m.KeyId})
	if err != nil || aws.ToString(pol.Policy) != customPolicy {
		t.Fatalf("GetKeyPolicy after PutKeyPolicy = %v, %v", aws.ToString(pol.Policy), err)
	}
}

func TestKeyPolicyErrors(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	alias := createAlias(t, c, *m.KeyId)
	missing := "00000000-0000-4000-8000-000000000000"
	cases := []struct {
		name      string
		call      func() error
		code, msg string
	}{
		{"fail/GetKeyPolicy other policy name", func() error {
			_, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: m.KeyId, PolicyName: aws.String("other")})
			return err
		}, "NotFoundException", "No such policy exists"},
		{"fail/GetKeyPolicy by alias", func() error {
			_, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: &alias})
			return err
		}, "NotFoundException", anyMessage},
		{"fail/GetKeyPolicy unknown key", func() error {
			_, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: aws.String(missing)})
			return err
		}, "NotFoundException", "Key '" + keyARN(missing) + "' does not exist"},
		{"fail/PutKeyPolicy not JSON", func() error {
			_, err := c.PutKeyPolicy(ctxT(t), &kms.PutKeyPolicyInput{KeyId: m.KeyId, Policy: aws.String("not json")})
			return err
		}, "MalformedPolicyDocumentException", anyMessage},
		{"fail/CreateKey policy not JSON", func() error {
			_, err := c.CreateKey(ctxT(t), &kms.CreateKeyInput{Policy: aws.String("{")})
			return err
		}, "MalformedPolicyDocumentException", anyMessage},
		{"fail/ListKeyPolicies limit 0", func() error {
			_, err := c.ListKeyPolicies(ctxT(t), &kms.ListKeyPoliciesInput{KeyId: m.KeyId, Limit: aws.Int32(0)})
			return err
		}, "ValidationException", "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.call(), tc.code, tc.msg) })
	}
}

func TestCreateKeyErrors(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	tag := func(k, v string) types.Tag { return types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)} }
	many := make([]types.Tag, 51)
	for i := range many {
		many[i] = tag("k"+strings.Repeat("x", i), "v")
	}
	long129, long257 := strings.Repeat("a", 129), strings.Repeat("v", 257)
	cases := []struct {
		name      string
		in        kms.CreateKeyInput
		code, msg string
		prefix    bool
	}{
		{"fail/51 tags", kms.CreateKeyInput{Tags: many}, "TagException", "Too many tags", false},
		{"fail/aws: tag key", kms.CreateKeyInput{Tags: []types.Tag{tag("aws:x", "v")}}, "TagException", "Tags beginning with aws: are reserved", false},
		{"fail/AWS: tag key", kms.CreateKeyInput{Tags: []types.Tag{tag("AWS:x", "v")}}, "TagException", "Tags beginning with aws: are reserved", false},
		{"fail/duplicate tag keys", kms.CreateKeyInput{Tags: []types.Tag{tag("k", "1"), tag("k", "2")}}, "TagException", "Duplicate tag keys", false},
		{"fail/tag key too long", kms.CreateKeyInput{Tags: []types.Tag{tag(long129, "v")}}, "ValidationException",
			"1 validation error detected: Value '" + long129 + "' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128", false},
		{"fail/tag value too long", kms.CreateKeyInput{Tags: []types.Tag{tag("k", long257)}}, "ValidationException",
			"1 validation error detected: Value '" + long257 + "' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256", false},
		{"fail/unknown key spec", kms.CreateKeyInput{KeySpec: "HMAC_random"}, "ValidationException",
			"1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, ECC_NIST_P384, ECC_NIST_P256, ECC_NIST_P521, HMAC_384, RSA_3072, ECC_SECG_P256K1, RSA_4096, SYMMETRIC_DEFAULT, HMAC_256, HMAC_224, HMAC_512", true},
		{"fail/unknown key usage", kms.CreateKeyInput{KeyUsage: "RANDOM"}, "ValidationException",
			"1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC", true},
		{"fail/HMAC key without usage", kms.CreateKeyInput{KeySpec: types.KeySpecHmac256}, "ValidationException",
			"You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.", false},
		{"fail/description too long", kms.CreateKeyInput{Description: aws.String(strings.Repeat("d", 8193))}, "ValidationException", anyMessage, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.CreateKey(ctxT(t), &tc.in)
			if tc.prefix {
				wantAPIErrorPrefix(t, err, tc.code, tc.msg)
			} else {
				wantAPIError(t, err, tc.code, tc.msg)
			}
		})
	}
}

func TestDescribeKeyErrors(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	missing := "6f8f41a4-6a8e-4c3b-9a1e-3a5b2c1d0e9f"
	cases := []struct{ name, ref, code, msg string }{
		{"fail/malformed key ID", "fake-key-id", "NotFoundException", "Invalid keyId 'fake-key-id'"},
		{"fail/UUID without dashes", "134f2428cec14b25a1ae9048164dba47", "NotFoundException", "Invalid keyId '134f2428cec14b25a1ae9048164dba47'"},
		{"fail/malformed mrk ID", "mrk-fake-key-id", "NotFoundException", "Invalid keyId 'mrk-fake-key-id'"},
		{"fail/unknown key ID", missing, "NotFoundException", "Key '" + keyARN(missing) + "' does not exist"},
		{"fail/unknown key ARN", keyARN(missing), "NotFoundException", "Key '" + keyARN(missing) + "' does not exist"},
		{"fail/ARN of another region", "arn:aws:kms:us-west-2:" + account + ":key/" + *m.KeyId, "NotFoundException", "Invalid arn us-west-2"},
		{"fail/unknown alias", "alias/e2e-does-not-exist", "NotFoundException", "Alias " + aliasARN("alias/e2e-does-not-exist") + " is not found."},
		{"fail/unknown alias ARN", aliasARN("alias/e2e-does-not-exist"), "NotFoundException", "Alias " + aliasARN("alias/e2e-does-not-exist") + " is not found."},
		{"fail/empty", "", "ValidationException", anyMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: aws.String(tc.ref)})
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
}

func TestListKeysPaging(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	want := map[string]bool{}
	for range 3 {
		want[*createKey(t, c, nil).KeyId] = true
	}
	seen := map[string]bool{}
	var marker *string
	pages := 0
	for {
		out, err := c.ListKeys(ctxT(t), &kms.ListKeysInput{Limit: aws.Int32(2), Marker: marker})
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		pages++
		if len(out.Keys) > 2 {
			t.Fatalf("page of %d keys with Limit 2", len(out.Keys))
		}
		for _, k := range out.Keys {
			if seen[*k.KeyId] {
				t.Fatalf("key %s listed twice", *k.KeyId)
			}
			seen[*k.KeyId] = true
			if *k.KeyArn != keyARN(*k.KeyId) {
				t.Errorf("KeyArn = %s, want %s", *k.KeyArn, keyARN(*k.KeyId))
			}
		}
		if !out.Truncated {
			if out.NextMarker != nil {
				t.Errorf("NextMarker %q on the last page", *out.NextMarker)
			}
			break
		}
		if out.NextMarker == nil {
			t.Fatal("Truncated without NextMarker")
		}
		marker = out.NextMarker
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("key %s not listed", id)
		}
	}
	if pages < 2 {
		t.Errorf("%d pages for %d keys at Limit 2", pages, len(seen))
	}

	for _, tc := range []struct {
		name      string
		in        kms.ListKeysInput
		code, msg string
	}{
		{"fail/limit 0", kms.ListKeysInput{Limit: aws.Int32(0)}, "ValidationException", "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"fail/limit 1001", kms.ListKeysInput{Limit: aws.Int32(1001)}, "ValidationException", "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"},
		{"fail/bad marker", kms.ListKeysInput{Marker: aws.String("not-a-marker")}, "InvalidMarkerException", anyMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListKeys(ctxT(t), &tc.in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
}
