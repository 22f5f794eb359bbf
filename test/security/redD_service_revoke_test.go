package security

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Two findings of the redD review, fixed: a service front end's access
// key is revoked by removing it from the principals file, and a grant on
// an AWS managed key stays in the key's account.

// TestServiceAccessKeyRevocable: a service's front end (docs/services.md)
// is declared in the principals file with its access keys. Its secret
// leaks, or the gateway is decommissioned: the operator must be able to
// cut it off. No IAM request touches a service's keys, so the file is
// their whole list: restarted with a file that no longer declares the
// service, the key is refused (docs/services.md).
func TestServiceAccessKeyRevocable(t *testing.T) {
	dir, root := t.TempDir(), randHex(32)
	gw := Creds{AKID: "AKIAREDDREVOKES3001", Secret: svcSecret}
	write := func(withService bool) string {
		file := filepath.Join(t.TempDir(), "principals.yaml")
		doc := fmt.Sprintf("accounts:\n  - id: \"%s\"\n", account)
		if withService {
			doc += fmt.Sprintf("    services:\n      - name: s3\n        access_keys:\n          - {id: %s, secret_env: SVC_SECRET}\n", gw.AKID)
		}
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	start := func(file string) *Server {
		return Start(t, Opts{DataDir: dir, RootKeyHex: root, Args: []string{"--principals", file}, Env: []string{"SVC_SECRET=" + svcSecret}})
	}
	s := start(write(true))
	svcOK(t, s.Call(t, gw, "GenerateDataKey", map[string]any{"KeyId": "alias/aws/s3", "KeySpec": "AES_256"}), "the gateway uses alias/aws/s3")
	s.Stop(t)

	// The operator removes the gateway from the file and restarts.
	s = start(write(false))
	if r := s.Call(t, gw, "GenerateDataKey", map[string]any{"KeyId": "alias/aws/s3", "KeySpec": "AES_256"}); r.Status != http.StatusBadRequest || r.ErrorType != "UnrecognizedClientException" {
		t.Fatalf("the gateway's key, no longer declared, still answers %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	s.Stop(t)
	// Declared again, it works again (the file is the list, both ways).
	s = start(write(true))
	svcOK(t, s.Call(t, gw, "GenerateDataKey", map[string]any{"KeyId": "alias/aws/s3", "KeySpec": "AES_256"}), "the gateway declared again")
}

// TestManagedKeyGrantStaysInAccount: for the services that make grants on
// their AWS managed key (ebs, rds, dynamodb, ...), the key's policy allows
// kms:CreateGrant through the service, with no condition on the grantee,
// as AWS writes it. In AWS the service decides the grant's contents; in
// Trent the front end does, so its credentials (leaked, or a tenant able
// to steer it) give another account direct, lasting use of the account's
// AWS managed key, which docs/services.md says "only the service's front
// end of the account uses". The safe outcome asserted here: a grant on an
// AWS managed key to a principal of another account is refused (or, if
// made, does not let that account encrypt with the key).
func TestManagedKeyGrantStaysInAccount(t *testing.T) {
	ec2 := Creds{AKID: "AKIAREDDGRANTEC2A01", Secret: svcSecret}
	rootB := Creds{AKID: "AKIAREDDGRANTROOTB2", Secret: svcSecret}
	file := filepath.Join(t.TempDir(), "principals.yaml")
	doc := fmt.Sprintf(`accounts:
  - id: "%s"
    services:
      - name: ec2
        access_keys:
          - {id: %s, secret_env: SVC_SECRET}
  - id: "%s"
    root_access_keys:
      - {id: %s, secret_env: SVC_SECRET}
`, account, ec2.AKID, svcAccountB, rootB.AKID)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Start(t, Opts{Args: []string{"--principals", file}, Env: []string{"SVC_SECRET=" + svcSecret}})
	ebs := svcOK(t, s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": "alias/aws/ebs"}), "DescribeKey alias/aws/ebs")["KeyMetadata"].(map[string]any)["Arn"].(string)
	svcOK(t, s.Call(t, ec2, "Encrypt", map[string]any{"KeyId": ebs, "Plaintext": "aGk="}), "the ec2 front end uses its key")
	if r := s.Call(t, ec2, "CreateGrant", map[string]any{"KeyId": ebs, "GranteePrincipal": "arn:aws:iam::" + svcAccountB + ":root", "Operations": []string{"Encrypt", "Decrypt"}}); r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" {
		t.Errorf("CreateGrant of alias/aws/ebs to another account: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	// A grant within the account is still the service's to make.
	svcOK(t, s.Call(t, ec2, "CreateGrant", map[string]any{"KeyId": ebs, "GranteePrincipal": "arn:aws:iam::" + account + ":root", "Operations": []string{"Decrypt"}}), "the ec2 front end grants within its account")
	if r := s.Call(t, rootB, "Encrypt", map[string]any{"KeyId": ebs, "Plaintext": "aGk="}); r.Status == http.StatusOK {
		t.Fatal("the ec2 front end granted another account direct use of the account's AWS managed key alias/aws/ebs")
	}
}
