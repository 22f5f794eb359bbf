package hsm_test

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/hsm/hsmtest"
)

// TestCustomKeyStoresOverAPI drives both store types through a running
// server with the AWS SDK: the wire shapes, the exceptions a disconnected
// store's keys raise, and reconnection.
func TestCustomKeyStoresOverAPI(t *testing.T) {
	hsmConfig(t, cloudToken)
	proxy, _ := startProxy(t)
	caFile := filepath.Join(t.TempDir(), "xks-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := must(startNodeEnv(t, nodeConfig(t, t.TempDir(), hsmtest.TokenA, "root-api"), config.Env{XKSCAFile: caFile}))(t)
	c := client(n.Endpoint)
	ctx := context.Background()

	cloud := must(c.CreateCustomKeyStore(ctx, &awskms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("api-hsm"),
		CloudHsmClusterId: aws.String(cloudCluster), TrustAnchorCertificate: aws.String(trustAnchor), KeyStorePassword: aws.String(cloudPIN)}))(t).CustomKeyStoreId
	external := must(c.CreateCustomKeyStore(ctx, &awskms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("api-xks"),
		CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore, XksProxyUriEndpoint: aws.String(proxy.URL),
		XksProxyUriPath: aws.String("/kms/xks/v1"), XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint,
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{AccessKeyId: aws.String(xksAccessKeyID), RawSecretAccessKey: aws.String(xksSecret)}}))(t).CustomKeyStoreId
	list := must(c.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{}))(t)
	if len(list.CustomKeyStores) != 2 {
		t.Fatalf("DescribeCustomKeyStores: %d stores", len(list.CustomKeyStores))
	}

	type storeCase struct {
		name, id string
		create   awskms.CreateKeyInput
	}
	for _, sc := range []storeCase{
		{"ok/cloudhsm", *cloud, awskms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: cloud}},
		{"ok/external", *external, awskms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: external, XksKeyId: aws.String("ext-1")}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			must(c.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: &sc.id}))(t)
			st := must(c.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{CustomKeyStoreId: &sc.id}))(t).CustomKeyStores[0]
			if st.ConnectionState != types.ConnectionStateTypeConnected || st.CreationDate == nil {
				t.Fatalf("store = %+v", st)
			}
			md := must(c.CreateKey(ctx, &sc.create))(t).KeyMetadata
			enc := must(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("over the wire")}))(t)
			must(c.DisconnectCustomKeyStore(ctx, &awskms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: &sc.id}))(t)
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			var invalid *types.KMSInvalidStateException
			if !errors.As(err, &invalid) || invalid.ErrorMessage() != *md.Arn+" is unavailable." {
				t.Fatalf("Decrypt with the store disconnected: %v", err)
			}
			if d := must(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: md.KeyId}))(t); d.KeyMetadata.KeyState != types.KeyStateUnavailable {
				t.Fatalf("KeyState = %s", d.KeyMetadata.KeyState)
			}
			_, err = c.DeleteCustomKeyStore(ctx, &awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: &sc.id})
			var hasKeys *types.CustomKeyStoreHasCMKsException
			if !errors.As(err, &hasKeys) {
				t.Fatalf("DeleteCustomKeyStore with keys: %v", err)
			}
			must(c.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: &sc.id}))(t)
			dec := must(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))(t)
			if string(dec.Plaintext) != "over the wire" {
				t.Fatalf("Decrypt after reconnect = %q", dec.Plaintext)
			}
		})
	}
	_, err := c.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String("cks-0123456789abcdef0")})
	var nf *types.CustomKeyStoreNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("ConnectCustomKeyStore(unknown) = %v", err)
	}
}
