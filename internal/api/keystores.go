package api

import "github.com/trentkms/trent/internal/kms"

// keyStoreOps are the custom key store operations. None is cryptographic;
// CreateCustomKeyStore and UpdateCustomKeyStore carry secrets (the token
// PIN, the XKS secret access key) that the audit trail must not record.
var keyStoreOps = []*Operation{
	op("CreateCustomKeyStore", false, false, (*kms.Service).CreateCustomKeyStore),
	op("DescribeCustomKeyStores", true, false, (*kms.Service).DescribeCustomKeyStores),
	op("UpdateCustomKeyStore", false, false, (*kms.Service).UpdateCustomKeyStore),
	op("DeleteCustomKeyStore", false, false, (*kms.Service).DeleteCustomKeyStore),
	op("ConnectCustomKeyStore", false, false, (*kms.Service).ConnectCustomKeyStore),
	op("DisconnectCustomKeyStore", false, false, (*kms.Service).DisconnectCustomKeyStore),
}
