package keystore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// kindKeyStore records are custom key stores; ID = account + "/" + store ID.
const kindKeyStore = "keystore"

// Custom key store types and connection states (AWS enums).
const (
	StoreTypeCloudHSM = "AWS_CLOUDHSM"
	StoreTypeExternal = "EXTERNAL_KEY_STORE"

	ConnConnected    = "CONNECTED"
	ConnDisconnected = "DISCONNECTED"
	ConnFailed       = "FAILED"
)

// keyStoreDoc is the stored form of a custom key store. Secrets (the token
// PIN, the XKS secret access key) are sealed by the root key, bound to the
// store ID.
type keyStoreDoc struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Created   time.Time `json:"created"`
	State     string    `json:"state"`
	ErrorCode string    `json:"errorCode,omitempty"`

	// CloudHSM type: ClusterID is "cluster-" + the PKCS#11 token label.
	ClusterID    string `json:"clusterId,omitempty"`
	TrustAnchor  string `json:"trustAnchor,omitempty"`
	SealedSecret []byte `json:"sealedSecret,omitempty"` // token PIN or XKS secret access key

	// External type.
	XksEndpoint     string `json:"xksEndpoint,omitempty"`
	XksPath         string `json:"xksPath,omitempty"`
	XksConnectivity string `json:"xksConnectivity,omitempty"`
	XksAccessKeyID  string `json:"xksAccessKeyId,omitempty"`

	// PrevStates remembers, while the store is disconnected, the key state
	// each of its keys had before it became Unavailable.
	PrevStates map[string]string `json:"prevStates,omitempty"`
}

func keyStoreRecordID(account, id string) string { return account + "/" + id }

func keyStoreSecretAAD(id string) []byte {
	return []byte("trent/custom-key-store-secret/v1\x00" + id)
}

var (
	reClusterID   = regexp.MustCompile(`^cluster-[2-7a-zA-Z]{11,16}$`)
	reXksEndpoint = regexp.MustCompile(`^https://[a-zA-Z0-9.-]+(:[0-9]{1,5})?$`)
	reXksPath     = regexp.MustCompile(`^(/[a-zA-Z0-9/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`)
	reXksAccessID = regexp.MustCompile(`^[A-Z2-7]+$`)
	reXksSecret   = regexp.MustCompile(`^[a-zA-Z0-9/+=]+$`)
	reStoreID     = regexp.MustCompile(`^cks-[0-9a-f]{17}$`)
)

func newKeyStoreID() string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "cks-" + hex.EncodeToString(b[:])[:17]
}

func storeNotFound(id string) error {
	return awserr.Newf(awserr.CustomKeyStoreNotFound, "Custom key store %s does not exist.", id)
}

func storeInvalidState(id, state string) error {
	return awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s has connection state %s, which is not valid for this operation.", id, state)
}

// getKeyStore reads a store of the caller's account.
func (s *Service) getKeyStore(ctx context.Context, account, id string) (*keyStoreDoc, int64, error) {
	if !reStoreID.MatchString(id) {
		return nil, 0, storeNotFound(id)
	}
	rec, err := s.store.Get(ctx, kindKeyStore, keyStoreRecordID(account, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, storeNotFound(id)
	}
	if err != nil {
		return nil, 0, s.kms.StoreErr(ctx, err)
	}
	var d keyStoreDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, 0, fmt.Errorf("kms: decode custom key store %s: %w", id, err)
	}
	return &d, rec.Version, nil
}

// listKeyStores returns every store of account.
func (s *Service) listKeyStores(ctx context.Context, account string) ([]*keyStoreDoc, error) {
	recs, err := s.store.List(ctx, kindKeyStore, account+"/", "", 0)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	out := make([]*keyStoreDoc, 0, len(recs))
	for _, r := range recs {
		var d keyStoreDoc
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return nil, fmt.Errorf("kms: decode custom key store %s: %w", r.ID, err)
		}
		out = append(out, &d)
	}
	return out, nil
}

// putKeyStore writes d with optimistic concurrency (version 0 creates).
func (s *Service) putKeyStore(ctx context.Context, d *keyStoreDoc, version int64) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	op := store.Op{Kind: kindKeyStore, ID: keyStoreRecordID(d.Account, d.ID), Data: data, IfVersion: version, Create: version == 0}
	if err := s.store.Apply(ctx, op); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s was changed concurrently; retry the request.", d.ID)
		}
		return s.kms.StoreErr(ctx, err)
	}
	s.dropConn(keyStoreRecordID(d.Account, d.ID))
	return nil
}

// validateXksFields checks the XKS members shared by Create and Update.
func validateXksFields(v *kms.Validator, endpoint, path, vpcName, vpcOwner, connectivity *string, cred *wire.XksProxyAuthenticationCredential) {
	v.StrLen(endpoint, "xksProxyUriEndpoint", 10, 128)
	v.StrLen(path, "xksProxyUriPath", 10, 128)
	v.StrLen(vpcName, "xksProxyVpcEndpointServiceName", 20, 64)
	v.StrLen(vpcOwner, "xksProxyVpcEndpointServiceOwner", 12, 12)
	v.Enum(connectivity, "xksProxyConnectivity", []string{"PUBLIC_ENDPOINT", "VPC_ENDPOINT_SERVICE"})
	if endpoint != nil && !reXksEndpoint.MatchString(*endpoint) {
		v.Add(*endpoint, true, "xksProxyUriEndpoint", awserr.Pattern(`^https://[a-zA-Z0-9.-]+$`))
	}
	if path != nil && !reXksPath.MatchString(*path) {
		v.Add(*path, true, "xksProxyUriPath", awserr.Pattern(`^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`))
	}
	if cred != nil {
		if v.Required(cred.AccessKeyID != nil, "xksProxyAuthenticationCredential.accessKeyId") {
			if n := len(*cred.AccessKeyID); n < 20 || n > 30 || !reXksAccessID.MatchString(*cred.AccessKeyID) {
				v.Add("", false, "xksProxyAuthenticationCredential.accessKeyId", "Member must satisfy regular expression pattern: ^[A-Z2-7]+$ and have length between 20 and 30")
			}
		}
		if v.Required(cred.RawSecretAccessKey != nil, "xksProxyAuthenticationCredential.rawSecretAccessKey") {
			if n := len(*cred.RawSecretAccessKey); n < 43 || n > 64 || !reXksSecret.MatchString(*cred.RawSecretAccessKey) {
				v.Add("", false, "xksProxyAuthenticationCredential.rawSecretAccessKey", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\/+=]+$ and have length between 43 and 64")
			}
		}
	}
}

// CreateCustomKeyStore implements the CreateCustomKeyStore operation.
//
// An AWS_CLOUDHSM store maps to a PKCS#11 token: CloudHsmClusterId is
// "cluster-" followed by the token label, KeyStorePassword is the token's
// user PIN, and the PKCS#11 module is Trent's configured one. An
// EXTERNAL_KEY_STORE store calls an XKS proxy at XksProxyUriEndpoint +
// XksProxyUriPath (PUBLIC_ENDPOINT connectivity only; the endpoint may
// carry a port). New stores are DISCONNECTED.
func (s *Service) CreateCustomKeyStore(ctx context.Context, in *wire.CreateCustomKeyStoreInput) (*wire.CreateCustomKeyStoreOutput, error) {
	var v kms.Validator
	if v.Required(in.CustomKeyStoreName != nil, "customKeyStoreName") {
		v.StrLen(in.CustomKeyStoreName, "customKeyStoreName", 1, 256)
	}
	v.StrLen(in.CloudHsmClusterID, "cloudHsmClusterId", 19, 24)
	v.StrLen(in.TrustAnchorCertificate, "trustAnchorCertificate", 1, 5000)
	if in.KeyStorePassword != nil {
		if n := len(*in.KeyStorePassword); n < 7 || n > 32 {
			v.Add("", false, "keyStorePassword", "Member must have length between 7 and 32")
		}
	}
	v.Enum(in.CustomKeyStoreType, "customKeyStoreType", []string{StoreTypeCloudHSM, StoreTypeExternal})
	validateXksFields(&v, in.XksProxyURIEndpoint, in.XksProxyURIPath, in.XksProxyVpcEndpointServiceName,
		in.XksProxyVpcEndpointServiceOwner, in.XksProxyConnectivity, in.XksProxyAuthenticationCredential)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.kms.AuthorizeAccount(ctx, "kms:CreateCustomKeyStore", nil); err != nil {
		return nil, err
	}
	caller := kms.CallerFrom(ctx)
	typ := StoreTypeCloudHSM
	if in.CustomKeyStoreType != nil {
		typ = *in.CustomKeyStoreType
	}
	d := &keyStoreDoc{ID: newKeyStoreID(), Account: caller.Account, Name: *in.CustomKeyStoreName, Type: typ,
		Created: s.kms.Now().UTC(), State: ConnDisconnected}
	existing, err := s.listKeyStores(ctx, caller.Account)
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		if e.Name == d.Name {
			return nil, awserr.Newf(awserr.CustomKeyStoreNameInUse, "Custom key store name %s is already in use.", d.Name)
		}
	}
	var secret []byte
	switch typ {
	case StoreTypeCloudHSM:
		if in.XksProxyURIEndpoint != nil || in.XksProxyURIPath != nil || in.XksProxyAuthenticationCredential != nil ||
			in.XksProxyConnectivity != nil || in.XksProxyVpcEndpointServiceName != nil || in.XksProxyVpcEndpointServiceOwner != nil {
			return nil, awserr.New(awserr.Validation, "XksProxy parameters are not valid for a custom key store of type AWS_CLOUDHSM.")
		}
		if in.CloudHsmClusterID == nil || in.TrustAnchorCertificate == nil || in.KeyStorePassword == nil {
			return nil, awserr.New(awserr.Validation, "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for a custom key store of type AWS_CLOUDHSM.")
		}
		if !reClusterID.MatchString(*in.CloudHsmClusterID) {
			return nil, awserr.Newf(awserr.CloudHsmClusterNotFound, "The cluster %s does not exist.", *in.CloudHsmClusterID)
		}
		for _, e := range existing {
			if e.Type == StoreTypeCloudHSM && e.ClusterID == *in.CloudHsmClusterID {
				return nil, awserr.Newf(awserr.CloudHsmClusterInUse, "The cluster %s is already associated with custom key store %s.", e.ClusterID, e.ID)
			}
		}
		d.ClusterID, d.TrustAnchor = *in.CloudHsmClusterID, *in.TrustAnchorCertificate
		if err := s.probeToken(d, *in.KeyStorePassword); err != nil {
			return nil, err
		}
		secret = []byte(*in.KeyStorePassword)
	case StoreTypeExternal:
		if in.CloudHsmClusterID != nil || in.TrustAnchorCertificate != nil || in.KeyStorePassword != nil {
			return nil, awserr.New(awserr.Validation, "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are not valid for a custom key store of type EXTERNAL_KEY_STORE.")
		}
		if in.XksProxyURIEndpoint == nil || in.XksProxyURIPath == nil || in.XksProxyAuthenticationCredential == nil || in.XksProxyConnectivity == nil {
			return nil, awserr.New(awserr.Validation, "XksProxyUriEndpoint, XksProxyUriPath, XksProxyAuthenticationCredential and XksProxyConnectivity are required for a custom key store of type EXTERNAL_KEY_STORE.")
		}
		if *in.XksProxyConnectivity != "PUBLIC_ENDPOINT" || in.XksProxyVpcEndpointServiceName != nil || in.XksProxyVpcEndpointServiceOwner != nil {
			return nil, awserr.New(awserr.UnsupportedOperation, "Trent supports only XksProxyConnectivity PUBLIC_ENDPOINT.")
		}
		for _, e := range existing {
			if e.Type == StoreTypeExternal && e.XksEndpoint == *in.XksProxyURIEndpoint {
				if e.XksPath == *in.XksProxyURIPath {
					return nil, awserr.Newf(awserr.XksProxyUriInUse, "The XksProxyUriEndpoint and XksProxyUriPath are already used by custom key store %s.", e.ID)
				}
			}
		}
		d.XksEndpoint, d.XksPath, d.XksConnectivity = *in.XksProxyURIEndpoint, *in.XksProxyURIPath, *in.XksProxyConnectivity
		d.XksAccessKeyID = *in.XksProxyAuthenticationCredential.AccessKeyID
		secret = []byte(*in.XksProxyAuthenticationCredential.RawSecretAccessKey)
		if err := s.probeProxy(ctx, d, secret); err != nil {
			return nil, err
		}
	}
	if d.SealedSecret, err = s.root.Seal(secret, keyStoreSecretAAD(d.ID)); err != nil {
		return nil, err
	}
	if err := s.createKeyStore(ctx, d); err != nil {
		return nil, err
	}
	return &wire.CreateCustomKeyStoreOutput{CustomKeyStoreID: d.ID}, nil
}

// DescribeCustomKeyStores implements the DescribeCustomKeyStores operation.
func (s *Service) DescribeCustomKeyStores(ctx context.Context, in *wire.DescribeCustomKeyStoresInput) (*wire.DescribeCustomKeyStoresOutput, error) {
	var v kms.Validator
	v.StrLen(in.CustomKeyStoreID, "customKeyStoreId", 1, 64)
	v.StrLen(in.CustomKeyStoreName, "customKeyStoreName", 1, 256)
	limit := kms.PageLimit(&v, in.Limit, 1000, 1000)
	v.StrLen(in.Marker, "marker", 1, 1024)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreID != nil && in.CustomKeyStoreName != nil {
		return nil, awserr.New(awserr.Validation, "You cannot specify both CustomKeyStoreId and CustomKeyStoreName.")
	}
	if err := s.kms.AuthorizeAccount(ctx, "kms:DescribeCustomKeyStores", nil); err != nil {
		return nil, err
	}
	caller := kms.CallerFrom(ctx)
	all, err := s.listKeyStores(ctx, caller.Account)
	if err != nil {
		return nil, err
	}
	out := &wire.DescribeCustomKeyStoresOutput{CustomKeyStores: []wire.CustomKeyStoresListEntry{}}
	var picked []*keyStoreDoc
	for _, d := range all {
		switch {
		case in.CustomKeyStoreID != nil && d.ID != *in.CustomKeyStoreID,
			in.CustomKeyStoreName != nil && d.Name != *in.CustomKeyStoreName,
			in.Marker != nil && d.ID <= *in.Marker:
			continue
		}
		picked = append(picked, d)
	}
	if len(picked) == 0 {
		if in.CustomKeyStoreID != nil {
			return nil, storeNotFound(*in.CustomKeyStoreID)
		}
		if in.CustomKeyStoreName != nil {
			return nil, awserr.Newf(awserr.CustomKeyStoreNotFound, "Custom key store %s does not exist.", *in.CustomKeyStoreName)
		}
	}
	for i, d := range picked {
		if i == limit {
			out.Truncated = true
			out.NextMarker = picked[i-1].ID
			break
		}
		out.CustomKeyStores = append(out.CustomKeyStores, describeStore(d))
	}
	return out, nil
}

func describeStore(d *keyStoreDoc) wire.CustomKeyStoresListEntry {
	e := wire.CustomKeyStoresListEntry{CustomKeyStoreID: d.ID, CustomKeyStoreName: d.Name, CustomKeyStoreType: d.Type,
		ConnectionState: d.State, ConnectionErrorCode: d.ErrorCode, CreationDate: wire.TS(d.Created)}
	if d.Type == StoreTypeCloudHSM {
		e.CloudHsmClusterID, e.TrustAnchorCertificate = d.ClusterID, d.TrustAnchor
	} else {
		e.XksProxyConfiguration = &wire.XksProxyConfiguration{Connectivity: d.XksConnectivity, AccessKeyID: d.XksAccessKeyID,
			URIEndpoint: d.XksEndpoint, URIPath: d.XksPath}
	}
	return e
}

// UpdateCustomKeyStore implements the UpdateCustomKeyStore operation. A
// new name can be set in any state; every other change needs a
// DISCONNECTED store.
func (s *Service) UpdateCustomKeyStore(ctx context.Context, in *wire.UpdateCustomKeyStoreInput) (*struct{}, error) {
	var v kms.Validator
	if v.Required(in.CustomKeyStoreID != nil, "customKeyStoreId") {
		v.StrLen(in.CustomKeyStoreID, "customKeyStoreId", 1, 64)
	}
	v.StrLen(in.NewCustomKeyStoreName, "newCustomKeyStoreName", 1, 256)
	v.StrLen(in.CloudHsmClusterID, "cloudHsmClusterId", 19, 24)
	if in.KeyStorePassword != nil {
		if n := len(*in.KeyStorePassword); n < 7 || n > 32 {
			v.Add("", false, "keyStorePassword", "Member must have length between 7 and 32")
		}
	}
	validateXksFields(&v, in.XksProxyURIEndpoint, in.XksProxyURIPath, in.XksProxyVpcEndpointServiceName,
		in.XksProxyVpcEndpointServiceOwner, in.XksProxyConnectivity, in.XksProxyAuthenticationCredential)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.kms.AuthorizeAccount(ctx, "kms:UpdateCustomKeyStore", nil); err != nil {
		return nil, err
	}
	caller := kms.CallerFrom(ctx)
	d, version, err := s.getKeyStore(ctx, caller.Account, *in.CustomKeyStoreID)
	if err != nil {
		return nil, err
	}
	other := in.KeyStorePassword != nil || in.CloudHsmClusterID != nil || in.XksProxyURIEndpoint != nil ||
		in.XksProxyURIPath != nil || in.XksProxyAuthenticationCredential != nil || in.XksProxyConnectivity != nil ||
		in.XksProxyVpcEndpointServiceName != nil || in.XksProxyVpcEndpointServiceOwner != nil
	if other && d.State != ConnDisconnected {
		return nil, storeInvalidState(d.ID, d.State)
	}
	if in.NewCustomKeyStoreName != nil && *in.NewCustomKeyStoreName != d.Name {
		all, err := s.listKeyStores(ctx, caller.Account)
		if err != nil {
			return nil, err
		}
		for _, e := range all {
			if e.Name == *in.NewCustomKeyStoreName {
				return nil, awserr.Newf(awserr.CustomKeyStoreNameInUse, "Custom key store name %s is already in use.", e.Name)
			}
		}
		d.Name = *in.NewCustomKeyStoreName
	}
	var secret []byte
	switch d.Type {
	case StoreTypeCloudHSM:
		if in.XksProxyURIEndpoint != nil || in.XksProxyURIPath != nil || in.XksProxyAuthenticationCredential != nil || in.XksProxyConnectivity != nil {
			return nil, awserr.New(awserr.Validation, "XksProxy parameters are not valid for a custom key store of type AWS_CLOUDHSM.")
		}
		if in.CloudHsmClusterID != nil && *in.CloudHsmClusterID != d.ClusterID {
			// The keys of the store live in its token; another token
			// holds none of them.
			return nil, awserr.Newf(awserr.CloudHsmClusterNotRelated, "Cluster %s is not related to cluster %s.", *in.CloudHsmClusterID, d.ClusterID)
		}
		if in.KeyStorePassword != nil {
			secret = []byte(*in.KeyStorePassword)
		}
	case StoreTypeExternal:
		if in.CloudHsmClusterID != nil || in.KeyStorePassword != nil {
			return nil, awserr.New(awserr.Validation, "CloudHsmClusterId and KeyStorePassword are not valid for a custom key store of type EXTERNAL_KEY_STORE.")
		}
		if in.XksProxyConnectivity != nil && *in.XksProxyConnectivity != "PUBLIC_ENDPOINT" {
			return nil, awserr.New(awserr.UnsupportedOperation, "Trent supports only XksProxyConnectivity PUBLIC_ENDPOINT.")
		}
		if in.XksProxyURIEndpoint != nil {
			d.XksEndpoint = *in.XksProxyURIEndpoint
		}
		if in.XksProxyURIPath != nil {
			d.XksPath = *in.XksProxyURIPath
		}
		if c := in.XksProxyAuthenticationCredential; c != nil {
			d.XksAccessKeyID = *c.AccessKeyID
			secret = []byte(*c.RawSecretAccessKey)
		}
	}
	if secret != nil {
		if d.SealedSecret, err = s.root.Seal(secret, keyStoreSecretAAD(d.ID)); err != nil {
			return nil, err
		}
	}
	if err := s.putKeyStore(ctx, d, version); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// DeleteCustomKeyStore implements the DeleteCustomKeyStore operation: the
// store must be DISCONNECTED and hold no KMS keys.
func (s *Service) DeleteCustomKeyStore(ctx context.Context, in *wire.CustomKeyStoreIDInput) (*struct{}, error) {
	d, version, err := s.keyStoreOp(ctx, in, "kms:DeleteCustomKeyStore")
	if err != nil {
		return nil, err
	}
	if d.State != ConnDisconnected {
		return nil, storeInvalidState(d.ID, d.State)
	}
	keys, err := s.kms.CustomKeyStoreKeys(ctx, d.Account, d.ID)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		return nil, awserr.Newf(awserr.CustomKeyStoreHasCMKs, "Custom key store %s contains KMS keys. Delete them before deleting the custom key store.", d.ID)
	}
	count, err := s.storeCountDeletionOps(ctx, d.Account)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	err = s.store.Apply(ctx, append(count, store.Op{Kind: kindKeyStore, ID: keyStoreRecordID(d.Account, d.ID), Delete: true, IfVersion: version})...)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, awserr.Newf(awserr.CustomKeyStoreInvalidState, "Custom key store %s was changed concurrently; retry the request.", d.ID)
		}
		return nil, s.kms.StoreErr(ctx, err)
	}
	s.dropConn(keyStoreRecordID(d.Account, d.ID))
	return &struct{}{}, nil
}

// keyStoreOp validates a CustomKeyStoreId request, authorizes action and
// reads the store.
func (s *Service) keyStoreOp(ctx context.Context, in *wire.CustomKeyStoreIDInput, action string) (*keyStoreDoc, int64, error) {
	var v kms.Validator
	if v.Required(in.CustomKeyStoreID != nil, "customKeyStoreId") {
		v.StrLen(in.CustomKeyStoreID, "customKeyStoreId", 1, 64)
	}
	if err := v.Err(); err != nil {
		return nil, 0, err
	}
	if err := s.kms.AuthorizeAccount(ctx, action, nil); err != nil {
		return nil, 0, err
	}
	return s.getKeyStore(ctx, kms.CallerFrom(ctx).Account, *in.CustomKeyStoreID)
}

// ConnectCustomKeyStore implements the ConnectCustomKeyStore operation. It
// opens the token (CloudHSM type) or checks the proxy's health (external
// type) before it returns; a failure leaves the store FAILED with a
// ConnectionErrorCode, and the operation itself succeeds, as in AWS.
// Keys made Unavailable by DisconnectCustomKeyStore get their state back.
func (s *Service) ConnectCustomKeyStore(ctx context.Context, in *wire.CustomKeyStoreIDInput) (*struct{}, error) {
	d, version, err := s.keyStoreOp(ctx, in, "kms:ConnectCustomKeyStore")
	if err != nil {
		return nil, err
	}
	switch d.State {
	case ConnConnected:
		return &struct{}{}, nil
	case ConnFailed:
		return nil, storeInvalidState(d.ID, d.State)
	}
	code := s.tryConnect(ctx, d)
	if code != "" {
		d.State, d.ErrorCode = ConnFailed, code
		if err := s.putKeyStore(ctx, d, version); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	}
	d.State, d.ErrorCode = ConnConnected, ""
	prev := d.PrevStates
	d.PrevStates = nil
	if err := s.putKeyStore(ctx, d, version); err != nil {
		return nil, err
	}
	keys, err := s.kms.CustomKeyStoreKeys(ctx, d.Account, d.ID)
	if err != nil {
		return nil, err
	}
	for _, id := range keys {
		_, err := s.kms.UpdateKey(ctx, id, func(k *kms.KeyDoc, _ int64) ([]store.Op, error) {
			if k.State == kms.StateUnavailable {
				k.State = kms.StateEnabled
				if p, ok := prev[id]; ok {
					k.State = p
				}
			}
			return nil, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, s.kms.StoreErr(ctx, err)
		}
	}
	return &struct{}{}, nil
}

// tryConnect opens the store's backend and returns "" or a
// ConnectionErrorCode.
func (s *Service) tryConnect(ctx context.Context, d *keyStoreDoc) string {
	secret, err := s.root.Open(d.SealedSecret, keyStoreSecretAAD(d.ID))
	if err != nil {
		return "INTERNAL_ERROR"
	}
	defer clear(secret)
	if d.Type == StoreTypeCloudHSM {
		return s.tryConnectToken(ctx, d, string(secret))
	}
	return s.tryConnectProxy(ctx, d, secret)
}

// DisconnectCustomKeyStore implements the DisconnectCustomKeyStore
// operation: the store becomes DISCONNECTED and its Enabled and Disabled
// keys Unavailable until it is connected again.
func (s *Service) DisconnectCustomKeyStore(ctx context.Context, in *wire.CustomKeyStoreIDInput) (*struct{}, error) {
	d, version, err := s.keyStoreOp(ctx, in, "kms:DisconnectCustomKeyStore")
	if err != nil {
		return nil, err
	}
	if d.State == ConnDisconnected {
		return nil, storeInvalidState(d.ID, d.State)
	}
	keys, err := s.kms.CustomKeyStoreKeys(ctx, d.Account, d.ID)
	if err != nil {
		return nil, err
	}
	prev := map[string]string{}
	for _, id := range keys {
		_, err := s.kms.UpdateKey(ctx, id, func(k *kms.KeyDoc, _ int64) ([]store.Op, error) {
			if k.State == kms.StateEnabled || k.State == kms.StateDisabled {
				prev[id] = k.State
				k.State = kms.StateUnavailable
			}
			return nil, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, s.kms.StoreErr(ctx, err)
		}
	}
	for id, st := range d.PrevStates {
		if _, ok := prev[id]; !ok {
			prev[id] = st
		}
	}
	d.State, d.ErrorCode, d.PrevStates = ConnDisconnected, "", prev
	if err := s.putKeyStore(ctx, d, version); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// ResealAll re-seals, under the current root key, the secrets of custom key
// stores (token PINs, XKS secret access keys; see
// reseal.Records).
func (s *Service) ResealAll(ctx context.Context, progress func(n int)) (int, error) {
	cur := s.root.CurrentID()
	return reseal.Records(ctx, s.store, s.kms.Locks(), kindKeyStore, func(_ string, data []byte) ([]byte, bool, error) {
		var d keyStoreDoc
		if err := json.Unmarshal(data, &d); err != nil || !reseal.Stale(d.SealedSecret, cur) {
			return nil, false, err
		}
		var err error
		if d.SealedSecret, err = reseal.Blob(s.root, d.SealedSecret, keyStoreSecretAAD(d.ID)); err != nil {
			return nil, false, err
		}
		out, err := json.Marshal(&d)
		return out, true, err
	}, nil, progress)
}
