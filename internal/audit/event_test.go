package audit

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSafeParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   string
		in   map[string]any
		want map[string]any
	}{
		{"ok/encrypt", "Encrypt",
			map[string]any{"KeyId": "k", "Plaintext": "c2VjcmV0", "EncryptionContext": map[string]any{"Dept": "Eng", "Plaintext": "x"}, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "GrantTokens": []any{"tok"}},
			map[string]any{"keyId": "k", "encryptionContext": map[string]any{"Dept": "Eng", "Plaintext": "x"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
		{"ok/reencrypt", "ReEncrypt",
			map[string]any{"CiphertextBlob": "b", "DestinationKeyId": "k2", "SourceEncryptionContext": map[string]any{"A": "1"}},
			map[string]any{"destinationKeyId": "k2", "sourceEncryptionContext": map[string]any{"A": "1"}}},
		{"ok/nested-structure", "CreateGrant",
			map[string]any{"Constraints": map[string]any{"EncryptionContextSubset": map[string]any{"K": "v"}}, "Operations": []any{"Decrypt"}},
			map[string]any{"constraints": map[string]any{"encryptionContextSubset": map[string]any{"K": "v"}}, "operations": []any{"Decrypt"}}},
		{"ok/tags", "TagResource",
			map[string]any{"Tags": []any{map[string]any{"TagKey": "a", "TagValue": "b"}}},
			map[string]any{"tags": []any{map[string]any{"tagKey": "a", "tagValue": "b"}}}},
		{"ok/initialism", "X", map[string]any{"KMSKeyId": "k", "ID": "i"}, map[string]any{"kmsKeyId": "k", "id": "i"}},
		{"fail/secrets-dropped", "Sign",
			map[string]any{"Message": "m", "Signature": "s", "Mac": "m", "PrivateKeyPlaintext": "p", "PrivateKeyCiphertextBlob": "c",
				"SharedSecret": "s", "KeyMaterial": "k", "EncryptedKeyMaterial": "e", "ImportToken": "t", "PublicKey": "p",
				"XksProxyAuthenticationCredential": map[string]any{"AccessKeyId": "a", "RawSecretAccessKey": "s"},
				"KeyStorePassword":                 "pw", "Recipient": map[string]any{"AttestationDocument": "d", "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}},
			map[string]any{"xksProxyAuthenticationCredential": map[string]any{"accessKeyId": "a"}, "recipient": map[string]any{"keyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}},
		{"fail/blob-values-dropped", "X", map[string]any{"Other": []byte("raw")}, map[string]any{"other": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := SafeParameters(tc.op, tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
	if SafeParameters("Encrypt", nil) != nil {
		t.Fatal("SafeParameters(nil) != nil")
	}
}

// TestNoSecretsInTrail writes events built with SafeParameters from
// requests full of secrets and checks no secret byte string reaches any
// file of the trail directory.
func TestNoSecretsInTrail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, testOptions(dir, "n"))
	secrets := []string{"PLAINTEXT-SECRET-1", "CIPHERTEXT-SECRET-2", "SIGNATURE-SECRET-3", "MATERIAL-SECRET-4", "SECRETKEY-SECRET-5", "TOKEN-SECRET-6"}
	req := map[string]any{"KeyId": "alias/x", "Plaintext": secrets[0], "CiphertextBlob": secrets[1], "Signature": secrets[2],
		"EncryptedKeyMaterial": secrets[3], "XksProxyAuthenticationCredential": map[string]any{"RawSecretAccessKey": secrets[4]},
		"ImportToken": secrets[5]}
	e := &Event{EventName: "Encrypt", EventTime: time.Now().UTC().Format(time.RFC3339), RequestParameters: SafeParameters("Encrypt", req)}
	if err := l.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	l.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Fatalf("secret %q found in %s", s, filepath.Base(f))
			}
		}
	}
	var got Event
	Read(dir, Filter{}, func(en Entry) error { return json.Unmarshal(en.Raw, &got) })
	if got.RequestParameters["keyId"] != "alias/x" {
		t.Fatalf("keyId not logged: %v", got.RequestParameters)
	}
}

func TestEventJSONShape(t *testing.T) {
	t.Parallel()
	e := testEvent(1, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e.EventVersion, e.EventSource, e.EventType, e.EventCategory = EventVersion, EventSource, EventTypeAPICall, EventCategory
	b, _ := json.Marshal(e)
	for _, want := range []string{`"eventVersion":"1.11"`, `"responseElements":null`, `"eventSource":"kms.amazonaws.com"`,
		`"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:`, `"readOnly":true`,
		`"managementEvent":true`, `"recipientAccountId":"111122223333"`, `"eventCategory":"Management"`, `"requestID":"req-1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("event JSON lacks %s:\n%s", want, b)
		}
	}
}
