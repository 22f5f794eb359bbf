package wire

// CreateCustomKeyStoreInput is CreateCustomKeyStore's request.
type CreateCustomKeyStoreInput struct {
	CustomKeyStoreName               *string                           `json:"CustomKeyStoreName"`
	CloudHsmClusterID                *string                           `json:"CloudHsmClusterId"`
	TrustAnchorCertificate           *string                           `json:"TrustAnchorCertificate"`
	KeyStorePassword                 *string                           `json:"KeyStorePassword"`
	CustomKeyStoreType               *string                           `json:"CustomKeyStoreType"`
	XksProxyURIEndpoint              *string                           `json:"XksProxyUriEndpoint"`
	XksProxyURIPath                  *string                           `json:"XksProxyUriPath"`
	XksProxyVpcEndpointServiceName   *string                           `json:"XksProxyVpcEndpointServiceName"`
	XksProxyVpcEndpointServiceOwner  *string                           `json:"XksProxyVpcEndpointServiceOwner"`
	XksProxyAuthenticationCredential *XksProxyAuthenticationCredential `json:"XksProxyAuthenticationCredential"`
	XksProxyConnectivity             *string                           `json:"XksProxyConnectivity"`
}

// XksProxyAuthenticationCredential is the SigV4 credential Trent signs XKS
// proxy requests with.
type XksProxyAuthenticationCredential struct {
	AccessKeyID        *string `json:"AccessKeyId"`
	RawSecretAccessKey *string `json:"RawSecretAccessKey"`
}

// CreateCustomKeyStoreOutput is CreateCustomKeyStore's response.
type CreateCustomKeyStoreOutput struct {
	CustomKeyStoreID string `json:"CustomKeyStoreId"`
}

// CustomKeyStoreIDInput is the request of Connect-, Disconnect- and
// DeleteCustomKeyStore.
type CustomKeyStoreIDInput struct {
	CustomKeyStoreID *string `json:"CustomKeyStoreId"`
}

// DescribeCustomKeyStoresInput is DescribeCustomKeyStores' request.
type DescribeCustomKeyStoresInput struct {
	CustomKeyStoreID   *string `json:"CustomKeyStoreId"`
	CustomKeyStoreName *string `json:"CustomKeyStoreName"`
	Limit              *int64  `json:"Limit"`
	Marker             *string `json:"Marker"`
}

// DescribeCustomKeyStoresOutput is DescribeCustomKeyStores' response.
type DescribeCustomKeyStoresOutput struct {
	CustomKeyStores []CustomKeyStoresListEntry `json:"CustomKeyStores"`
	NextMarker      string                     `json:"NextMarker,omitempty"`
	Truncated       bool                       `json:"Truncated"`
}

// CustomKeyStoresListEntry describes one custom key store.
type CustomKeyStoresListEntry struct {
	CustomKeyStoreID       string                 `json:"CustomKeyStoreId"`
	CustomKeyStoreName     string                 `json:"CustomKeyStoreName"`
	CustomKeyStoreType     string                 `json:"CustomKeyStoreType"`
	CloudHsmClusterID      string                 `json:"CloudHsmClusterId,omitempty"`
	TrustAnchorCertificate string                 `json:"TrustAnchorCertificate,omitempty"`
	ConnectionState        string                 `json:"ConnectionState"`
	ConnectionErrorCode    string                 `json:"ConnectionErrorCode,omitempty"`
	CreationDate           *Timestamp             `json:"CreationDate"`
	XksProxyConfiguration  *XksProxyConfiguration `json:"XksProxyConfiguration,omitempty"`
}

// XksProxyConfiguration describes an external key store's proxy. It never
// holds the secret access key.
type XksProxyConfiguration struct {
	Connectivity string `json:"Connectivity,omitempty"`
	AccessKeyID  string `json:"AccessKeyId,omitempty"`
	URIEndpoint  string `json:"UriEndpoint,omitempty"`
	URIPath      string `json:"UriPath,omitempty"`
}

// UpdateCustomKeyStoreInput is UpdateCustomKeyStore's request.
type UpdateCustomKeyStoreInput struct {
	CustomKeyStoreID                 *string                           `json:"CustomKeyStoreId"`
	NewCustomKeyStoreName            *string                           `json:"NewCustomKeyStoreName"`
	KeyStorePassword                 *string                           `json:"KeyStorePassword"`
	CloudHsmClusterID                *string                           `json:"CloudHsmClusterId"`
	XksProxyURIEndpoint              *string                           `json:"XksProxyUriEndpoint"`
	XksProxyURIPath                  *string                           `json:"XksProxyUriPath"`
	XksProxyVpcEndpointServiceName   *string                           `json:"XksProxyVpcEndpointServiceName"`
	XksProxyVpcEndpointServiceOwner  *string                           `json:"XksProxyVpcEndpointServiceOwner"`
	XksProxyAuthenticationCredential *XksProxyAuthenticationCredential `json:"XksProxyAuthenticationCredential"`
	XksProxyConnectivity             *string                           `json:"XksProxyConnectivity"`
}

// AuditParameters implements the server's audit-parameters interface. The
// KeyStorePassword and the XKS secret access key are never recorded, as in
// CloudTrail.
func (in *CreateCustomKeyStoreInput) AuditParameters() map[string]any {
	m := map[string]any{}
	auditKey(m, "customKeyStoreName", in.CustomKeyStoreName)
	auditKey(m, "cloudHsmClusterId", in.CloudHsmClusterID)
	auditKey(m, "customKeyStoreType", in.CustomKeyStoreType)
	auditKey(m, "xksProxyUriEndpoint", in.XksProxyURIEndpoint)
	auditKey(m, "xksProxyUriPath", in.XksProxyURIPath)
	auditKey(m, "xksProxyConnectivity", in.XksProxyConnectivity)
	if in.TrustAnchorCertificate != nil {
		m["trustAnchorCertificate"] = "<Trust Anchor Certificate>"
	}
	return m
}

// AuditParameters implements the server's audit-parameters interface; see
// CreateCustomKeyStoreInput.AuditParameters.
func (in *UpdateCustomKeyStoreInput) AuditParameters() map[string]any {
	m := map[string]any{}
	auditKey(m, "customKeyStoreId", in.CustomKeyStoreID)
	auditKey(m, "newCustomKeyStoreName", in.NewCustomKeyStoreName)
	auditKey(m, "cloudHsmClusterId", in.CloudHsmClusterID)
	auditKey(m, "xksProxyUriEndpoint", in.XksProxyURIEndpoint)
	auditKey(m, "xksProxyUriPath", in.XksProxyURIPath)
	auditKey(m, "xksProxyConnectivity", in.XksProxyConnectivity)
	return m
}
