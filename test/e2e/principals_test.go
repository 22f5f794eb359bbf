package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trentkms/trent/internal/node"
)

// iamQuery sends a signed IAM query-API request (service "iam", region
// us-east-1, as the AWS CLI signs it) and returns the status and body.
func iamQuery(t testing.TB, endpoint, akid, secret string, kv ...string) (int, []byte) {
	t.Helper()
	params := url.Values{"Version": {"2010-05-08"}}
	for i := 0; i+1 < len(kv); i += 2 {
		params.Set(kv[i], kv[i+1])
	}
	body := params.Encode()
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func iamAdmin(t testing.TB, endpoint string, kv ...string) []byte {
	t.Helper()
	status, body := iamQuery(t, endpoint, adminAKID, adminSecret, kv...)
	if status != http.StatusOK {
		t.Fatalf("IAM %v: %d %s", kv[:2], status, body)
	}
	return body
}

func withSession(akid, secret, token string) func(*kms.Options) {
	return func(o *kms.Options) { o.Credentials = credentials.NewStaticCredentialsProvider(akid, secret, token) }
}

// TestPrincipalsStory is issue 4's end-to-end story: a user created through
// the IAM API cannot use a key until a grant or an identity policy allows
// it; a role assumed through STS works with the role's policies; and the
// root of another account (created as `trent admin create-account` does)
// gets exactly the cross-account operations the key policy allows.
func TestPrincipalsStory(t *testing.T) {
	n := startNode(t, t.TempDir(), node.Options{})
	ctx := ctxT(t)
	ep := n.Endpoint
	admin := newClient(ep)
	key, err := admin.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)

	// A user with an access key and no permissions.
	iamAdmin(t, ep, "Action", "CreateUser", "UserName", "dev")
	var ak struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	xml.Unmarshal(iamAdmin(t, ep, "Action", "CreateAccessKey", "UserName", "dev"), &ak)
	dev := newClient(ep, withCredentials(ak.ID, ak.Secret))
	devARN := "arn:aws:iam::" + account + ":user/dev"
	_, err = dev.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", "User: "+devARN+" is not authorized to perform: kms:Encrypt on resource: "+keyARN+" because no identity-based policy allows the kms:Encrypt action")

	// A grant allows exactly its operations.
	if _, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyARN), GranteePrincipal: aws.String(devARN),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}}); err != nil {
		t.Fatal(err)
	}
	enc, err := dev.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("secret")})
	if err != nil {
		t.Fatalf("Encrypt with grant: %v", err)
	}
	_, err = dev.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError(t, err, "AccessDeniedException", anyMessage)

	// An identity policy (the key policy delegates to the account) allows.
	iamAdmin(t, ep, "Action", "PutUserPolicy", "UserName", "dev", "PolicyName", "decrypt", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt","sts:AssumeRole"],"Resource":"*"}]}`)
	waitFor(t, func() error {
		_, err := dev.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		return err
	})

	// A role assumed through STS, with its own policy.
	iamAdmin(t, ep, "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+account+`"},"Action":"sts:AssumeRole"}]}`)
	iamAdmin(t, ep, "Action", "PutRolePolicy", "RoleName", "app", "PolicyName", "use", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`)
	stsc := sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(ep), HTTPClient: awshttp.NewBuildableClient(),
		Credentials: credentials.NewStaticCredentialsProvider(ak.ID, ak.Secret, ""), Retryer: aws.NopRetryer{}})
	ar, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + account + ":role/app"), RoleSessionName: aws.String("job")})
	if err != nil {
		t.Fatal(err)
	}
	c := ar.Credentials
	sess := newClient(ep, withSession(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))
	if _, err := sess.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt as role session: %v", err)
	}
	_, err = sess.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)})
	wantAPIError(t, err, "AccessDeniedException", "User: arn:aws:sts::"+account+":assumed-role/app/job is not authorized to perform: kms:DisableKey on resource: "+keyARN+" because no identity-based policy allows the kms:DisableKey action")

	// Another account's root, created as `trent admin create-account` does.
	const other = "444455556666"
	rk, rsecret, err := n.Directory.CreateAccount(ctx, other, "partner")
	if err != nil {
		t.Fatal(err)
	}
	partner := newClient(ep, withCredentials(rk.ID, rsecret))
	_, err = partner.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", anyMessage)
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + other + `:root"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(keyARN), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		_, err := partner.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("x")})
		return err
	})
	if _, err := partner.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("cross-account Decrypt: %v", err)
	}
	if _, err := partner.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("cross-account DescribeKey: %v", err)
	}
	// Key policy says kms:*, but AWS allows only the cross-account
	// operations to another account.
	for name, call := range map[string]func() error{
		"DisableKey": func() error {
			_, err := partner.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)})
			return err
		},
		"GetKeyPolicy": func() error {
			_, err := partner.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyARN)})
			return err
		},
		"ScheduleKeyDeletion": func() error {
			_, err := partner.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyARN)})
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("cross-account %s succeeded", name)
		}
	}
	// The partner's own key list holds none of this account's keys.
	keys, err := partner.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 0 {
		t.Fatalf("partner ListKeys = %d keys", len(keys.Keys))
	}
}

// waitFor retries f for a short while: caches on the server are coherent
// within the change feed's poll interval.
func waitFor(t testing.TB, f func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
