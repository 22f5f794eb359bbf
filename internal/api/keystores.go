package api

import "github.com/trentkms/trent/internal/kms"

// keyStoreOps are the custom key store operations. None is cryptographic;
// CreateCustomKeyStore and UpdateCustomKeyStore carry secrets (the token
// PIN, the XKS secret access key) that the audit trail must not record.
var keyStoreOps = []*Operation{
	op("CreateCustomKeyStore", false, false, core, (*kms.Service).CreateCustomKeyStore),
	op("DescribeCustomKeyStores", true, false, core, (*kms.Service).DescribeCustomKeyStores),
	op("UpdateCustomKeyStore", false, false, core, (*kms.Service).UpdateCustomKeyStore),
	op("DeleteCustomKeyStore", false, false, core, (*kms.Service).DeleteCustomKeyStore),
	op("ConnectCustomKeyStore", false, false, core, (*kms.Service).ConnectCustomKeyStore),
	op("DisconnectCustomKeyStore", false, false, core, (*kms.Service).DisconnectCustomKeyStore),
}
