package k8s

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestInProcess drives the plugin that trent serve --k8s-kms-socket runs
// in-process, as the principal of the plugin's access key, with
// kube-apiserver's KMS v2 code: the key policy authorizes it as it does the
// separate plugin, and the trail names that principal.
func TestInProcess(t *testing.T) {
	ctx := context.Background()
	sock := filepath.Join(t.TempDir(), "kms.sock")
	s := startTrent(t, "--k8s-kms-socket", sock, "--k8s-kms-key-id", "alias/k8s-secrets",
		"--k8s-kms-cluster-name", cluster, "--k8s-kms-access-key-id", pluginKey)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode(); m.Type() != os.ModeSocket || m.Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", m)
	}
	a := newAPIServer(t, sock)
	// No key yet: unhealthy, with the reason.
	st, err := a.refresh(ctx)
	if err == nil || st == nil || !strings.Contains(st.Healthz, "NotFoundException") {
		t.Fatalf("status before the key exists: %+v, %v", st, err)
	}
	keyARN := s.createKey(t, "alias/k8s-secrets")
	st, err = a.refresh(ctx)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	keyID1 := s.currentKeyID(t, keyARN)
	if st.KeyID != keyID1 {
		t.Fatalf("status key_id %q, want %q", st.KeyID, keyID1)
	}
	w := a.transformer()
	o := a.write(t, w, "db")
	if _, err := a.read(a.transformer(), o); err != nil {
		t.Fatalf("read: %v", err)
	}

	if _, err := s.admin().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	waitFor(t, 30*time.Second, func() error {
		st, err := a.refresh(ctx)
		if err != nil {
			return err
		}
		if st.KeyID == keyID1 {
			return errors.New("key ID unchanged after rotation")
		}
		return nil
	})
	o2 := a.write(t, w, "db2")
	if got, want := encryptedObject(t, o2).KeyID, s.currentKeyID(t, keyARN); got != want {
		t.Fatalf("write after rotation: key ID %q, want %q", got, want)
	}
	if stale, err := a.read(a.transformer(), o); err != nil || !stale {
		t.Fatalf("old object after rotation: stale=%v err=%v", stale, err)
	}

	if _, err := s.admin().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	if st, err := a.refresh(ctx); err == nil || st == nil || !strings.Contains(st.Healthz, "DisabledException") {
		t.Fatalf("status of a disabled key: %+v, %v", st, err)
	}
	if _, err := s.admin().EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}

	// Restart Trent: the socket comes back, and everything decrypts.
	s.restart(t)
	if _, err := a.refresh(ctx); err != nil {
		t.Fatalf("probe after restart: %v", err)
	}
	for _, x := range []object{o, o2} {
		if _, err := a.read(a.transformer(), x); err != nil {
			t.Fatalf("read %s after restart: %v", x.key, err)
		}
	}

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
			if ec["k8s-kms-plugin"] != cluster || ev["sourceIPAddress"] != "k8s-kms-plugin" || uid["accessKeyId"] != pluginKey {
				t.Errorf("%s event of the in-process plugin: %v", name, ev)
			}
			if ev["errorCode"] == nil && len(ev["resources"].([]any)) != 1 {
				t.Errorf("%s event without its key: %v", name, ev)
			}
		}
		if n == 0 {
			t.Errorf("no %s event of the plugin's principal in the trail", name)
		}
		t.Logf("%d %s events of the in-process plugin", n, name)
	}
}

// TestInProcessAuthorizedAsItsPrincipal: the in-process plugin has no
// rights of its own. Configured with the administrator's access key, whom
// the key policy does not allow to encrypt, it is unhealthy with
// AccessDeniedException, and the trail records the refused call as the
// administrator's.
func TestInProcessAuthorizedAsItsPrincipal(t *testing.T) {
	ctx := context.Background()
	sock := filepath.Join(t.TempDir(), "kms.sock")
	s := startTrent(t, "--k8s-kms-socket", sock, "--k8s-kms-key-id", "alias/k8s-secrets",
		"--k8s-kms-cluster-name", cluster, "--k8s-kms-access-key-id", adminAKID)
	s.createKey(t, "alias/k8s-secrets")
	a := newAPIServer(t, sock)
	st, err := a.refresh(ctx)
	if err == nil || st == nil || !strings.Contains(st.Healthz, "AccessDeniedException") {
		t.Fatalf("status as a principal the key policy does not allow: %+v, %v", st, err)
	}
	denied := 0
	for _, ev := range s.auditEvents(t, "Encrypt") {
		uid, _ := ev["userIdentity"].(map[string]any)
		if uid["accessKeyId"] == adminAKID && ev["errorCode"] == "AccessDeniedException" && ev["sourceIPAddress"] == "k8s-kms-plugin" {
			denied++
		}
	}
	if denied == 0 {
		t.Fatal("no refused Encrypt of the in-process plugin in the trail")
	}
}
