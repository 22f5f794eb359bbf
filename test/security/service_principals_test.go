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

// policyFor returns a key policy keeping the account root's access and
// adding stmt.
func policyFor(acct, stmt string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},` + stmt + `]}`
}

func TestServicePrincipalAttacks(t *testing.T) {
	s := startServices(t)

	// A key policy naming the s3 service, with the aws:SourceAccount and
	// aws:SourceArn guards AWS recommends, lets the s3 front end of its
	// account in, with the SourceArn it signs.
	stmt := `{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":["kms:Encrypt","kms:GenerateDataKey"],"Resource":"*",` +
		`"Condition":{"StringEquals":{"aws:SourceAccount":"111122223333","kms:ViaService":"s3.us-east-1.amazonaws.com"},"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket-a"}}}`
	k := svcOK(t, s.Call(t, Admin, "CreateKey", map[string]any{"Policy": policyFor(account, stmt)}), "CreateKey")
	keyA := k["KeyMetadata"].(map[string]any)["Arn"].(string)
	enc := map[string]any{"KeyId": keyA, "Plaintext": "aGk="}
	withSource := func(c Creds, src string) Response {
		b := mustJSON(enc)
		req := s.NewKMSRequest(t, "Encrypt", b)
		if src != "" {
			req.Header.Set("X-Amz-Source-Arn", src)
		}
		Sign(t, req, b, c, "kms")
		return Do(t, req)
	}
	svcOK(t, withSource(svcS3, "arn:aws:s3:::bucket-a"), "s3 front end with its SourceArn")
	svcRefused(t, withSource(svcS3, "arn:aws:s3:::bucket-b"), "s3 front end, other SourceArn", "AccessDeniedException", "")
	svcRefused(t, withSource(svcS3, ""), "s3 front end without SourceArn", "AccessDeniedException", "")

	// attack: an ordinary caller claims to be the service. A header it
	// can set (signed), a User-Agent: nothing makes its request a service
	// principal's, for a key whose policy names only the service, nor for
	// a Deny guard on kms:ViaService.
	svcOnly := svcOK(t, s.Call(t, Admin, "CreateKey", map[string]any{"BypassPolicyLockoutSafetyCheck": true,
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"kms:*","Resource":"*"}]}`}), "CreateKey service only")
	keySvcOnly := svcOnly["KeyMetadata"].(map[string]any)["Arn"].(string)
	restricted := policyFor(account, `{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}`)
	k2 := svcOK(t, s.Call(t, Admin, "CreateKey", map[string]any{"Policy": restricted}), "CreateKey restricted")
	keyViaOnly := k2["KeyMetadata"].(map[string]any)["Arn"].(string)
	for _, c := range []Creds{Admin, svcUserA} {
		for _, key := range []string{keySvcOnly, keyViaOnly} {
			for _, hdr := range [][2]string{{"X-Amz-Source-Arn", "arn:aws:s3:::bucket-a"}, {"X-Amz-Via-Service", "s3.us-east-1.amazonaws.com"}, {"X-Amz-Source-Account", account}, {"User-Agent", "s3.amazonaws.com"}} {
				b := mustJSON(map[string]any{"KeyId": key, "Plaintext": "aGk="})
				req := s.NewKMSRequest(t, "Encrypt", b)
				req.Header.Set(hdr[0], hdr[1])
				Sign(t, req, b, c, "kms")
				svcRefused(t, Do(t, req), "Encrypt claiming the service with "+hdr[0], "AccessDeniedException", "")
			}
		}
	}
	svcOK(t, s.Call(t, svcS3, "Encrypt", map[string]any{"KeyId": keySvcOnly, "Plaintext": "aGk="}), "s3 front end on the service-only key")
	// An unsigned X-Amz-Source-Arn added after signing fails the signature.
	b := mustJSON(enc)
	req := s.NewKMSRequest(t, "Encrypt", b)
	Sign(t, req, b, svcS3, "kms")
	req.Header.Set("X-Amz-Source-Arn", "arn:aws:s3:::bucket-a")
	if r := Do(t, req); r.Status == http.StatusOK {
		t.Fatal("an unsigned X-Amz-Source-Arn was accepted")
	}

	// attack: the s3 front end as an IAM principal: it has no identity
	// policies, so it creates no keys, lists nothing, manages no IAM.
	svcRefused(t, s.Call(t, svcS3, "CreateKey", nil), "service CreateKey", "AccessDeniedException", "")
	svcRefused(t, s.Call(t, svcS3, "ListKeys", nil), "service ListKeys", "AccessDeniedException", "")
	if st, body := s.Query(t, svcS3, "iam", "Action", "CreateUser", "UserName", "svc-made"); st == http.StatusOK {
		t.Fatalf("service CreateUser: %s", body)
	}
	if st, body := s.Query(t, svcS3, "iam", "Action", "CreateAccessKey"); st == http.StatusOK {
		t.Fatalf("service CreateAccessKey: %s", body)
	}
	// The root may not mint, list or delete the front end's keys.
	if st, body := s.Query(t, Admin, "iam", "Action", "DeleteAccessKey", "AccessKeyId", svcS3.AKID); st == http.StatusOK {
		t.Fatalf("root deleted the service's access key: %s", body)
	}
	if _, body := s.Query(t, Admin, "iam", "Action", "ListAccessKeys"); strings.Contains(string(body), svcS3.AKID) {
		t.Fatalf("root lists the service's access key: %s", body)
	}
	// The default key policy (the account's root, and IAM) does not
	// extend to the service: it is not one of the account's IAM
	// principals.
	def := svcOK(t, s.Call(t, Admin, "CreateKey", nil), "CreateKey default")
	svcRefused(t, s.Call(t, svcS3, "Encrypt", map[string]any{"KeyId": keyIDOf(def), "Plaintext": "aGk="}), "service on a default-policy key", "AccessDeniedException", "")

	// attack, across accounts: account B names the s3 service in its key
	// policy and in a grant, without guards. Account A's s3 front end
	// gets the one cross-account denial, and its own-account s3 front
	// end (B's) gets in.
	kb := svcOK(t, s.Call(t, svcRootB, "CreateKey", map[string]any{"Policy": policyFor(svcAccountB,
		`{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"kms:*","Resource":"*"}`)}), "B CreateKey")
	keyB := kb["KeyMetadata"].(map[string]any)["Arn"].(string)
	kg := svcOK(t, s.Call(t, svcRootB, "CreateKey", nil), "B CreateKey default")
	keyBG := kg["KeyMetadata"].(map[string]any)["Arn"].(string)
	svcOK(t, s.Call(t, svcRootB, "CreateGrant", map[string]any{"KeyId": keyBG, "GranteePrincipal": "s3.amazonaws.com", "Operations": []string{"Encrypt", "GenerateDataKey"}}), "B grant to s3")
	for _, key := range []string{keyB, keyBG} {
		svcRefused(t, s.Call(t, svcS3, "Encrypt", map[string]any{"KeyId": key, "Plaintext": "aGk="}), "A's s3 on B's key",
			"AccessDeniedException", "User: s3.amazonaws.com is not authorized to perform: kms:Encrypt on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access")
		svcOK(t, s.Call(t, svcS3B, "Encrypt", map[string]any{"KeyId": key, "Plaintext": "aGk="}), "B's s3 on B's key")
	}
	// A grant to the service is matched for its own account's front end
	// only, and constraints still hold.
	kc := svcOK(t, s.Call(t, Admin, "CreateKey", nil), "CreateKey for grant")
	keyC := kc["KeyMetadata"].(map[string]any)["Arn"].(string)
	svcOK(t, s.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": keyC, "GranteePrincipal": "s3.amazonaws.com", "Operations": []string{"GenerateDataKey"},
		"Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"bucket": "a"}}}), "grant to s3")
	svcOK(t, s.Call(t, svcS3, "GenerateDataKey", map[string]any{"KeyId": keyC, "KeySpec": "AES_256", "EncryptionContext": map[string]string{"bucket": "a"}}), "s3 via grant")
	svcRefused(t, s.Call(t, svcS3, "GenerateDataKey", map[string]any{"KeyId": keyC, "KeySpec": "AES_256", "EncryptionContext": map[string]string{"bucket": "b"}}), "s3 via grant, wrong context", "AccessDeniedException", "")
	svcRefused(t, s.Call(t, svcLambdaA, "GenerateDataKey", map[string]any{"KeyId": keyC, "KeySpec": "AES_256", "EncryptionContext": map[string]string{"bucket": "a"}}), "lambda via s3's grant", "AccessDeniedException", "")

	// A grant to a service principal constrained to a SourceArn (the
	// GranteeServicePrincipal form) holds for that resource only.
	kd := svcOK(t, s.Call(t, Admin, "CreateKey", nil), "CreateKey for service grant")
	keyD := kd["KeyMetadata"].(map[string]any)["Arn"].(string)
	svcOK(t, s.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": keyD, "GranteeServicePrincipal": "s3.amazonaws.com",
		"RetiringPrincipal": "arn:aws:iam::111122223333:root", "Operations": []string{"Encrypt"},
		"Constraints": map[string]any{"SourceArn": "arn:aws:s3:::bucket-a"}}), "service grant with SourceArn")
	enc = map[string]any{"KeyId": keyD, "Plaintext": "aGk="}
	svcOK(t, withSource(svcS3, "arn:aws:s3:::bucket-a"), "s3 with the grant's SourceArn")
	svcRefused(t, withSource(svcS3, "arn:aws:s3:::bucket-b"), "s3 with another SourceArn", "AccessDeniedException", "")
	svcRefused(t, withSource(svcS3, ""), "s3 without SourceArn", "AccessDeniedException", "")
	svcRefused(t, withSource(svcLambdaA, "arn:aws:s3:::bucket-a"), "another service claiming the grant's SourceArn", "AccessDeniedException", "")

	// attack: another account creates nothing in A, and learns nothing.
	for _, c := range []Creds{svcRootB, svcS3B} {
		svcRefused(t, s.Call(t, c, "DescribeKey", map[string]any{"KeyId": "arn:aws:kms:us-east-1:111122223333:alias/aws/sqs"}), "B DescribeKey of A's alias/aws/sqs", "AccessDeniedException", "")
		svcRefused(t, s.Call(t, c, "Encrypt", map[string]any{"KeyId": "arn:aws:kms:us-east-1:111122223333:alias/aws/s3", "Plaintext": "aGk="}), "B Encrypt with A's alias/aws/s3", "AccessDeniedException", "")
	}
	als := svcOK(t, s.Call(t, Admin, "ListAliases", nil), "ListAliases")
	for _, a := range als["Aliases"].([]any) {
		a := a.(map[string]any)
		if a["AliasName"] == "alias/aws/sqs" || a["AliasName"] == "alias/aws/s3" {
			if _, ok := a["TargetKeyId"]; ok {
				t.Fatalf("another account's request created %v in A", a)
			}
		}
	}
	// A service's first call creates its own key only.
	svcRefused(t, s.Call(t, svcS3, "Encrypt", map[string]any{"KeyId": "alias/aws/lambda", "Plaintext": "aGk="}), "s3 first use of lambda's key", "NotFoundException", "")
	svcOK(t, s.Call(t, svcLambdaA, "Encrypt", map[string]any{"KeyId": "alias/aws/lambda", "Plaintext": "aGk="}), "lambda first use of its key")
	svcRefused(t, s.Call(t, svcS3, "Encrypt", map[string]any{"KeyId": "alias/aws/lambda", "Plaintext": "aGk="}), "s3 on lambda's key", "AccessDeniedException", "")
}
