package api

import (
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/kms"
)

// lifecycleOps are the rotation and imported-key-material operations.
var lifecycleOps = []*Operation{
	// Rotation
	{Name: "EnableKeyRotation", Action: "kms:EnableKeyRotation", Handler: on(core, (*kms.Service).EnableKeyRotation)},
	{Name: "DisableKeyRotation", Action: "kms:DisableKeyRotation", Handler: on(core, (*kms.Service).DisableKeyRotation),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "GetKeyRotationStatus", Action: "kms:GetKeyRotationStatus", ReadOnly: true, Handler: on(core, (*kms.Service).GetKeyRotationStatus),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "RotateKeyOnDemand", Action: "kms:RotateKeyOnDemand", Handler: on(core, (*kms.Service).RotateKeyOnDemand),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "ListKeyRotations", Action: "kms:ListKeyRotations", ReadOnly: true, Handler: on(core, (*kms.Service).ListKeyRotations)},
	// Imported key material
	{Name: "GetParametersForImport", Action: "kms:GetParametersForImport", ReadOnly: true, Handler: on(imports, (*keyimport.Service).GetParametersForImport),
		SecretResponse: []string{"ImportToken", "PublicKey"}},
	{Name: "ImportKeyMaterial", Action: "kms:ImportKeyMaterial", Handler: on(imports, (*keyimport.Service).ImportKeyMaterial),
		SecretRequest: []string{"ImportToken", "EncryptedKeyMaterial"}},
	{Name: "DeleteImportedKeyMaterial", Action: "kms:DeleteImportedKeyMaterial", Handler: on(imports, (*keyimport.Service).DeleteImportedKeyMaterial)},
}
