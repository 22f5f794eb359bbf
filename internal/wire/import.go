package wire

// Request and response shapes of the imported key material operations.

// GetParametersForImportInput is GetParametersForImport's request.
type GetParametersForImportInput struct {
	KeyID             *string `json:"KeyId"`
	WrappingAlgorithm *string `json:"WrappingAlgorithm"`
	WrappingKeySpec   *string `json:"WrappingKeySpec"`
}

// GetParametersForImportOutput is GetParametersForImport's response.
type GetParametersForImportOutput struct {
	KeyID             string     `json:"KeyId"`
	ImportToken       []byte     `json:"ImportToken"`
	PublicKey         []byte     `json:"PublicKey"`
	ParametersValidTo *Timestamp `json:"ParametersValidTo"`
}

// ImportKeyMaterialInput is ImportKeyMaterial's request.
type ImportKeyMaterialInput struct {
	KeyID                  *string    `json:"KeyId"`
	ImportToken            []byte     `json:"ImportToken"`
	EncryptedKeyMaterial   []byte     `json:"EncryptedKeyMaterial"`
	ValidTo                *Timestamp `json:"ValidTo"`
	ExpirationModel        *string    `json:"ExpirationModel"`
	ImportType             *string    `json:"ImportType"`
	KeyMaterialDescription *string    `json:"KeyMaterialDescription"`
	KeyMaterialID          *string    `json:"KeyMaterialId"`
}

// ImportKeyMaterialOutput is ImportKeyMaterial's response.
type ImportKeyMaterialOutput struct {
	KeyID         string `json:"KeyId"`
	KeyMaterialID string `json:"KeyMaterialId"`
}

// DeleteImportedKeyMaterialInput is DeleteImportedKeyMaterial's request.
type DeleteImportedKeyMaterialInput struct {
	KeyID         *string `json:"KeyId"`
	KeyMaterialID *string `json:"KeyMaterialId"`
}

// DeleteImportedKeyMaterialOutput is DeleteImportedKeyMaterial's response.
type DeleteImportedKeyMaterialOutput struct {
	KeyID         string `json:"KeyId"`
	KeyMaterialID string `json:"KeyMaterialId,omitempty"`
}
