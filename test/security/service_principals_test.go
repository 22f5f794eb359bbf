package security

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// This file attacks AWS managed keys (alias/aws/SERVICE) and service
// principals (docs/services.md): the front end of a service, declared in
// the principals file, is the only caller whose requests carry
// kms:ViaService; nothing an ordinary caller sends makes it one, and no
// service principal reaches another account's keys.

const (
	svcAccountB = "444455556666"
	svcSecret   = "service-front-end-secret-0123456789"
)

var (
	svcS3      = Creds{AKID: "AKIASVCTESTS3A00001", Secret: svcSecret}
	svcS3B     = Creds{AKID: "AKIASVCTESTS3B00001", Secret: svcSecret}
	svcRootB   = Creds{AKID: "AKIASVCTESTROOTB001", Secret: svcSecret}
	svcUserA   = Creds{AKID: "AKIASVCTESTUSERA001", Secret: svcSecret}
	svcLambdaA = Creds{AKID: "AKIASVCTESTLAMBDA01", Secret: svcSecret}
)

// startServices starts a server whose principals file declares an s3 and a
// lambda front end in the admin's account, a user with every kms
// permission, and a second account with its root and its own s3 front end.
func startServices(t *testing.T) *Server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "principals.yaml")
	doc := fmt.Sprintf(`accounts:
  - id: "%s"
    users:
      - name: poweruser
        policies:
          all: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'
        access_keys:
          - {id: %s, secret_env: SVC_SECRET}
    services:
      - name: s3
        access_keys:
          - {id: %s, secret_env: SVC_SECRET}
      - name: lambda
        access_keys:
          - {id: %s, secret_env: SVC_SECRET}
  - id: "%s"
    root_access_keys:
      - {id: %s, secret_env: SVC_SECRET}
    services:
      - name: s3
        access_keys:
          - {id: %s, secret_env: SVC_SECRET}
`, account, svcUserA.AKID, svcS3.AKID, svcLambdaA.AKID, svcAccountB, svcRootB.AKID, svcS3B.AKID)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return Start(t, Opts{Args: []string{"--principals", file}, Env: []string{"SVC_SECRET=" + svcSecret}})
}

func svcOK(t *testing.T, r Response, what string) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s %s", what, r.Status, r.ErrorType, r.Message)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return m
}

func svcRefused(t *testing.T, r Response, what, typ, msg string) {
	t.Helper()
	if r.Status == http.StatusOK || r.ErrorType != typ || (msg != "" && r.Message != msg) {
		t.Fatalf("%s: got %d %s %q, want %s %q", what, r.Status, r.ErrorType, r.Message, typ, msg)
	}
}

func keyIDOf(m map[string]any) string {
	md, _ := m["KeyMetadata"].(map[string]any)
	id, _ := md["KeyId"].(string)
	return id
}

func TestServiceManagedKeyLifecycle(t *testing.T) {
	s := startServices(t)
	s3 := map[string]any{"KeyId": "alias/aws/s3"}

	// Before anyone names it, the alias is listed without a target, and a
	// direct Encrypt finds nothing (no key is created for it).
	if m := svcOK(t, s.Call(t, Admin, "ListAliases", nil), "ListAliases"); !strings.Contains(string(mustJSON(m)), `{"AliasArn":"arn:aws:kms:us-east-1:111122223333:alias/aws/s3","AliasName":"alias/aws/s3"}`) {
		t.Fatalf("ListAliases before first use: %s", mustJSON(m))
	}
	svcRefused(t, s.Call(t, Admin, "Encrypt", map[string]any{"KeyId": "alias/aws/s3", "Plaintext": "aGk="}),
		"Encrypt before creation", "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/aws/s3 is not found.")

	// DescribeKey creates it, once, however many ask at the same time.
	var wg sync.WaitGroup
	ids := make([]string, 12)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.Call(t, Admin, "DescribeKey", s3)
			if r.Status == http.StatusOK {
				var m map[string]any
				json.Unmarshal(r.Body, &m)
				ids[i] = keyIDOf(m)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("concurrent DescribeKey gave keys %v", ids)
		}
	}
	m := svcOK(t, s.Call(t, Admin, "DescribeKey", s3), "DescribeKey")
	md := m["KeyMetadata"].(map[string]any)
	if md["KeyManager"] != "AWS" || md["KeyState"] != "Enabled" || keyIDOf(m) != ids[0] {
		t.Fatalf("DescribeKey: %v", md)
	}
	keyID, keyARN := ids[0], md["Arn"].(string)
	keys := svcOK(t, s.Call(t, Admin, "ListKeys", nil), "ListKeys")
	if n := strings.Count(string(mustJSON(keys)), `"KeyId":"`+keyID+`"`); n != 1 {
		t.Fatalf("ListKeys lists the AWS managed key %d times", n)
	}
	als := svcOK(t, s.Call(t, Admin, "ListAliases", nil), "ListAliases")
	if !strings.Contains(string(mustJSON(als)), `"AliasName":"alias/aws/s3","CreationDate"`) || !strings.Contains(string(mustJSON(als)), `"TargetKeyId":"`+keyID+`"`) {
		t.Fatalf("ListAliases after creation: %s", mustJSON(als))
	}
	rot := svcOK(t, s.Call(t, Admin, "GetKeyRotationStatus", map[string]any{"KeyId": keyID}), "GetKeyRotationStatus")
	if rot["KeyRotationEnabled"] != true || rot["RotationPeriodInDays"] != float64(365) {
		t.Fatalf("rotation: %v", rot)
	}
	pol := svcOK(t, s.Call(t, Admin, "GetKeyPolicy", map[string]any{"KeyId": keyID}), "GetKeyPolicy")
	if p, _ := pol["Policy"].(string); !strings.Contains(p, `"kms:ViaService" : "s3.us-east-1.amazonaws.com"`) || !strings.Contains(p, `"kms:CallerAccount" : "111122223333"`) {
		t.Fatalf("policy: %v", pol["Policy"])
	}

	// The s3 front end uses it; the root, a user allowed kms:* and the
	// lambda front end may not, directly.
	ct := svcOK(t, s.Call(t, svcS3, "Encrypt", map[string]any{"KeyId": "alias/aws/s3", "Plaintext": "aGk="}), "s3 Encrypt")
	svcOK(t, s.Call(t, svcS3, "Decrypt", map[string]any{"CiphertextBlob": ct["CiphertextBlob"]}), "s3 Decrypt")
	svcOK(t, s.Call(t, svcS3, "GenerateDataKey", map[string]any{"KeyId": "alias/aws/s3", "KeySpec": "AES_256"}), "s3 GenerateDataKey")
	for _, c := range []struct {
		who  Creds
		name string
	}{{Admin, "arn:aws:iam::111122223333:root"}, {svcUserA, "arn:aws:iam::111122223333:user/poweruser"}, {svcLambdaA, "lambda.amazonaws.com"}} {
		svcRefused(t, s.Call(t, c.who, "Encrypt", map[string]any{"KeyId": "alias/aws/s3", "Plaintext": "aGk="}), "direct Encrypt by "+c.name,
			"AccessDeniedException", "User: "+c.name+" is not authorized to perform: kms:Encrypt on resource: "+keyARN+" because no resource-based policy allows the kms:Encrypt action")
		svcRefused(t, s.Call(t, c.who, "Decrypt", map[string]any{"CiphertextBlob": ct["CiphertextBlob"]}), "direct Decrypt by "+c.name, "AccessDeniedException", "")
	}

	// Nothing changes it: every management operation is refused by its
	// policy, for the root and for a user allowed kms:*.
	for _, who := range []Creds{Admin, svcUserA} {
		for _, op := range []struct {
			name, action string
			body         map[string]any
		}{
			{"DisableKey", "kms:DisableKey", map[string]any{"KeyId": keyID}},
			{"ScheduleKeyDeletion", "kms:ScheduleKeyDeletion", map[string]any{"KeyId": keyID, "PendingWindowInDays": 7}},
			{"TagResource", "kms:TagResource", map[string]any{"KeyId": keyID, "Tags": []map[string]string{{"TagKey": "a", "TagValue": "b"}}}},
			{"PutKeyPolicy", "kms:PutKeyPolicy", map[string]any{"KeyId": keyID, "PolicyName": "default", "Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`}},
			{"DisableKeyRotation", "kms:DisableKeyRotation", map[string]any{"KeyId": keyID}},
			{"UpdateKeyDescription", "kms:UpdateKeyDescription", map[string]any{"KeyId": keyID, "Description": "x"}},
			{"DeleteAlias", "kms:DeleteAlias", map[string]any{"AliasName": "alias/aws/s3"}},
			{"CreateGrant", "kms:CreateGrant", map[string]any{"KeyId": keyID, "GranteePrincipal": "arn:aws:iam::111122223333:root", "Operations": []string{"Encrypt"}}},
		} {
			r := s.Call(t, who, op.name, op.body)
			if r.Status == http.StatusOK || r.ErrorType != "AccessDeniedException" || !strings.Contains(r.Message, "is not authorized to perform: "+op.action+" on resource: "+keyARN) {
				t.Errorf("%s on the AWS managed key: %d %s %q", op.name, r.Status, r.ErrorType, r.Message)
			}
		}
	}
	if md := svcOK(t, s.Call(t, Admin, "DescribeKey", s3), "DescribeKey")["KeyMetadata"].(map[string]any); md["KeyState"] != "Enabled" || md["Description"] == "x" {
		t.Fatalf("the key changed: %v", md)
	}
	// Its alias is not re-pointed or re-created.
	mine := svcOK(t, s.Call(t, Admin, "CreateKey", nil), "CreateKey")
	svcRefused(t, s.Call(t, Admin, "UpdateAlias", map[string]any{"AliasName": "alias/aws/s3", "TargetKeyId": keyIDOf(mine)}),
		"UpdateAlias", "InvalidAliasNameException", "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
	svcRefused(t, s.Call(t, Admin, "CreateAlias", map[string]any{"AliasName": "alias/aws/rds", "TargetKeyId": keyIDOf(mine)}),
		"CreateAlias", "InvalidAliasNameException", "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
