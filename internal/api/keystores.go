package api

import "github.com/trentkms/trent/internal/keystore"

// keyStoreOps are the custom key store operations. None is cryptographic;
// CreateCustomKeyStore and UpdateCustomKeyStore carry secrets (the token
// PIN, the XKS secret access key) that the audit trail must not record.
var keyStoreOps = []*Operation{
	{Name: "CreateCustomKeyStore", Action: "kms:CreateCustomKeyStore", Handler: on(keyStores, (*keystore.Service).CreateCustomKeyStore),
		SecretRequest: []string{"KeyStorePassword", "XksProxyAuthenticationCredential.RawSecretAccessKey"}},
	{Name: "DescribeCustomKeyStores", Action: "kms:DescribeCustomKeyStores", ReadOnly: true, Handler: on(keyStores, (*keystore.Service).DescribeCustomKeyStores)},
	{Name: "UpdateCustomKeyStore", Action: "kms:UpdateCustomKeyStore", Handler: on(keyStores, (*keystore.Service).UpdateCustomKeyStore),
		SecretRequest: []string{"KeyStorePassword", "XksProxyAuthenticationCredential.RawSecretAccessKey"}},
	{Name: "DeleteCustomKeyStore", Action: "kms:DeleteCustomKeyStore", Handler: on(keyStores, (*keystore.Service).DeleteCustomKeyStore)},
	{Name: "ConnectCustomKeyStore", Action: "kms:ConnectCustomKeyStore", Handler: on(keyStores, (*keystore.Service).ConnectCustomKeyStore)},
	{Name: "DisconnectCustomKeyStore", Action: "kms:DisconnectCustomKeyStore", Handler: on(keyStores, (*keystore.Service).DisconnectCustomKeyStore)},
}
