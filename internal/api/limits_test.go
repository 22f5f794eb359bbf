package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// escaped is s with every character written as a \uXXXX escape, the
// longest way a client writes a JSON string.
func escaped(s string) json.RawMessage {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	b.WriteByte('"')
	return json.RawMessage(b.String())
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	for name, op := range Operations {
		// Every limit refuses the 1 MiB bodies of the flood in issue 15
		// before reading them, and admits an ordinary request.
		if op.MaxBody < 1024 || op.MaxBody >= 1<<20 {
			t.Errorf("%s: MaxBody %d, want within [1 KiB, 1 MiB)", name, op.MaxBody)
		}
	}
	grantTokens := make([]string, 10)
	for i := range grantTokens {
		grantTokens[i] = strings.Repeat("g", 8192)
	}
	tags := make([]map[string]json.RawMessage, 50)
	for i := range tags {
		tags[i] = map[string]json.RawMessage{"TagKey": escaped(strings.Repeat("k", 128)), "TagValue": escaped(strings.Repeat("v", 256))}
	}
	context := map[string]string{}
	for i := 0; len(context) < 100; i++ {
		context[fmt.Sprintf("key-%03d", i)] = strings.Repeat("c", 300) // about 31 KiB of context
	}
	keyID := "arn:aws:kms:us-east-1:111122223333:key/" + strings.Repeat("a", 2048-39)
	for _, tc := range []struct {
		name, op string
		body     map[string]any
	}{
		{"ok/largest Encrypt", "Encrypt", map[string]any{
			"KeyId": keyID, "Plaintext": base64.StdEncoding.EncodeToString(make([]byte, 4096)),
			"EncryptionContext": context, "GrantTokens": grantTokens,
			"EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DryRun": false}},
		{"ok/largest Decrypt", "Decrypt", map[string]any{
			"KeyId": keyID, "CiphertextBlob": base64.StdEncoding.EncodeToString(make([]byte, 6144)),
			"EncryptionContext": context, "GrantTokens": grantTokens}},
		{"ok/largest PutKeyPolicy, every character escaped", "PutKeyPolicy", map[string]any{
			"KeyId": keyID, "PolicyName": "default", "Policy": escaped(strings.Repeat("p", 32768)),
			"BypassPolicyLockoutSafetyCheck": true}},
		{"ok/largest CreateKey, every character escaped", "CreateKey", map[string]any{
			"Policy": escaped(strings.Repeat("p", 32768)), "Description": escaped(strings.Repeat("d", 8192)),
			"Tags": tags, "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "Origin": "AWS_KMS",
			"MultiRegion": false, "BypassPolicyLockoutSafetyCheck": false}},
		{"ok/largest ImportKeyMaterial", "ImportKeyMaterial", map[string]any{
			"KeyId": keyID, "ImportToken": base64.StdEncoding.EncodeToString(make([]byte, 6144)),
			"EncryptedKeyMaterial": base64.StdEncoding.EncodeToString(make([]byte, 6144)),
			"ValidTo":              1800000000, "ExpirationModel": "KEY_MATERIAL_EXPIRES"}},
		{"ok/largest TagResource", "TagResource", map[string]any{"KeyId": keyID, "Tags": tags}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.MarshalIndent(tc.body, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if limit := Operations[tc.op].MaxBody; int64(len(b)) > limit {
				t.Fatalf("%s: a valid body of %d bytes is over the limit %d", tc.op, len(b), limit)
			}
		})
	}
}
