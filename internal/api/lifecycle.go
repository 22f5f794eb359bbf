package api

import (
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/kms"
)

// lifecycleOps are the rotation and imported-key-material operations.
var lifecycleOps = []*Operation{
	// Rotation
	op("EnableKeyRotation", false, false, core, (*kms.Service).EnableKeyRotation),
	op("DisableKeyRotation", false, false, core, (*kms.Service).DisableKeyRotation),
	op("GetKeyRotationStatus", true, false, core, (*kms.Service).GetKeyRotationStatus),
	op("RotateKeyOnDemand", false, false, core, (*kms.Service).RotateKeyOnDemand),
	op("ListKeyRotations", true, false, core, (*kms.Service).ListKeyRotations),
	// Imported key material
	op("GetParametersForImport", true, false, imports, (*keyimport.Service).GetParametersForImport),
	op("ImportKeyMaterial", false, false, imports, (*keyimport.Service).ImportKeyMaterial),
	op("DeleteImportedKeyMaterial", false, false, imports, (*keyimport.Service).DeleteImportedKeyMaterial),
}
