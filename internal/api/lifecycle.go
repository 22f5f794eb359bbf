package api

import "github.com/trentkms/trent/internal/kms"

// lifecycleOps are the rotation and imported-key-material operations.
var lifecycleOps = []*Operation{
	// Rotation
	op("EnableKeyRotation", false, false, (*kms.Service).EnableKeyRotation),
	op("DisableKeyRotation", false, false, (*kms.Service).DisableKeyRotation),
	op("GetKeyRotationStatus", true, false, (*kms.Service).GetKeyRotationStatus),
	op("RotateKeyOnDemand", false, false, (*kms.Service).RotateKeyOnDemand),
	op("ListKeyRotations", true, false, (*kms.Service).ListKeyRotations),
	// Imported key material
	op("GetParametersForImport", true, false, (*kms.Service).GetParametersForImport),
	op("ImportKeyMaterial", false, false, (*kms.Service).ImportKeyMaterial),
	op("DeleteImportedKeyMaterial", false, false, (*kms.Service).DeleteImportedKeyMaterial),
}
