package api

import "github.com/trentkms/trent/internal/keystore"

// keyStoreOps are the custom key store operations. None is cryptographic;
// CreateCustomKeyStore and UpdateCustomKeyStore carry secrets (the token
// PIN, the XKS secret access key) that the audit trail must not record.
var keyStoreOps = []*Operation{
	op("CreateCustomKeyStore", false, false, keyStores, (*keystore.Service).CreateCustomKeyStore),
	op("DescribeCustomKeyStores", true, false, keyStores, (*keystore.Service).DescribeCustomKeyStores),
	op("UpdateCustomKeyStore", false, false, keyStores, (*keystore.Service).UpdateCustomKeyStore),
	op("DeleteCustomKeyStore", false, false, keyStores, (*keystore.Service).DeleteCustomKeyStore),
	op("ConnectCustomKeyStore", false, false, keyStores, (*keystore.Service).ConnectCustomKeyStore),
	op("DisconnectCustomKeyStore", false, false, keyStores, (*keystore.Service).DisconnectCustomKeyStore),
}
