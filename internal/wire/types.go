package wire

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// The shapes of the key, cryptographic, alias, tag, policy and rotation
// operations; the others are in files named for their operations.

// Timestamp is a time that encodes as epoch seconds (a JSON number, possibly
// fractional), as the AWS JSON protocol requires.
type Timestamp struct{ time.Time }

// TS returns t as a *Timestamp, or nil for the zero time.
func TS(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	return &Timestamp{t}
}

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

// UnmarshalJSON accepts a JSON number of epoch seconds.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return &json.UnsupportedValueError{Str: string(b)}
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// Tag is a resource tag.
type Tag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

// MultiRegionKey names one member of a multi-Region key.
type MultiRegionKey struct {
	Arn    string `json:"Arn,omitempty"`
	Region string `json:"Region,omitempty"`
	// ReplicationStatus is Trent's, not AWS's: in the primary's
	// DescribeKey, "PENDING" for a replica that has not yet received the
	// key's current shared properties (docs/multi-region.md). SDKs ignore
	// members they do not know.
	ReplicationStatus string `json:"ReplicationStatus,omitempty"`
}

// MultiRegionConfiguration describes a multi-Region key.
type MultiRegionConfiguration struct {
	MultiRegionKeyType string           `json:"MultiRegionKeyType,omitempty"`
	PrimaryKey         *MultiRegionKey  `json:"PrimaryKey,omitempty"`
	ReplicaKeys        []MultiRegionKey `json:"ReplicaKeys"`
}

// XksKeyConfiguration names the external key of an XKS-backed KMS key.
type XksKeyConfiguration struct {
	ID string `json:"Id,omitempty"`
}

// KeyMetadata is DescribeKey's view of a key.
type KeyMetadata struct {
	AWSAccountID              string                    `json:"AWSAccountId"`
	KeyID                     string                    `json:"KeyId"`
	Arn                       string                    `json:"Arn"`
	CreationDate              *Timestamp                `json:"CreationDate"`
	Enabled                   bool                      `json:"Enabled"`
	Description               string                    `json:"Description"`
	KeyUsage                  string                    `json:"KeyUsage"`
	KeyState                  string                    `json:"KeyState"`
	DeletionDate              *Timestamp                `json:"DeletionDate,omitempty"`
	ValidTo                   *Timestamp                `json:"ValidTo,omitempty"`
	Origin                    string                    `json:"Origin"`
	CustomKeyStoreID          string                    `json:"CustomKeyStoreId,omitempty"`
	CloudHsmClusterID         string                    `json:"CloudHsmClusterId,omitempty"`
	ExpirationModel           string                    `json:"ExpirationModel,omitempty"`
	KeyManager                string                    `json:"KeyManager"`
	CustomerMasterKeySpec     string                    `json:"CustomerMasterKeySpec"`
	KeySpec                   string                    `json:"KeySpec"`
	EncryptionAlgorithms      []string                  `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms         []string                  `json:"SigningAlgorithms,omitempty"`
	KeyAgreementAlgorithms    []string                  `json:"KeyAgreementAlgorithms,omitempty"`
	MacAlgorithms             []string                  `json:"MacAlgorithms,omitempty"`
	EncapsulationAlgorithms   []string                  `json:"EncapsulationAlgorithms,omitempty"`
	MultiRegion               bool                      `json:"MultiRegion"`
	MultiRegionConfiguration  *MultiRegionConfiguration `json:"MultiRegionConfiguration,omitempty"`
	PendingDeletionWindowDays *int                      `json:"PendingDeletionWindowInDays,omitempty"`
	XksKeyConfiguration       *XksKeyConfiguration      `json:"XksKeyConfiguration,omitempty"`
	CurrentKeyMaterialID      string                    `json:"CurrentKeyMaterialId,omitempty"`
}

// CreateKeyInput is CreateKey's request.
type CreateKeyInput struct {
	Policy                         *string `json:"Policy"`
	Description                    *string `json:"Description"`
	KeyUsage                       *string `json:"KeyUsage"`
	CustomerMasterKeySpec          *string `json:"CustomerMasterKeySpec"`
	KeySpec                        *string `json:"KeySpec"`
	Origin                         *string `json:"Origin"`
	CustomKeyStoreID               *string `json:"CustomKeyStoreId"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
	Tags                           []Tag   `json:"Tags"`
	MultiRegion                    *bool   `json:"MultiRegion"`
	XksKeyID                       *string `json:"XksKeyId"`
}

// KeyMetadataOutput is the response of CreateKey and DescribeKey.
type KeyMetadataOutput struct {
	KeyMetadata *KeyMetadata `json:"KeyMetadata"`
}

// KeyIDInput is the request of the many operations that take only a key.
type KeyIDInput struct {
	KeyID       *string  `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

// KeyIDOutput is a response holding only the key ARN.
type KeyIDOutput struct {
	KeyID string `json:"KeyId"`
}

// ListInput carries the paging members shared by the List operations.
type ListInput struct {
	Limit  *int64  `json:"Limit"`
	Marker *string `json:"Marker"`
}

// ListKeysOutput is ListKeys' response.
type ListKeysOutput struct {
	Keys       []KeyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

// KeyListEntry is one key in ListKeys.
type KeyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

// EncryptInput is Encrypt's request.
type EncryptInput struct {
	KeyID               *string           `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	DryRun              *bool             `json:"DryRun"`
}

// EncryptOutput is Encrypt's response.
type EncryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

// DecryptInput is Decrypt's request.
type DecryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	KeyID               *string           `json:"KeyId"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	Recipient           *RecipientInfo    `json:"Recipient"`
	DryRun              *bool             `json:"DryRun"`
	DryRunModifiers     []string          `json:"DryRunModifiers"`
}

// RecipientInfo names a Nitro enclave recipient. Trent does not verify
// attestation documents and rejects requests that carry one.
type RecipientInfo struct {
	KeyEncryptionAlgorithm *string `json:"KeyEncryptionAlgorithm"`
	AttestationDocument    []byte  `json:"AttestationDocument"`
}

// DecryptOutput is Decrypt's response.
type DecryptOutput struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
	KeyMaterialID       string `json:"KeyMaterialId,omitempty"`
}

// ReEncryptInput is ReEncrypt's request.
type ReEncryptInput struct {
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
	SourceKeyID                    *string           `json:"SourceKeyId"`
	DestinationKeyID               *string           `json:"DestinationKeyId"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
	SourceEncryptionAlgorithm      *string           `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm *string           `json:"DestinationEncryptionAlgorithm"`
	GrantTokens                    []string          `json:"GrantTokens"`
	DryRun                         *bool             `json:"DryRun"`
	DryRunModifiers                []string          `json:"DryRunModifiers"`
}

// ReEncryptOutput is ReEncrypt's response.
type ReEncryptOutput struct {
	CiphertextBlob                 []byte `json:"CiphertextBlob"`
	SourceKeyID                    string `json:"SourceKeyId"`
	KeyID                          string `json:"KeyId"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm"`
	SourceKeyMaterialID            string `json:"SourceKeyMaterialId,omitempty"`
	DestinationKeyMaterialID       string `json:"DestinationKeyMaterialId,omitempty"`
}

// GenerateDataKeyInput is the request of GenerateDataKey and
// GenerateDataKeyWithoutPlaintext.
type GenerateDataKeyInput struct {
	KeyID             *string           `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int64            `json:"NumberOfBytes"`
	KeySpec           *string           `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *RecipientInfo    `json:"Recipient"`
	DryRun            *bool             `json:"DryRun"`
}

// GenerateDataKeyOutput is GenerateDataKey's response; Plaintext is omitted
// by GenerateDataKeyWithoutPlaintext.
type GenerateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext,omitempty"`
	KeyID          string `json:"KeyId"`
	KeyMaterialID  string `json:"KeyMaterialId,omitempty"`
}

// GenerateRandomInput is GenerateRandom's request.
type GenerateRandomInput struct {
	NumberOfBytes    *int64         `json:"NumberOfBytes"`
	CustomKeyStoreID *string        `json:"CustomKeyStoreId"`
	Recipient        *RecipientInfo `json:"Recipient"`
}

// GenerateRandomOutput is GenerateRandom's response.
type GenerateRandomOutput struct {
	Plaintext []byte `json:"Plaintext"`
}

// ScheduleKeyDeletionInput is ScheduleKeyDeletion's request.
type ScheduleKeyDeletionInput struct {
	KeyID               *string `json:"KeyId"`
	PendingWindowInDays *int64  `json:"PendingWindowInDays"`
}

// ScheduleKeyDeletionOutput is ScheduleKeyDeletion's response.
type ScheduleKeyDeletionOutput struct {
	KeyID               string     `json:"KeyId"`
	DeletionDate        *Timestamp `json:"DeletionDate,omitempty"`
	KeyState            string     `json:"KeyState"`
	PendingWindowInDays int64      `json:"PendingWindowInDays"`
}

// UpdateKeyDescriptionInput is UpdateKeyDescription's request.
type UpdateKeyDescriptionInput struct {
	KeyID       *string `json:"KeyId"`
	Description *string `json:"Description"`
}

// AliasInput is the request of CreateAlias, UpdateAlias and DeleteAlias.
type AliasInput struct {
	AliasName   *string `json:"AliasName"`
	TargetKeyID *string `json:"TargetKeyId"`
}

// ListAliasesInput is ListAliases' request.
type ListAliasesInput struct {
	KeyID  *string `json:"KeyId"`
	Limit  *int64  `json:"Limit"`
	Marker *string `json:"Marker"`
}

// AliasListEntry is one alias in ListAliases.
type AliasListEntry struct {
	AliasName       string     `json:"AliasName"`
	AliasArn        string     `json:"AliasArn"`
	TargetKeyID     string     `json:"TargetKeyId,omitempty"`
	CreationDate    *Timestamp `json:"CreationDate,omitempty"`
	LastUpdatedDate *Timestamp `json:"LastUpdatedDate,omitempty"`
}

// ListAliasesOutput is ListAliases' response.
type ListAliasesOutput struct {
	Aliases    []AliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

// TagResourceInput is TagResource's request.
type TagResourceInput struct {
	KeyID *string `json:"KeyId"`
	Tags  []Tag   `json:"Tags"`
}

// UntagResourceInput is UntagResource's request.
type UntagResourceInput struct {
	KeyID   *string  `json:"KeyId"`
	TagKeys []string `json:"TagKeys"`
}

// ListResourceTagsInput is ListResourceTags' request.
type ListResourceTagsInput struct {
	KeyID  *string `json:"KeyId"`
	Limit  *int64  `json:"Limit"`
	Marker *string `json:"Marker"`
}

// ListResourceTagsOutput is ListResourceTags' response.
type ListResourceTagsOutput struct {
	Tags       []Tag  `json:"Tags"`
	NextMarker string `json:"NextMarker,omitempty"`
	Truncated  bool   `json:"Truncated"`
}

// KeyPolicyInput is the request of GetKeyPolicy and PutKeyPolicy.
type KeyPolicyInput struct {
	KeyID                          *string `json:"KeyId"`
	PolicyName                     *string `json:"PolicyName"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
}

// GetKeyPolicyOutput is GetKeyPolicy's response.
type GetKeyPolicyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

// ListKeyPoliciesInput is ListKeyPolicies' request.
type ListKeyPoliciesInput struct {
	KeyID  *string `json:"KeyId"`
	Limit  *int64  `json:"Limit"`
	Marker *string `json:"Marker"`
}

// ListKeyPoliciesOutput is ListKeyPolicies' response.
type ListKeyPoliciesOutput struct {
	PolicyNames []string `json:"PolicyNames"`
	NextMarker  string   `json:"NextMarker,omitempty"`
	Truncated   bool     `json:"Truncated"`
}

// EnableKeyRotationInput is EnableKeyRotation's request.
type EnableKeyRotationInput struct {
	KeyID                *string `json:"KeyId"`
	RotationPeriodInDays *int64  `json:"RotationPeriodInDays"`
}

// GetKeyRotationStatusOutput is GetKeyRotationStatus' response.
type GetKeyRotationStatusOutput struct {
	KeyRotationEnabled        bool       `json:"KeyRotationEnabled"`
	KeyID                     string     `json:"KeyId"`
	RotationPeriodInDays      *int64     `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate          *Timestamp `json:"NextRotationDate,omitempty"`
	OnDemandRotationStartDate *Timestamp `json:"OnDemandRotationStartDate,omitempty"`
}

// ListKeyRotationsInput is ListKeyRotations' request.
type ListKeyRotationsInput struct {
	KeyID              *string `json:"KeyId"`
	IncludeKeyMaterial *string `json:"IncludeKeyMaterial"`
	Limit              *int64  `json:"Limit"`
	Marker             *string `json:"Marker"`
}

// RotationsListEntry is one key material in ListKeyRotations.
type RotationsListEntry struct {
	KeyID                  string     `json:"KeyId"`
	KeyMaterialID          string     `json:"KeyMaterialId"`
	KeyMaterialDescription string     `json:"KeyMaterialDescription,omitempty"`
	ImportState            string     `json:"ImportState,omitempty"`
	KeyMaterialState       string     `json:"KeyMaterialState,omitempty"`
	ExpirationModel        string     `json:"ExpirationModel,omitempty"`
	ValidTo                *Timestamp `json:"ValidTo,omitempty"`
	RotationDate           *Timestamp `json:"RotationDate,omitempty"`
	RotationType           string     `json:"RotationType,omitempty"`
}

// ListKeyRotationsOutput is ListKeyRotations' response.
type ListKeyRotationsOutput struct {
	Rotations  []RotationsListEntry `json:"Rotations"`
	NextMarker string               `json:"NextMarker,omitempty"`
	Truncated  bool                 `json:"Truncated"`
}

// RotateKeyOnDemandOutput is RotateKeyOnDemand's response.
type RotateKeyOnDemandOutput struct {
	KeyID string `json:"KeyId"`
}

// KeyLastUsageData describes the last successful cryptographic use of a key.
type KeyLastUsageData struct {
	Operation         string     `json:"Operation,omitempty"`
	Timestamp         *Timestamp `json:"Timestamp,omitempty"`
	CloudTrailEventID string     `json:"CloudTrailEventId,omitempty"`
	KmsRequestID      string     `json:"KmsRequestId,omitempty"`
}

// GetKeyLastUsageOutput is GetKeyLastUsage's response.
type GetKeyLastUsageOutput struct {
	KeyID             string            `json:"KeyId"`
	KeyLastUsage      *KeyLastUsageData `json:"KeyLastUsage,omitempty"`
	TrackingStartDate *Timestamp        `json:"TrackingStartDate"`
	KeyCreationDate   *Timestamp        `json:"KeyCreationDate"`
}
