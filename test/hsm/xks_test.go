package hsm_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/hsm/hsmtest"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
	"github.com/trentkms/trent/internal/xks"
)

const (
	xksAccessKeyID = "XKSTESTACCESSKEYID234567"
	xksSecret      = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
)

// startProxy serves Trent's XKS proxy over HTTPS on 127.0.0.1, backed by
// token B, with external key "ext-1".
func startProxy(t testing.TB) (*httptest.Server, *hsm.Token) {
	t.Helper()
	tok := hsmtest.Open(t, hsmtest.TokenB)
	if _, err := tok.FindKey("xks-ext-1"); err != nil {
		must(tok.GenerateAESKey("xks-ext-1"))(t)
	}
	p := must(xks.NewProxy(xks.ProxyConfig{Token: tok, Region: "us-east-1",
		Credentials: []xks.Credential{{AccessKeyID: xksAccessKeyID, SecretAccessKey: xksSecret}},
		Logger:      slog.New(slog.DiscardHandler)}))(t)
	srv := httptest.NewTLSServer(p)
	t.Cleanup(srv.Close)
	return srv, tok
}

func xksService(t testing.TB, srv *httptest.Server) *node {
	hc := srv.Client()
	return newService(t, keystore.Config{XKSTimeout: 2 * time.Second,
		NewXKSClient: func(c xks.ClientConfig) (*xks.Client, error) {
			c.HTTPClient = hc
			return xks.NewClient(c)
		}})
}

func createXKSStore(t *testing.T, svc *node, name, endpoint, secret string) (string, error) {
	out, err := svc.KeyStores.CreateCustomKeyStore(callerCtx(), &wire.CreateCustomKeyStoreInput{
		CustomKeyStoreName: sp(name), CustomKeyStoreType: sp(keystore.StoreTypeExternal),
		XksProxyURIEndpoint: sp(endpoint), XksProxyURIPath: sp("/kms/xks/v1"), XksProxyConnectivity: sp("PUBLIC_ENDPOINT"),
		XksProxyAuthenticationCredential: &wire.XksProxyAuthenticationCredential{AccessKeyID: sp(xksAccessKeyID), RawSecretAccessKey: sp(secret)}})
	if err != nil {
		return "", err
	}
	return out.CustomKeyStoreID, nil
}

func TestExternalKeyStore(t *testing.T) {
	hsmConfig(t, hsmtest.TokenB)
	srv, _ := startProxy(t)
	svc := xksService(t, srv)
	ctx := callerCtx()

	t.Run("fail/wrong-credential", func(t *testing.T) {
		_, err := createXKSStore(t, svc, "bad", srv.URL, "d3JvbmctY3JlZGVudGlhbC13cm9uZy1jcmVkZW50aWFsLXg=")
		wantAWS(t, err, awserr.XksProxyIncorrectAuthenticationCred, "")
	})
	t.Run("fail/unreachable", func(t *testing.T) {
		_, err := createXKSStore(t, svc, "gone", "https://127.0.0.1:1", xksSecret)
		wantAWS(t, err, awserr.XksProxyUriUnreachable, "")
	})

	id := must(createXKSStore(t, svc, "xks1", srv.URL, xksSecret))(t)
	if st := describeStore(t, svc, id); st.ConnectionState != keystore.ConnDisconnected || st.XksProxyConfiguration == nil ||
		st.XksProxyConfiguration.AccessKeyID != xksAccessKeyID || st.XksProxyConfiguration.URIEndpoint != srv.URL {
		t.Fatalf("new store = %+v", st)
	}
	must(svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	if st := describeStore(t, svc, id); st.ConnectionState != keystore.ConnConnected {
		t.Fatalf("after connect: %+v", st)
	}
	_, err := svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("EXTERNAL_KEY_STORE"), CustomKeyStoreID: &id, XksKeyID: sp("no-such-key")})
	wantAWS(t, err, awserr.XksKeyNotFound, "")
	md := must(svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("EXTERNAL_KEY_STORE"), CustomKeyStoreID: &id, XksKeyID: sp("ext-1")}))(t).KeyMetadata
	if md.XksKeyConfiguration == nil || md.XksKeyConfiguration.ID != "ext-1" || md.CustomKeyStoreID != id {
		t.Fatalf("key metadata = %+v", md)
	}
	_, err = svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("EXTERNAL_KEY_STORE"), CustomKeyStoreID: &id, XksKeyID: sp("ext-1")})
	wantAWS(t, err, awserr.XksKeyAlreadyInUse, "")

	ec := map[string]string{"k": "v"}
	enc := must(svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &md.KeyID, Plaintext: []byte("double encrypted"), EncryptionContext: ec}))(t)
	dec := must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))(t)
	if string(dec.Plaintext) != "double encrypted" {
		t.Fatalf("Decrypt = %q", dec.Plaintext)
	}
	_, err = svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"k": "w"}})
	if e := awserr.As(err); e == nil || (e.Code != awserr.InvalidCiphertext && e.Code != awserr.KMSInvalidState) {
		t.Fatalf("Decrypt with wrong context: %v", err)
	}
	gdk := must(svc.GenerateDataKey(ctx, &wire.GenerateDataKeyInput{KeyID: &md.KeyID, NumberOfBytes: ptr64(32)}))(t)
	if dk := must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: gdk.CiphertextBlob}))(t); !bytes.Equal(dk.Plaintext, gdk.Plaintext) {
		t.Fatal("GenerateDataKey round trip")
	}

	// Disconnect: keys Unavailable with AWS's exception; reconnect restores.
	must(svc.KeyStores.DisconnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	_, err = svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantAWS(t, err, awserr.KMSInvalidState, md.Arn+" is unavailable.")
	if d := must(svc.DescribeKey(ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t); d.KeyMetadata.KeyState != kms.StateUnavailable {
		t.Fatalf("KeyState = %s", d.KeyMetadata.KeyState)
	}
	must(svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))(t)

	// The external key is needed: with the proxy gone nothing decrypts.
	srv.Close()
	_, err = svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantAWS(t, err, awserr.KMSInvalidState, "")
}

func ptr64(n int64) *int64 { return &n }

// xksKey sets up a connected external key store and one key in it.
func xksKey(tb testing.TB, svc *node, endpoint string) string {
	ctx := callerCtx()
	out := must(svc.KeyStores.CreateCustomKeyStore(ctx, &wire.CreateCustomKeyStoreInput{
		CustomKeyStoreName: sp("xks"), CustomKeyStoreType: sp(keystore.StoreTypeExternal),
		XksProxyURIEndpoint: sp(endpoint), XksProxyURIPath: sp("/kms/xks/v1"), XksProxyConnectivity: sp("PUBLIC_ENDPOINT"),
		XksProxyAuthenticationCredential: &wire.XksProxyAuthenticationCredential{AccessKeyID: sp(xksAccessKeyID), RawSecretAccessKey: sp(xksSecret)}}))(tb)
	must(svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &out.CustomKeyStoreID}))(tb)
	return must(svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("EXTERNAL_KEY_STORE"), CustomKeyStoreID: &out.CustomKeyStoreID, XksKeyID: sp("ext-1")}))(tb).KeyMetadata.KeyID
}

func BenchmarkXKSEncryptDecrypt(b *testing.B) {
	hsmConfig(b, hsmtest.TokenB)
	srv, _ := startProxy(b)
	svc := xksService(b, srv)
	key := xksKey(b, svc, srv.URL)
	ctx := callerCtx()
	pt := make([]byte, 32)
	for b.Loop() {
		enc := must(svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &key, Plaintext: pt}))(b)
		must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))(b)
	}
}

// FuzzXKSCiphertext feeds modified ciphertexts of an external-store key to
// Decrypt: it must never panic, and must never return a plaintext other
// than the one sealed.
func FuzzXKSCiphertext(f *testing.F) {
	hsmConfig(f, hsmtest.TokenB)
	srv, _ := startProxy(f)
	svc := xksService(f, srv)
	key := xksKey(f, svc, srv.URL)
	ctx := callerCtx()
	enc := must(svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &key, Plaintext: []byte("fuzz")}))(f)
	f.Add(enc.CiphertextBlob)
	f.Add(enc.CiphertextBlob[:len(enc.CiphertextBlob)-17])
	f.Fuzz(func(t *testing.T, blob []byte) {
		out, err := svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: blob})
		if err == nil && string(out.Plaintext) != "fuzz" {
			t.Fatalf("Decrypt of a modified blob returned %q", out.Plaintext)
		}
	})
}
