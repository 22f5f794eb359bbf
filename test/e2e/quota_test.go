package e2e

// Quotas and throttling (issue 18, item 2), end to end: `trent admin
// quotas set` changes a running node's quotas without restart; the
// (N+1)th key of an account is refused with AWS's LimitExceededException;
// a rate quota trips ThrottlingException (HTTP 400, AWS's message) and the
// SDK's standard retryer recovers from it.

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// adminQuotas runs `trent admin quotas set` on dir's store and returns
// its output.
func adminQuotas(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(trentBinary(t), append([]string{"admin", "quotas", "set", "--data-dir", dir, "--account-id", account}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("trent admin quotas set %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// waitForCode retries call until it fails with code, for a while (the
// node applies a quota change when its change feed reports it).
func waitForCode(t *testing.T, code string, call func() error) error {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := call()
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == code {
			return err
		}
		if err != nil && !errors.As(err, &ae) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 15s; last outcome %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestQuotaKeysPerAccount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startConfigured(t, configFor(dir))
	c := newClient(n.Endpoint)
	ctx := ctxT(t)
	for range 2 {
		createKey(t, c, nil)
	}
	// Lowered below the account's usage: every CreateKey is refused once
	// the node has the change.
	out := adminQuotas(t, dir, "--keys", "1")
	if !strings.Contains(out, "keys ") || !strings.Contains(out, "account") {
		t.Fatalf("admin output does not show the account's quota:\n%s", out)
	}
	err := waitForCode(t, "LimitExceededException", func() error { _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); return err })
	var ae smithy.APIError
	errors.As(err, &ae)
	var used int
	if _, scanErr := fmt.Sscanf(ae.ErrorMessage(), "Key quota for this account in this region is 1 but the current usage is %d.", &used); scanErr != nil || used < 2 {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	// Room for exactly one more: the next key is created, the one after
	// it refused.
	adminQuotas(t, dir, "--keys", fmt.Sprint(used+1))
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
		if err == nil {
			break
		}
		wantAPIError(t, err, "LimitExceededException", fmt.Sprintf("Key quota for this account in this region is 1 but the current usage is %d.", used))
		if time.Now().After(deadline) {
			t.Fatal("the raised quota was not applied within 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{})
	wantAPIError(t, err, "LimitExceededException", fmt.Sprintf("Key quota for this account in this region is %d but the current usage is %d.", used+1, used+1))
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Fatalf("LimitExceededException with HTTP status %v, want 400", err)
	}
}

func TestQuotaThrottling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startConfigured(t, configFor(dir))
	c := newClient(n.Endpoint)
	ctx := ctxT(t)
	key := createKey(t, c, nil)
	adminQuotas(t, dir, "--rate", "symmetric=5", "--rate", "DescribeKey=2")
	// A burst past the rate is throttled (no retries on this client).
	err := waitForCode(t, "ThrottlingException", func() error {
		for range 10 {
			if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")}); err != nil {
				return err
			}
		}
		return nil
	})
	wantAPIError(t, err, "ThrottlingException", "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Fatalf("ThrottlingException with HTTP status %v, want 400", err)
	}
	// The control-plane rate of DescribeKey is its own.
	err = waitForCode(t, "ThrottlingException", func() error {
		for range 4 {
			if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId}); err != nil {
				return err
			}
		}
		return nil
	})
	wantAPIError(t, err, "ThrottlingException", "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
	// The SDK's standard retryer (its defaults, but for more attempts than
	// 3, so that jitter cannot make the test flaky) classifies
	// ThrottlingException as a throttle and backs off: 15 Encrypts at 5/s
	// all succeed.
	retrying := newClient(n.Endpoint, func(o *kms.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 10 })
	})
	start := time.Now()
	for i := range 15 {
		if _, err := retrying.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")}); err != nil {
			t.Fatalf("Encrypt %d with the standard retryer: %v", i, err)
		}
	}
	t.Logf("15 Encrypts at a quota of 5/s took %s with the standard retryer", time.Since(start).Round(time.Millisecond))
	// Lifting the account's rates ends the throttling.
	adminQuotas(t, dir, "--rates", "default")
	waitFor(t, func() error {
		for range 20 {
			if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")}); err != nil {
				return err
			}
		}
		return nil
	})
}
