package wire

// Shapes of the asymmetric, HMAC, key-agreement and post-quantum operations.

// GetPublicKeyOutput is GetPublicKey's response.
type GetPublicKeyOutput struct {
	KeyID                   string   `json:"KeyId"`
	PublicKey               []byte   `json:"PublicKey"`
	CustomerMasterKeySpec   string   `json:"CustomerMasterKeySpec,omitempty"`
	KeySpec                 string   `json:"KeySpec"`
	KeyUsage                string   `json:"KeyUsage"`
	EncryptionAlgorithms    []string `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms       []string `json:"SigningAlgorithms,omitempty"`
	KeyAgreementAlgorithms  []string `json:"KeyAgreementAlgorithms,omitempty"`
	EncapsulationAlgorithms []string `json:"EncapsulationAlgorithms,omitempty"`
}

// SignInput is Sign's request.
type SignInput struct {
	KeyID            *string  `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      *string  `json:"MessageType"`
	GrantTokens      []string `json:"GrantTokens"`
	SigningAlgorithm *string  `json:"SigningAlgorithm"`
	DryRun           *bool    `json:"DryRun"`
}

// SignOutput is Sign's response.
type SignOutput struct {
	KeyID            string `json:"KeyId"`
	Signature        []byte `json:"Signature"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

// VerifyInput is Verify's request.
type VerifyInput struct {
	KeyID            *string  `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      *string  `json:"MessageType"`
	Signature        []byte   `json:"Signature"`
	SigningAlgorithm *string  `json:"SigningAlgorithm"`
	GrantTokens      []string `json:"GrantTokens"`
	DryRun           *bool    `json:"DryRun"`
}

// VerifyOutput is Verify's response.
type VerifyOutput struct {
	KeyID            string `json:"KeyId"`
	SignatureValid   bool   `json:"SignatureValid"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

// GenerateMacInput is GenerateMac's request.
type GenerateMacInput struct {
	Message      []byte   `json:"Message"`
	KeyID        *string  `json:"KeyId"`
	MacAlgorithm *string  `json:"MacAlgorithm"`
	GrantTokens  []string `json:"GrantTokens"`
	DryRun       *bool    `json:"DryRun"`
}

// GenerateMacOutput is GenerateMac's response.
type GenerateMacOutput struct {
	Mac          []byte `json:"Mac"`
	MacAlgorithm string `json:"MacAlgorithm"`
	KeyID        string `json:"KeyId"`
}

// VerifyMacInput is VerifyMac's request.
type VerifyMacInput struct {
	Message      []byte   `json:"Message"`
	KeyID        *string  `json:"KeyId"`
	MacAlgorithm *string  `json:"MacAlgorithm"`
	Mac          []byte   `json:"Mac"`
	GrantTokens  []string `json:"GrantTokens"`
	DryRun       *bool    `json:"DryRun"`
}

// VerifyMacOutput is VerifyMac's response.
type VerifyMacOutput struct {
	KeyID        string `json:"KeyId"`
	MacValid     bool   `json:"MacValid"`
	MacAlgorithm string `json:"MacAlgorithm"`
}

// DeriveSharedSecretInput is DeriveSharedSecret's request.
type DeriveSharedSecretInput struct {
	KeyID                 *string        `json:"KeyId"`
	KeyAgreementAlgorithm *string        `json:"KeyAgreementAlgorithm"`
	PublicKey             []byte         `json:"PublicKey"`
	GrantTokens           []string       `json:"GrantTokens"`
	DryRun                *bool          `json:"DryRun"`
	Recipient             *RecipientInfo `json:"Recipient"`
}

// DeriveSharedSecretOutput is DeriveSharedSecret's response.
type DeriveSharedSecretOutput struct {
	KeyID                 string `json:"KeyId"`
	SharedSecret          []byte `json:"SharedSecret"`
	KeyAgreementAlgorithm string `json:"KeyAgreementAlgorithm"`
	KeyOrigin             string `json:"KeyOrigin"`
}

// EncapsulateInput is Encapsulate's request.
type EncapsulateInput struct {
	KeyID                  *string  `json:"KeyId"`
	EncapsulationAlgorithm *string  `json:"EncapsulationAlgorithm"`
	GrantTokens            []string `json:"GrantTokens"`
	DryRun                 *bool    `json:"DryRun"`
}

// EncapsulateOutput is Encapsulate's response.
type EncapsulateOutput struct {
	KeyID                      string `json:"KeyId"`
	SharedSecret               []byte `json:"SharedSecret"`
	SharedSecretCiphertextBlob []byte `json:"SharedSecretCiphertextBlob"`
	EncapsulationAlgorithm     string `json:"EncapsulationAlgorithm"`
}

// DecapsulateInput is Decapsulate's request.
type DecapsulateInput struct {
	KeyID                      *string  `json:"KeyId"`
	SharedSecretCiphertextBlob []byte   `json:"SharedSecretCiphertextBlob"`
	EncapsulationAlgorithm     *string  `json:"EncapsulationAlgorithm"`
	GrantTokens                []string `json:"GrantTokens"`
	DryRun                     *bool    `json:"DryRun"`
}

// DecapsulateOutput is Decapsulate's response.
type DecapsulateOutput struct {
	KeyID                  string `json:"KeyId"`
	SharedSecret           []byte `json:"SharedSecret"`
	EncapsulationAlgorithm string `json:"EncapsulationAlgorithm"`
}

// GenerateDataKeyPairInput is the request of GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext.
type GenerateDataKeyPairInput struct {
	EncryptionContext map[string]string `json:"EncryptionContext"`
	KeyID             *string           `json:"KeyId"`
	KeyPairSpec       *string           `json:"KeyPairSpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *RecipientInfo    `json:"Recipient"`
	DryRun            *bool             `json:"DryRun"`
}

// GenerateDataKeyPairOutput is the response of GenerateDataKeyPair;
// PrivateKeyPlaintext is omitted by GenerateDataKeyPairWithoutPlaintext.
type GenerateDataKeyPairOutput struct {
	PrivateKeyCiphertextBlob []byte `json:"PrivateKeyCiphertextBlob"`
	PrivateKeyPlaintext      []byte `json:"PrivateKeyPlaintext,omitempty"`
	PublicKey                []byte `json:"PublicKey"`
	KeyID                    string `json:"KeyId"`
	KeyPairSpec              string `json:"KeyPairSpec"`
	KeyMaterialID            string `json:"KeyMaterialId,omitempty"`
}
