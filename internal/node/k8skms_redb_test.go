package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	kmsapi "k8s.io/kms/apis/v2"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/iam"
)

// TestRedBK8sKMSExpiredSession (red team B): the in-process plugin acts as
// the principal of its access key "exactly as for a signed request". A
// temporary (ASIA) key stops working over HTTP when it expires (SigV4
// verification refuses it with ExpiredTokenException), and expired session
// keys stay in the store until an AssumeRole call sweeps them. Before the
// fix the in-process plugin checked only that the key was Active, so a
// role session named as its principal kept encrypting and decrypting
// forever after its expiry.
func TestRedBK8sKMSExpiredSession(t *testing.T) {
	const akid = "ASIAREDBEXPIRED00001"
	sock := filepath.Join(t.TempDir(), "kms.sock")
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), K8sKMS: config.K8sKMSFile{
		Socket: sock, KeyID: "alias/k8s", ClusterName: "prod", AccessKeyID: akid}}
	n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := n.Directory.Caller(ctx, benchAKID)
	if err != nil {
		t.Fatal(err)
	}
	acct := admin.Account
	key := kmsCall(t, n, "CreateKey", map[string]any{"Policy": `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`})["KeyMetadata"].(map[string]any)
	kmsCall(t, n, "CreateAlias", map[string]any{"AliasName": "alias/k8s", "TargetKeyId": key["Arn"]})
	// A role session that expired a minute ago (as AssumeRole stores one).
	err = n.Directory.CreateAccessKey(ctx, iam.AccessKey{ID: akid, Secret: "redBsecretredBsecretredBsecretredBsecret",
		Account: acct, Type: iam.TypeAssumedRole, RoleARN: "arn:aws:iam::" + acct + ":role/k8s", SessionName: "plugin",
		PrincipalID: "AROAREDB:plugin", SessionToken: "token", Created: time.Now().Add(-time.Hour),
		Expires: time.Now().Add(-time.Minute).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := kmsapi.NewKeyManagementServiceClient(cc)
	st, err := c.Status(ctx, &kmsapi.StatusRequest{})
	if err != nil || !strings.HasPrefix(st.Healthz, "ExpiredTokenException") {
		t.Errorf("status as an expired session: %+v, %v; want ExpiredTokenException", st, err)
	}
	if enc, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Uid: "u1", Plaintext: []byte("seed")}); err == nil {
		t.Errorf("encrypt as an expired session succeeded: %d bytes", len(enc.Ciphertext))
	}
}
