package wire

// ReplicateKeyInput is ReplicateKey's request.
type ReplicateKeyInput struct {
	KeyID                          *string `json:"KeyId"`
	ReplicaRegion                  *string `json:"ReplicaRegion"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
	Description                    *string `json:"Description"`
	Tags                           []Tag   `json:"Tags"`
}

// ReplicateKeyOutput is ReplicateKey's response.
type ReplicateKeyOutput struct {
	ReplicaKeyMetadata *KeyMetadata `json:"ReplicaKeyMetadata"`
	ReplicaPolicy      string       `json:"ReplicaPolicy"`
	ReplicaTags        []Tag        `json:"ReplicaTags"`
}

// UpdatePrimaryRegionInput is UpdatePrimaryRegion's request.
type UpdatePrimaryRegionInput struct {
	KeyID         *string `json:"KeyId"`
	PrimaryRegion *string `json:"PrimaryRegion"`
}
