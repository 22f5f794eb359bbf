package hsm_test

import (
	"bytes"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/hsm/hsmtest"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
)

const trustAnchor = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----"

func createCloudStore(t *testing.T, svc *node, name, cluster, password string) (string, error) {
	t.Helper()
	out, err := svc.KeyStores.CreateCustomKeyStore(callerCtx(), &wire.CreateCustomKeyStoreInput{
		CustomKeyStoreName: sp(name), CloudHsmClusterID: sp(cluster),
		TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp(password)})
	if err != nil {
		return "", err
	}
	return out.CustomKeyStoreID, nil
}

func describeStore(t *testing.T, svc *node, id string) wire.CustomKeyStoresListEntry {
	t.Helper()
	out := must(svc.KeyStores.DescribeCustomKeyStores(callerCtx(), &wire.DescribeCustomKeyStoresInput{CustomKeyStoreID: &id}))(t)
	if len(out.CustomKeyStores) != 1 {
		t.Fatalf("DescribeCustomKeyStores(%s) = %d stores", id, len(out.CustomKeyStores))
	}
	return out.CustomKeyStores[0]
}

func TestCreateCustomKeyStoreValidation(t *testing.T) {
	cfg := hsmConfig(t, cloudToken)
	svc := newService(t, keystore.Config{PKCS11Module: cfg.Module})
	if _, err := createCloudStore(t, svc, "taken", cloudCluster, hsmtest.PIN+"5678"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   wire.CreateCustomKeyStoreInput
		code string
	}{
		{"fail/no-name", wire.CreateCustomKeyStoreInput{CloudHsmClusterID: sp(cloudCluster)}, awserr.Validation},
		{"fail/no-password", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("a"), CloudHsmClusterID: sp("cluster-abcdefghijkl"), TrustAnchorCertificate: sp(trustAnchor)}, awserr.Validation},
		{"fail/short-password", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("a"), CloudHsmClusterID: sp("cluster-abcdefghijkl"), TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp("123")}, awserr.Validation},
		{"fail/unknown-token", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("a"), CloudHsmClusterID: sp("cluster-abcdefghijkl"), TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp("12345678")}, awserr.CloudHsmClusterNotFound},
		{"fail/name-in-use", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("taken"), CloudHsmClusterID: sp("cluster-abcdefghijkl"), TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp("12345678")}, awserr.CustomKeyStoreNameInUse},
		{"fail/cluster-in-use", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("b"), CloudHsmClusterID: sp(cloudCluster), TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp("12345678")}, awserr.CloudHsmClusterInUse},
		{"fail/xks-fields-on-cloudhsm", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("c"), CloudHsmClusterID: sp("cluster-abcdefghijkl"), TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp("12345678"), XksProxyURIPath: sp("/kms/xks/v1")}, awserr.Validation},
		{"fail/bad-type", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("d"), CustomKeyStoreType: sp("HSM")}, awserr.Validation},
		{"fail/xks-vpc", wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("e"), CustomKeyStoreType: sp(keystore.StoreTypeExternal),
			XksProxyURIEndpoint: sp("https://127.0.0.1"), XksProxyURIPath: sp("/kms/xks/v1"), XksProxyConnectivity: sp("VPC_ENDPOINT_SERVICE"),
			XksProxyAuthenticationCredential: &wire.XksProxyAuthenticationCredential{AccessKeyID: sp("ABCDEFGHIJKLMNOPQRST"), RawSecretAccessKey: sp("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq")}}, awserr.UnsupportedOperation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.KeyStores.CreateCustomKeyStore(callerCtx(), &tc.in)
			wantAWS(t, err, tc.code, "")
		})
	}
	t.Run("fail/describe-unknown", func(t *testing.T) {
		_, err := svc.KeyStores.DescribeCustomKeyStores(callerCtx(), &wire.DescribeCustomKeyStoresInput{CustomKeyStoreID: sp("cks-0123456789abcdef0")})
		wantAWS(t, err, awserr.CustomKeyStoreNotFound, "")
	})
}

func TestCloudHSMKeyStore(t *testing.T) {
	cfg := hsmConfig(t, cloudToken)
	svc := newService(t, keystore.Config{PKCS11Module: cfg.Module})
	ctx := callerCtx()
	id := must(createCloudStore(t, svc, "hsm1", cloudCluster, cloudPIN))(t)
	if st := describeStore(t, svc, id); st.ConnectionState != keystore.ConnDisconnected || st.CloudHsmClusterID != cloudCluster || st.CustomKeyStoreType != keystore.StoreTypeCloudHSM {
		t.Fatalf("new store = %+v", st)
	}

	// A disconnected store makes no keys.
	_, err := svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("AWS_CLOUDHSM"), CustomKeyStoreID: &id})
	wantAWS(t, err, awserr.CustomKeyStoreInvalidState, "")

	must(svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	if st := describeStore(t, svc, id); st.ConnectionState != keystore.ConnConnected {
		t.Fatalf("after connect: %+v", st)
	}
	_, err = svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("AWS_CLOUDHSM"), CustomKeyStoreID: &id, KeySpec: sp("RSA_2048"), KeyUsage: sp("SIGN_VERIFY")})
	wantAWS(t, err, awserr.UnsupportedOperation, "")
	md := must(svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("AWS_CLOUDHSM"), CustomKeyStoreID: &id}))(t).KeyMetadata
	if md.Origin != "AWS_CLOUDHSM" || md.CustomKeyStoreID != id || md.KeyState != kms.StateEnabled {
		t.Fatalf("key metadata = %+v", md)
	}

	// The key lives in the token and cannot leave it.
	tcfg := cfg
	tcfg.PIN = cloudPIN
	tok, err := hsm.Open(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	hk := must(tok.FindKey("trent-kms-" + md.KeyID))(t)
	attrs := must(tok.KeyAttributes(hk))(t)
	if !attrs.Sensitive || attrs.Extractable || !attrs.NeverExtractable || attrs.ValueReadable || attrs.ValueLen != 32 || !attrs.Token {
		t.Fatalf("HSM key attributes = %+v; want sensitive, non-extractable AES-256 token key", attrs)
	}

	// Encrypt, Decrypt, GenerateDataKey run in the HSM.
	ec := map[string]string{"purpose": "test"}
	enc := must(svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &md.KeyID, Plaintext: []byte("attack at dawn"), EncryptionContext: ec}))(t)
	dec := must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))(t)
	if string(dec.Plaintext) != "attack at dawn" || dec.KeyID != md.Arn {
		t.Fatalf("Decrypt = %q (%s)", dec.Plaintext, dec.KeyID)
	}
	_, err = svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
	wantAWS(t, err, awserr.InvalidCiphertext, "")
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})
	wantAWS(t, err, awserr.InvalidCiphertext, "")
	gdk := must(svc.GenerateDataKey(ctx, &wire.GenerateDataKeyInput{KeyID: &md.KeyID, KeySpec: sp("AES_256")}))(t)
	dk := must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: gdk.CiphertextBlob}))(t)
	if !bytes.Equal(dk.Plaintext, gdk.Plaintext) || len(gdk.Plaintext) != 32 {
		t.Fatal("GenerateDataKey ciphertext does not decrypt to its plaintext")
	}
	n := int64(64)
	rnd := must(svc.GenerateRandom(ctx, &wire.GenerateRandomInput{NumberOfBytes: &n, CustomKeyStoreID: &id}))(t)
	if len(rnd.Plaintext) != 64 {
		t.Fatalf("GenerateRandom in store: %d bytes", len(rnd.Plaintext))
	}

	// Update and Delete need a disconnected store.
	_, err = svc.KeyStores.UpdateCustomKeyStore(ctx, &wire.UpdateCustomKeyStoreInput{CustomKeyStoreID: &id, KeyStorePassword: sp("newpassword")})
	wantAWS(t, err, awserr.CustomKeyStoreInvalidState, "")
	_, err = svc.KeyStores.DeleteCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id})
	wantAWS(t, err, awserr.CustomKeyStoreInvalidState, "")

	// Disconnected: keys are Unavailable and fail with AWS's exception.
	must(svc.KeyStores.DisconnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	desc := must(svc.DescribeKey(ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t)
	if desc.KeyMetadata.KeyState != kms.StateUnavailable || desc.KeyMetadata.Enabled {
		t.Fatalf("KeyState after disconnect = %s", desc.KeyMetadata.KeyState)
	}
	_, err = svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &md.KeyID, Plaintext: []byte("x")})
	wantAWS(t, err, awserr.KMSInvalidState, md.Arn+" is unavailable.")
	_, err = svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantAWS(t, err, awserr.KMSInvalidState, md.Arn+" is unavailable.")
	_, err = svc.KeyStores.DisconnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id})
	wantAWS(t, err, awserr.CustomKeyStoreInvalidState, "")
	_, err = svc.KeyStores.DeleteCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id})
	wantAWS(t, err, awserr.CustomKeyStoreHasCMKs, "")

	// Reconnected: the old ciphertext decrypts again.
	must(svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	desc = must(svc.DescribeKey(ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t)
	if desc.KeyMetadata.KeyState != kms.StateEnabled {
		t.Fatalf("KeyState after reconnect = %s", desc.KeyMetadata.KeyState)
	}
	dec = must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))(t)
	if string(dec.Plaintext) != "attack at dawn" {
		t.Fatal("decrypt after reconnect")
	}

	// A wrong password leaves the store FAILED with INVALID_CREDENTIALS.
	must(svc.KeyStores.DisconnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	must(svc.KeyStores.UpdateCustomKeyStore(ctx, &wire.UpdateCustomKeyStoreInput{CustomKeyStoreID: &id, KeyStorePassword: sp("wrongpassword"), NewCustomKeyStoreName: sp("hsm1-renamed")}))(t)
	must(svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id}))(t)
	if st := describeStore(t, svc, id); st.ConnectionState != keystore.ConnFailed || st.ConnectionErrorCode != "INVALID_CREDENTIALS" || st.CustomKeyStoreName != "hsm1-renamed" {
		t.Fatalf("after wrong password: %+v", st)
	}
	_, err = svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &id})
	wantAWS(t, err, awserr.CustomKeyStoreInvalidState, "")
}

func BenchmarkCloudHSMEncrypt(b *testing.B) {
	cfg := hsmConfig(b, cloudToken)
	svc := newService(b, keystore.Config{PKCS11Module: cfg.Module})
	ctx := callerCtx()
	out, err := svc.KeyStores.CreateCustomKeyStore(ctx, &wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("bench"),
		CloudHsmClusterID: sp(cloudCluster), TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp(cloudPIN)})
	if err != nil {
		b.Fatal(err)
	}
	must(svc.KeyStores.ConnectCustomKeyStore(ctx, &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &out.CustomKeyStoreID}))(b)
	md := must(svc.CreateKey(ctx, &wire.CreateKeyInput{Origin: sp("AWS_CLOUDHSM"), CustomKeyStoreID: &out.CustomKeyStoreID}))(b).KeyMetadata
	pt := make([]byte, 32)
	b.ResetTimer()
	for b.Loop() {
		enc := must(svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &md.KeyID, Plaintext: pt}))(b)
		must(svc.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))(b)
	}
}
