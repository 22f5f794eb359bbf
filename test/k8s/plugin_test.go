package k8s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2"
)

const annotationKeyARN = "key-arn.trentkms.github.io"

// TestPluginLifecycle drives trent k8s-kms-plugin with kube-apiserver's KMS v2
// code over the real socket, against a real trent serve: writes and reads,
// rotation on demand, a disabled key, restarts of the plugin and of Trent,
// and the audit trail.
func TestPluginLifecycle(t *testing.T) {
	ctx := context.Background()
	s := startTrent(t)
	keyARN := s.createKey(t, "alias/k8s-secrets")
	p := startPlugin(t, s, "alias/k8s-secrets")

	fi, err := os.Stat(p.socket)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode(); m.Type() != os.ModeSocket || m.Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", m)
	}

	a := newAPIServer(t, p.socket)
	st, err := a.refresh(ctx)
	if err != nil {
		t.Fatalf("first probe: %v", err)
	}
	keyID1 := s.currentKeyID(t, keyARN)
	if st.KeyID != keyID1 {
		t.Fatalf("status key_id %q, want the key ARN and its current material %q", st.KeyID, keyID1)
	}

	// Writes and reads.
	w := a.transformer()
	var before []object
	for i := range 3 {
		before = append(before, a.write(t, w, fmt.Sprintf("s%d", i)))
	}
	eo := encryptedObject(t, before[0])
	if eo.KeyID != keyID1 {
		t.Fatalf("stored key ID %q, want %q", eo.KeyID, keyID1)
	}
	if got := string(eo.Annotations[annotationKeyARN]); got != keyARN {
		t.Fatalf("annotation %s = %q, want %q", annotationKeyARN, got, keyARN)
	}
	for _, o := range before {
		// A fresh transformer has no DEK cached: the read decrypts the
		// seed through the plugin.
		if stale, err := a.read(a.transformer(), o); err != nil || stale {
			t.Fatalf("read %s: stale=%v err=%v", o.key, stale, err)
		}
	}

	// Only the plugin's principal may decrypt the seed: the administrator,
	// who may rotate and disable the key, may not.
	_, err = s.admin().Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: eo.EncryptedDEKSource,
		EncryptionContext: map[string]string{"k8s-kms-plugin": cluster}})
	expectAPIError(t, err, "AccessDeniedException")

	// Rotation on demand: Status's key ID changes, new writes use it, old
	// objects still decrypt (and are stale, so a storage migration rewrites
	// them).
	if _, err := s.admin().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	var keyID2 string
	waitFor(t, 30*time.Second, func() error {
		st, err := a.refresh(ctx)
		if err != nil {
			return err
		}
		if st.KeyID == keyID1 {
			return errors.New("key ID unchanged after rotation")
		}
		keyID2 = st.KeyID
		return nil
	})
	if want := s.currentKeyID(t, keyARN); keyID2 != want {
		t.Fatalf("status key_id after rotation %q, want %q", keyID2, want)
	}
	after := a.write(t, w, "after-rotation")
	if got := encryptedObject(t, after).KeyID; got != keyID2 {
		t.Fatalf("write after rotation stored key ID %q, want %q", got, keyID2)
	}
	for _, o := range before {
		if stale, err := a.read(a.transformer(), o); err != nil || !stale {
			t.Fatalf("read %s after rotation: stale=%v (want true) err=%v", o.key, stale, err)
		}
	}
	if stale, err := a.read(a.transformer(), after); err != nil || stale {
		t.Fatalf("read after-rotation: stale=%v err=%v", stale, err)
	}

	// A disabled key: Status answers, unhealthy, and a new seed cannot be
	// made; once the last seed's write window passes, writes fail.
	if _, err := s.admin().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	start := time.Now()
	st, err = a.refresh(ctx)
	if err == nil || st == nil || st.Healthz == "ok" || !strings.Contains(st.Healthz, "DisabledException") {
		t.Fatalf("status of a disabled key: %+v, %v; want an answer, unhealthy, naming DisabledException", st, err)
	}
	t.Logf("status of the disabled key answered in %s: %q", time.Since(start), st.Healthz)
	if _, _, _, err := kmsv2.GenerateTransformer(ctx, "disabled", a.svc, true); err == nil {
		t.Fatal("a new seed was wrapped under a disabled key")
	}
	// Within the seed's write window, writes go on, and objects whose seed
	// is cached keep reading.
	a.write(t, w, "while-disabled")
	if _, err := a.read(w, after); err != nil {
		t.Fatalf("cached read with the key disabled: %v", err)
	}
	restore := kmsv2.SetNowFuncForTests(a.name, func() time.Time { return time.Now().Add(writeDEKSourceMaxTTL + time.Minute) })
	if _, err := w.TransformToStorage(ctx, []byte("x"), nil); err == nil {
		t.Fatal("a write succeeded with the key disabled past the seed's write window")
	}
	restore()
	if _, err := a.read(a.transformer(), after); err == nil {
		t.Fatal("a seed decrypted under a disabled key")
	}
	if _, err := s.admin().EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	if _, err := a.refresh(ctx); err != nil {
		t.Fatalf("probe after EnableKey: %v", err)
	}

	// Restart the plugin: the apiserver's client reconnects to the same
	// socket, and everything decrypts.
	p.stop(t)
	if _, err := os.Lstat(p.socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind by a stopped plugin: %v", err)
	}
	p.start(t)
	for _, o := range append(before, after) {
		if _, err := a.read(a.transformer(), o); err != nil {
			t.Fatalf("read %s after plugin restart: %v", o.key, err)
		}
	}

	// Restart Trent: while it is down, Status answers unhealthy; once it is
	// back, everything decrypts and the key ID is unchanged.
	s.stop(t)
	st, err = a.refresh(ctx)
	if err == nil || st == nil || st.Healthz == "ok" {
		t.Fatalf("status with Trent down: %+v, %v; want an answer, unhealthy", st, err)
	}
	s.start(t)
	st, err = a.refresh(ctx)
	if err != nil || st.KeyID != keyID2 {
		t.Fatalf("status after Trent restart: %+v, %v; want healthy with key ID %q", st, err, keyID2)
	}
	for _, o := range append(before, after) {
		if _, err := a.read(a.transformer(), o); err != nil {
			t.Fatalf("read %s after Trent restart: %v", o.key, err)
		}
	}
	a.write(t, w, "after-restart")

	// The trail: every Encrypt and Decrypt of the plugin names its principal
	// and carries the cluster's encryption context.
	for _, name := range []string{"Encrypt", "Decrypt"} {
		n := 0
		for _, ev := range s.auditEvents(t, name) {
			uid, _ := ev["userIdentity"].(map[string]any)
			if uid["arn"] != pluginARN {
				continue
			}
			n++
			rp, _ := ev["requestParameters"].(map[string]any)
			ec, _ := rp["encryptionContext"].(map[string]any)
			if ec["k8s-kms-plugin"] != cluster {
				t.Errorf("%s event of the plugin without the cluster's context: %v", name, rp)
			}
		}
		if n == 0 {
			t.Errorf("no %s event of the plugin's principal %s in the trail", name, pluginARN)
		}
		t.Logf("%d %s events of the plugin", n, name)
	}
}

func expectAPIError(t testing.TB, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

// TestAliasMovedToAnotherKey: with --key-id an alias, moving the alias to a
// new key changes the key ID (new seeds are wrapped under the new key) and
// old objects keep decrypting under the key their annotation names.
func TestAliasMovedToAnotherKey(t *testing.T) {
	ctx := context.Background()
	s := startTrent(t)
	oldARN := s.createKey(t, "alias/k8s-secrets")
	p := startPlugin(t, s, "alias/k8s-secrets")
	a := newAPIServer(t, p.socket)
	if _, err := a.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	w := a.transformer()
	old := a.write(t, w, "old")

	newARN := s.createKey(t, "alias/k8s-secrets-next")
	if _, err := s.admin().UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/k8s-secrets"), TargetKeyId: aws.String(newARN)}); err != nil {
		t.Fatalf("UpdateAlias: %v", err)
	}
	waitFor(t, 30*time.Second, func() error {
		st, err := a.refresh(ctx)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(st.KeyID, newARN+":") {
			return fmt.Errorf("key ID %q is not the new key's", st.KeyID)
		}
		return nil
	})
	nw := a.write(t, w, "new")
	if eo := encryptedObject(t, nw); string(eo.Annotations[annotationKeyARN]) != newARN || !strings.HasPrefix(eo.KeyID, newARN+":") {
		t.Fatalf("write after the alias moved: key ID %q, annotation %q; want the new key %s", eo.KeyID, eo.Annotations[annotationKeyARN], newARN)
	}
	if got := string(encryptedObject(t, old).Annotations[annotationKeyARN]); got != oldARN {
		t.Fatalf("old object's annotation %q, want %q", got, oldARN)
	}
	for _, o := range []object{old, nw} {
		if _, err := a.read(a.transformer(), o); err != nil {
			t.Fatalf("read %s after the alias moved: %v", o.key, err)
		}
	}
}
