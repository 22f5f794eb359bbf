package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/testenv"
)

const (
	s3FrontAKID   = "AKIAE2ES3FRONTEND01"
	s3FrontSecret = "e2e-s3-front-end-secret-0123456789"
)

// startManagedNode starts a node whose principals file declares the
// account's s3 front end (docs/services.md).
func startManagedNode(t *testing.T) *node.Node {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "principals.yaml")
	doc := fmt.Sprintf("accounts:\n  - id: \"%s\"\n    services:\n      - name: s3\n        access_keys:\n          - {id: %s, secret_env: S3_FRONT_SECRET}\n", account, s3FrontAKID)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := configFor(dir)
	cfg.Principals = file
	env := config.FromEnv(func(k string) (string, bool) {
		if k == "S3_FRONT_SECRET" {
			return s3FrontSecret, true
		}
		return "", false
	})
	env.AccessKeyID, env.SecretAccessKey = adminAKID, adminSecret
	n, err := node.Start(cfg, node.Options{Env: env})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { stopNode(t, n) })
	return n
}

// TestAWSManagedKeys is issue 18's story for AWS managed keys, with
// aws-sdk-go-v2: DescribeKey of alias/aws/s3 creates the key (KeyManager
// AWS); the s3 front end encrypts and generates data keys with it; the
// account root using it directly, and every change to it, is refused as
// AWS refuses it.
func TestAWSManagedKeys(t *testing.T) {
	n := startManagedNode(t)
	ctx := ctxT(t)
	admin := newClient(n.Endpoint)
	s3 := newClient(n.Endpoint, withCredentials(s3FrontAKID, s3FrontSecret))

	d, err := admin.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")})
	if err != nil {
		t.Fatalf("DescribeKey alias/aws/s3: %v", err)
	}
	md := d.KeyMetadata
	if md.KeyManager != types.KeyManagerTypeAws || md.KeyState != types.KeyStateEnabled || md.KeySpec != types.KeySpecSymmetricDefault {
		t.Fatalf("DescribeKey: %+v", md)
	}
	keyID, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	again, err := admin.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")})
	if err != nil || aws.ToString(again.KeyMetadata.KeyId) != keyID {
		t.Fatalf("second DescribeKey: %v %v", again, err)
	}

	enc, err := s3.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/s3"), Plaintext: []byte("object"),
		EncryptionContext: map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket/object"}})
	if err != nil {
		t.Fatalf("s3 Encrypt: %v", err)
	}
	if aws.ToString(enc.KeyId) != arn {
		t.Fatalf("Encrypt used %s", aws.ToString(enc.KeyId))
	}
	dk, err := s3.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/aws/s3"), KeySpec: types.DataKeySpecAes256})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("s3 GenerateDataKey: %v", err)
	}
	dec, err := s3.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob,
		EncryptionContext: map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket/object"}})
	if err != nil || string(dec.Plaintext) != "object" {
		t.Fatalf("s3 Decrypt: %v", err)
	}

	rootARN := "arn:aws:iam::" + account + ":root"
	denied := func(action string) string {
		return "User: " + rootARN + " is not authorized to perform: " + action + " on resource: " + arn + " because no resource-based policy allows the " + action + " action"
	}
	_, err = admin.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/s3"), Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:Encrypt"))
	_, err = admin.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob,
		EncryptionContext: map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket/object"}})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:Decrypt"))
	_, err = admin.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/aws/s3")})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:DeleteAlias"))
	_, err = admin.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:ScheduleKeyDeletion"))
	_, err = admin.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyID)})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:DisableKey"))
	_, err = admin.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(keyID), Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:TagResource"))
	_, err = admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String("default"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + rootARN + `"},"Action":"kms:*","Resource":"*"}]}`)})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:PutKeyPolicy"))

	rot, err := admin.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
	if err != nil || !rot.KeyRotationEnabled || aws.ToInt32(rot.RotationPeriodInDays) != 365 {
		t.Fatalf("GetKeyRotationStatus: %+v %v", rot, err)
	}
	pol, err := admin.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyID)})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), `"kms:ViaService" : "s3.`+region+`.amazonaws.com"`) {
		t.Fatalf("GetKeyPolicy: %v %v", pol, err)
	}
	als, err := admin.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var s3Target, ebsTarget string
	seenEBS := false
	for _, a := range als.Aliases {
		switch aws.ToString(a.AliasName) {
		case "alias/aws/s3":
			s3Target = aws.ToString(a.TargetKeyId)
		case "alias/aws/ebs":
			seenEBS, ebsTarget = true, aws.ToString(a.TargetKeyId)
		}
	}
	if s3Target != keyID || !seenEBS || ebsTarget != "" {
		t.Fatalf("ListAliases: s3 -> %q, ebs listed %v -> %q", s3Target, seenEBS, ebsTarget)
	}

	// DryRun with IGNORE_CIPHERTEXT tests the s3 front end's permission
	// without a ciphertext; the root's is refused.
	_, err = s3.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String("alias/aws/s3"), CiphertextBlob: []byte("not a ciphertext"),
		DryRun: aws.Bool(true), DryRunModifiers: []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}})
	wantAPIError(t, err, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	_, err = admin.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String("alias/aws/s3"), CiphertextBlob: []byte("not a ciphertext"),
		DryRun: aws.Bool(true), DryRunModifiers: []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}})
	wantAPIError(t, err, "AccessDeniedException", denied("kms:Decrypt"))
	_, err = s3.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: []byte("not a ciphertext"), SourceKeyId: aws.String("alias/aws/s3"),
		DestinationKeyId: aws.String("alias/aws/s3"), DryRun: aws.Bool(true), DryRunModifiers: []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}})
	wantAPIError(t, err, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")

	t.Run("awscli", func(t *testing.T) { managedCLI(t, n.Endpoint) })
}

// managedCLI drives the same story with the AWS CLI, against a fresh
// alias (aws/sqs is created by DescribeKey here, aws/s3's first use by
// the front end is Encrypt).
func managedCLI(t *testing.T, endpoint string) {
	cli := os.Getenv("AWS_CLI")
	if cli == "" {
		p, err := exec.LookPath("aws")
		if err != nil {
			testenv.Missing(t, testenv.AWSCLI, "no AWS CLI on PATH")
		}
		cli = p
	}
	home := t.TempDir()
	run := func(akid, secret string, args ...string) (string, error) {
		cmd := exec.Command(cli, append(args, "--endpoint-url", endpoint, "--region", region, "--output", "json")...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_ACCESS_KEY_ID=" + akid, "AWS_SECRET_ACCESS_KEY=" + secret,
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(adminAKID, adminSecret, "kms", "describe-key", "--key-id", "alias/aws/sqs")
	if err != nil {
		t.Fatalf("describe-key: %v\n%s", err, out)
	}
	var d struct {
		KeyMetadata struct{ KeyId, KeyManager, Arn string }
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.KeyMetadata.KeyManager != "AWS" {
		t.Fatalf("describe-key: %s", out)
	}
	out, err = run(s3FrontAKID, s3FrontSecret, "kms", "encrypt", "--key-id", "alias/aws/s3", "--plaintext", "aGVsbG8=")
	if err != nil || !strings.Contains(out, "CiphertextBlob") {
		t.Fatalf("front end encrypt: %v\n%s", err, out)
	}
	out, err = run(s3FrontAKID, s3FrontSecret, "kms", "generate-data-key", "--key-id", "alias/aws/s3", "--key-spec", "AES_256")
	if err != nil || !strings.Contains(out, "Plaintext") {
		t.Fatalf("front end generate-data-key: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"kms", "encrypt", "--key-id", "alias/aws/sqs", "--plaintext", "aGVsbG8="}, "kms:Encrypt"},
		{[]string{"kms", "delete-alias", "--alias-name", "alias/aws/sqs"}, "kms:DeleteAlias"},
		{[]string{"kms", "schedule-key-deletion", "--key-id", d.KeyMetadata.KeyId, "--pending-window-in-days", "7"}, "kms:ScheduleKeyDeletion"},
		{[]string{"kms", "disable-key", "--key-id", d.KeyMetadata.KeyId}, "kms:DisableKey"},
		{[]string{"kms", "tag-resource", "--key-id", d.KeyMetadata.KeyId, "--tags", "TagKey=k,TagValue=v"}, "kms:TagResource"},
		{[]string{"kms", "put-key-policy", "--key-id", d.KeyMetadata.KeyId, "--policy-name", "default", "--policy",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`}, "kms:PutKeyPolicy"},
	} {
		out, err := run(adminAKID, adminSecret, c.args...)
		want := "(AccessDeniedException) when calling the"
		msg := "User: arn:aws:iam::" + account + ":root is not authorized to perform: " + c.want + " on resource: " + d.KeyMetadata.Arn + " because no resource-based policy allows the " + c.want + " action"
		if err == nil || !strings.Contains(out, want) || !strings.Contains(out, msg) {
			t.Errorf("%v: %v\n%s", c.args[:2], err, out)
		}
	}
}
