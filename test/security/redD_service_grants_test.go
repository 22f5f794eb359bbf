package security

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// This file attacks grants that name a service principal (docs/services.md)
// from the service's side: a front end of one account retiring another
// account's grants, and a front end widening a grant constrained to one
// SourceArn by creating grants through it.

var (
	redDS3A   = Creds{AKID: "AKIAREDDGRANTS3A001", Secret: svcSecret}
	redDRootB = Creds{AKID: "AKIAREDDGRANTROOTB1", Secret: svcSecret}
	redDS3B   = Creds{AKID: "AKIAREDDGRANTS3B001", Secret: svcSecret}
)

// redDStartServices starts a server with an s3 front end in the admin's
// account and, in a second account, a root and its own s3 front end.
func redDStartServices(t *testing.T) *Server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "principals.yaml")
	doc := fmt.Sprintf(`accounts:
  - id: "%s"
    services:
      - name: s3
        access_keys:
          - {id: %s, secret_env: SVC_SECRET}
  - id: "%s"
    root_access_keys:
      - {id: %s, secret_env: SVC_SECRET}
    services:
      - name: s3
        access_keys:
          - {id: %s, secret_env: SVC_SECRET}
`, account, redDS3A.AKID, svcAccountB, redDRootB.AKID, redDS3B.AKID)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return Start(t, Opts{Args: []string{"--principals", file}, Env: []string{"SVC_SECRET=" + svcSecret}})
}

// redDWithSource sends op signed by c with a signed X-Amz-Source-Arn src
// (none when empty).
func redDWithSource(t *testing.T, s *Server, c Creds, op string, body map[string]any, src string) Response {
	t.Helper()
	b := mustJSON(body)
	req := s.NewKMSRequest(t, op, b)
	if src != "" {
		req.Header.Set("X-Amz-Source-Arn", src)
	}
	Sign(t, req, b, c, "kms")
	return Do(t, req)
}

// TestServiceRetireGrantAcrossAccounts: account B grants its own s3 front
// end (s3.amazonaws.com) use of a key, as grantee allowed RetireGrant and
// as retiring principal. Account A's s3 front end, which knows the grant
// IDs (from B's trail, a shared log, a support ticket), must not retire
// them: a grant of another account naming the service does not reach it.
func TestServiceRetireGrantAcrossAccounts(t *testing.T) {
	s := redDStartServices(t)
	keyB := svcOK(t, s.Call(t, redDRootB, "CreateKey", nil), "B CreateKey")["KeyMetadata"].(map[string]any)["Arn"].(string)
	asGrantee := svcOK(t, s.Call(t, redDRootB, "CreateGrant", map[string]any{"KeyId": keyB, "GranteePrincipal": "s3.amazonaws.com",
		"Operations": []string{"Encrypt", "RetireGrant"}}), "B grant to s3")["GrantId"].(string)
	asRetiring := svcOK(t, s.Call(t, redDRootB, "CreateGrant", map[string]any{"KeyId": keyB, "GranteePrincipal": "arn:aws:iam::" + svcAccountB + ":root",
		"RetiringPrincipal": "s3.amazonaws.com", "Operations": []string{"Encrypt"}}), "B grant retired by s3")["GrantId"].(string)

	denial := "User: s3.amazonaws.com is not authorized to perform: kms:RetireGrant on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"
	for _, id := range []string{asGrantee, asRetiring} {
		// attack: dry run (an existence oracle for the grant), then the
		// real retirement.
		svcRefused(t, s.Call(t, redDS3A, "RetireGrant", map[string]any{"KeyId": keyB, "GrantId": id, "DryRun": true}),
			"A's s3 dry-run retires B's grant "+id, "AccessDeniedException", denial)
		svcRefused(t, s.Call(t, redDS3A, "RetireGrant", map[string]any{"KeyId": keyB, "GrantId": id}),
			"A's s3 retires B's grant "+id, "AccessDeniedException", denial)
	}
	// Both grants are still there: B's s3 front end still encrypts
	// through the first one, and B lists both.
	svcOK(t, s.Call(t, redDS3B, "Encrypt", map[string]any{"KeyId": keyB, "Plaintext": "aGk="}), "B's s3 through its grant")
	list := svcOK(t, s.Call(t, redDRootB, "ListGrants", map[string]any{"KeyId": keyB}), "B ListGrants")
	if n := len(list["Grants"].([]any)); n != 2 {
		t.Fatalf("B's key has %d grants after A's attempts, want 2", n)
	}
	// B's own front end may retire them, as grantee and as retiring
	// principal.
	svcOK(t, s.Call(t, redDS3B, "RetireGrant", map[string]any{"KeyId": keyB, "GrantId": asRetiring}), "B's s3 retires as retiring principal")
	svcOK(t, s.Call(t, redDS3B, "RetireGrant", map[string]any{"KeyId": keyB, "GrantId": asGrantee}), "B's s3 retires as grantee")
}

// TestServiceGrantSourceArnNotWidened: a grant to the s3 service
// constrained to one bucket (SourceArn) and allowing CreateGrant. The front
// end acting for that bucket must not create, through it, a grant without
// the constraint (for itself, or for another account), which would let it
// use the key for every bucket: a grant made through a grant is no broader
// than its parent. As grantee it also retires the grant only for that
// bucket.
func TestServiceGrantSourceArnNotWidened(t *testing.T) {
	s := redDStartServices(t)
	key := svcOK(t, s.Call(t, Admin, "CreateKey", nil), "CreateKey")["KeyMetadata"].(map[string]any)["Arn"].(string)
	parent := svcOK(t, s.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": key, "GranteeServicePrincipal": "s3.amazonaws.com",
		"RetiringPrincipal": "arn:aws:iam::" + account + ":root", "Operations": []string{"Encrypt", "CreateGrant", "RetireGrant"},
		"Constraints": map[string]any{"SourceArn": "arn:aws:s3:::bucket-a"}}), "service grant")["GrantId"].(string)
	enc := map[string]any{"KeyId": key, "Plaintext": "aGk="}
	svcOK(t, redDWithSource(t, s, redDS3A, "Encrypt", enc, "arn:aws:s3:::bucket-a"), "s3 for bucket-a")
	svcRefused(t, redDWithSource(t, s, redDS3A, "Encrypt", enc, "arn:aws:s3:::bucket-b"), "s3 for bucket-b", "AccessDeniedException", "")

	// attack: child grants that drop the SourceArn constraint.
	for _, child := range []map[string]any{
		{"KeyId": key, "GranteePrincipal": "s3.amazonaws.com", "Operations": []string{"Encrypt"}},
		{"KeyId": key, "GranteePrincipal": "arn:aws:iam::" + svcAccountB + ":root", "Operations": []string{"Encrypt"}},
		{"KeyId": key, "GranteeServicePrincipal": "s3.amazonaws.com", "RetiringPrincipal": "arn:aws:iam::" + account + ":root",
			"Operations": []string{"Encrypt"}, "Constraints": map[string]any{"SourceArn": "arn:aws:s3:::bucket-b"}},
	} {
		r := redDWithSource(t, s, redDS3A, "CreateGrant", child, "arn:aws:s3:::bucket-a")
		if r.Status == http.StatusOK || r.ErrorType != "AccessDeniedException" {
			t.Errorf("s3 for bucket-a created a grant wider than its own (%v): %d %s %q", child, r.Status, r.ErrorType, r.Message)
		}
	}
	svcRefused(t, redDWithSource(t, s, redDS3A, "Encrypt", enc, "arn:aws:s3:::bucket-b"), "s3 for bucket-b after the attempts", "AccessDeniedException", "")
	svcRefused(t, redDWithSource(t, s, redDS3A, "Encrypt", enc, ""), "s3 without SourceArn after the attempts", "AccessDeniedException", "")
	svcRefused(t, s.Call(t, redDRootB, "Encrypt", enc), "B after the attempts", "AccessDeniedException", "")

	// A child with the same constraint is within the parent.
	svcOK(t, redDWithSource(t, s, redDS3A, "CreateGrant", map[string]any{"KeyId": key, "GranteeServicePrincipal": "s3.amazonaws.com",
		"RetiringPrincipal": "arn:aws:iam::" + account + ":root", "Operations": []string{"Encrypt"},
		"Constraints": map[string]any{"SourceArn": "arn:aws:s3:::bucket-a"}}, "arn:aws:s3:::bucket-a"), "child with the parent's SourceArn")

	// As grantee, the front end retires the grant only for its bucket.
	svcRefused(t, redDWithSource(t, s, redDS3A, "RetireGrant", map[string]any{"KeyId": key, "GrantId": parent}, "arn:aws:s3:::bucket-b"),
		"s3 for bucket-b retires bucket-a's grant", "AccessDeniedException", "")
	svcOK(t, redDWithSource(t, s, redDS3A, "RetireGrant", map[string]any{"KeyId": key, "GrantId": parent}, "arn:aws:s3:::bucket-a"), "s3 for bucket-a retires its grant")
}
