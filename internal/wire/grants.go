package wire

// Request and response shapes of the grant operations (see types.go for the
// conventions).

// GrantConstraints restricts a grant's cryptographic operations by
// encryption context.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
	SourceArn               *string           `json:"SourceArn,omitempty"`
}

// CreateGrantInput is the CreateGrant request.
type CreateGrantInput struct {
	KeyID                    *string           `json:"KeyId"`
	GranteePrincipal         *string           `json:"GranteePrincipal"`
	RetiringPrincipal        *string           `json:"RetiringPrincipal"`
	Operations               []string          `json:"Operations"`
	Constraints              *GrantConstraints `json:"Constraints"`
	GrantTokens              []string          `json:"GrantTokens"`
	Name                     *string           `json:"Name"`
	DryRun                   *bool             `json:"DryRun"`
	GranteeServicePrincipal  *string           `json:"GranteeServicePrincipal"`
	RetiringServicePrincipal *string           `json:"RetiringServicePrincipal"`
}

// CreateGrantOutput is the CreateGrant response.
type CreateGrantOutput struct {
	GrantToken string `json:"GrantToken"`
	GrantID    string `json:"GrantId"`
}

// ListGrantsInput is the ListGrants request.
type ListGrantsInput struct {
	Limit                   *int64  `json:"Limit"`
	Marker                  *string `json:"Marker"`
	KeyID                   *string `json:"KeyId"`
	GrantID                 *string `json:"GrantId"`
	GranteePrincipal        *string `json:"GranteePrincipal"`
	GranteeServicePrincipal *string `json:"GranteeServicePrincipal"`
}

// ListRetirableGrantsInput is the ListRetirableGrants request.
type ListRetirableGrantsInput struct {
	Limit                    *int64  `json:"Limit"`
	Marker                   *string `json:"Marker"`
	RetiringPrincipal        *string `json:"RetiringPrincipal"`
	RetiringServicePrincipal *string `json:"RetiringServicePrincipal"`
}

// GrantListEntry describes one grant.
type GrantListEntry struct {
	KeyID                    string            `json:"KeyId"`
	GrantID                  string            `json:"GrantId"`
	Name                     string            `json:"Name,omitempty"`
	CreationDate             *Timestamp        `json:"CreationDate,omitempty"`
	GranteePrincipal         string            `json:"GranteePrincipal,omitempty"`
	RetiringPrincipal        string            `json:"RetiringPrincipal,omitempty"`
	IssuingAccount           string            `json:"IssuingAccount"`
	Operations               []string          `json:"Operations"`
	Constraints              *GrantConstraints `json:"Constraints,omitempty"`
	GranteeServicePrincipal  string            `json:"GranteeServicePrincipal,omitempty"`
	RetiringServicePrincipal string            `json:"RetiringServicePrincipal,omitempty"`
}

// ListGrantsOutput is the ListGrants and ListRetirableGrants response.
type ListGrantsOutput struct {
	Grants     []GrantListEntry `json:"Grants"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

// RetireGrantInput is the RetireGrant request.
type RetireGrantInput struct {
	GrantToken *string `json:"GrantToken"`
	KeyID      *string `json:"KeyId"`
	GrantID    *string `json:"GrantId"`
	DryRun     *bool   `json:"DryRun"`
}

// RevokeGrantInput is the RevokeGrant request.
type RevokeGrantInput struct {
	KeyID   *string `json:"KeyId"`
	GrantID *string `json:"GrantId"`
	DryRun  *bool   `json:"DryRun"`
}
