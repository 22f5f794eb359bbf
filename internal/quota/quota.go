package quota

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// Resources are an account's resource quotas. A zero field means "not set"
// (the node's default applies); every set field is positive.
type Resources struct {
	// Keys is the number of customer managed KMS keys of the account, in
	// every state (AWS: 100,000).
	Keys int `json:"keys,omitempty"`
	// AliasesPerKey is the number of aliases of one key (AWS: 50).
	AliasesPerKey int `json:"aliasesPerKey,omitempty"`
	// GrantsPerKey is the number of grants on one key (AWS: 50,000).
	GrantsPerKey int `json:"grantsPerKey,omitempty"`
	// KeyPolicyBytes is the size of a key policy document (AWS: 32 KB).
	KeyPolicyBytes int `json:"keyPolicyBytes,omitempty"`
	// CustomKeyStores is the number of custom key stores of the account
	// (AWS: 10).
	CustomKeyStores int `json:"customKeyStores,omitempty"`
	// OnDemandRotations is the number of RotateKeyOnDemand calls one key
	// may have (AWS: 25, not adjustable at AWS).
	OnDemandRotations int `json:"onDemandRotations,omitempty"`
}

// AWSResources are AWS's default resource quotas (the AWS KMS Developer
// Guide, "Resource quotas"), Trent's defaults.
var AWSResources = Resources{
	Keys: 100000, AliasesPerKey: 50, GrantsPerKey: 50000, KeyPolicyBytes: 32768,
	CustomKeyStores: 10, OnDemandRotations: 25,
}

// resourceNames maps the names `trent admin` and the configuration use to
// the fields of Resources.
var resourceNames = map[string]func(*Resources) *int{
	"keys":              func(r *Resources) *int { return &r.Keys },
	"aliasesPerKey":     func(r *Resources) *int { return &r.AliasesPerKey },
	"grantsPerKey":      func(r *Resources) *int { return &r.GrantsPerKey },
	"keyPolicyBytes":    func(r *Resources) *int { return &r.KeyPolicyBytes },
	"customKeyStores":   func(r *Resources) *int { return &r.CustomKeyStores },
	"onDemandRotations": func(r *Resources) *int { return &r.OnDemandRotations },
}

// ResourceNames returns the resource quota names, sorted.
func ResourceNames() []string { return slices.Sorted(maps.Keys(resourceNames)) }

// over returns r with every field o sets taken from o.
func (r Resources) over(o Resources) Resources {
	for _, f := range resourceNames {
		if v := *f(&o); v > 0 {
			*f(&r) = v
		}
	}
	return r
}

// Set sets the resource quota name to v (0 unsets it). It returns an error
// for an unknown name or a negative value.
func (r *Resources) Set(name string, v int) error {
	f, ok := resourceNames[name]
	if !ok {
		return fmt.Errorf("quota: unknown resource quota %q (one of %s)", name, strings.Join(ResourceNames(), ", "))
	}
	if v < 0 {
		return fmt.Errorf("quota: %s must not be negative", name)
	}
	*f(r) = v
	return nil
}

// Get returns the resource quota name (0 if unset or unknown).
func (r Resources) Get(name string) int {
	if f, ok := resourceNames[name]; ok {
		return *f(&r)
	}
	return 0
}

// Rates are request-rate quotas in requests per second, by rate class (see
// Classes). A class absent from the map is not limited (unless the node's
// defaults limit it); a rate of 0 or less set in an account's quotas lifts
// the node's default for that account ("unlimited").
type Rates map[string]float64

// AWSRates are AWS's default request quotas (the AWS KMS Developer Guide,
// "Request quotas"), in requests per second. The shared symmetric quota
// varies by Region at AWS (10,000, and 20,000 to 100,000 in some Regions):
// the smallest is used. AWS publishes no separate ML-KEM quota; Trent's
// is 1,000, like the other asymmetric families. Operations AWS lists with
// no quota of their own (RotateKeyOnDemand, ListKeyRotations,
// GetKeyLastUsage) are not limited.
var AWSRates = Rates{
	ClassSymmetric: 10000, ClassRSA: 1000, ClassECC: 1000, ClassMLDSA: 1000, ClassMLKEM: 1000,

	"GenerateDataKeyPair:ECC_NIST_P256": 25, "GenerateDataKeyPair:ECC_NIST_P384": 10,
	"GenerateDataKeyPair:ECC_NIST_P521": 5, "GenerateDataKeyPair:ECC_SECG_P256K1": 25,
	"GenerateDataKeyPair:RSA_2048": 1, "GenerateDataKeyPair:RSA_3072": 0.5,
	"GenerateDataKeyPair:RSA_4096": 0.1, "GenerateDataKeyPair:SM2": 25,

	"CancelKeyDeletion": 5, "ConnectCustomKeyStore": 5, "CreateAlias": 5, "CreateCustomKeyStore": 5,
	"CreateKey": 5, "DeleteCustomKeyStore": 5, "DeleteImportedKeyMaterial": 5, "DescribeCustomKeyStores": 5,
	"DisableKey": 5, "DisableKeyRotation": 5, "DisconnectCustomKeyStore": 5, "EnableKey": 5,
	"ImportKeyMaterial": 5, "ReplicateKey": 5, "UntagResource": 5, "UpdateAlias": 5,
	"UpdateCustomKeyStore": 5, "UpdateKeyDescription": 5, "UpdatePrimaryRegion": 5,
	"DeleteAlias": 15, "EnableKeyRotation": 15, "PutKeyPolicy": 15, "ScheduleKeyDeletion": 15,
	"TagResource": 10, "RetireGrant": 30, "RevokeGrant": 30, "CreateGrant": 50,
	"ListGrants": 100, "ListKeyPolicies": 100, "ListRetirableGrants": 100,
	"ListAliases": 500, "ListKeys": 500,
	"GetKeyPolicy": 1000, "GetKeyRotationStatus": 1000,
	"DescribeKey": 2000, "GetPublicKey": 2000, "ListResourceTags": 2000,
	"GetParametersForImport": 0.25,
}

// The shared cryptographic rate classes. Every other class is named for
// the operation it limits ("CreateKey"), or for GenerateDataKeyPair and
// its key pair spec ("GenerateDataKeyPair:RSA_2048").
const (
	// ClassSymmetric: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
	// GenerateRandom with symmetric keys, and GenerateMac and VerifyMac with HMAC
	// keys (AWS counts HMAC keys in the symmetric quota).
	ClassSymmetric = "symmetric"
	// ClassRSA: Encrypt, Decrypt, ReEncrypt, Sign and Verify with RSA keys.
	ClassRSA = "rsa"
	// ClassECC: Sign, Verify and DeriveSharedSecret with ECC and SM2 keys.
	ClassECC = "ecc"
	// ClassMLDSA: Sign and Verify with ML-DSA keys.
	ClassMLDSA = "mldsa"
	// ClassMLKEM: Encapsulate and Decapsulate with ML-KEM keys.
	ClassMLKEM = "mlkem"
)

// Classes returns every rate class Trent knows, sorted: the AWS classes and
// the operations without an AWS quota.
func Classes() []string {
	out := slices.Collect(maps.Keys(classIndex))
	sort.Strings(out)
	return out
}

// ValidClass reports whether name is a rate class.
func ValidClass(name string) bool {
	_, ok := classIndex[name]
	return ok
}

// classIndex numbers the classes, so that an account's buckets are an array.
var classIndex = func() map[string]int {
	names := slices.Collect(maps.Keys(AWSRates))
	names = append(names, "RotateKeyOnDemand", "ListKeyRotations", "GetKeyLastUsage",
		"GenerateDataKeyPair:ECC_NIST_EDWARDS25519", "GenerateDataKeyPair:ML_KEM_512",
		"GenerateDataKeyPair:ML_KEM_768", "GenerateDataKeyPair:ML_KEM_1024")
	sort.Strings(names)
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}()

// Class returns the index of class name, or -1.
func Class(name string) int {
	if i, ok := classIndex[name]; ok {
		return i
	}
	return -1
}

// Indexes of the shared cryptographic classes.
var (
	idxSymmetric = classIndex[ClassSymmetric]
	idxRSA       = classIndex[ClassRSA]
	idxECC       = classIndex[ClassECC]
	idxMLDSA     = classIndex[ClassMLDSA]
	idxMLKEM     = classIndex[ClassMLKEM]
)

// SpecClass returns the index of the shared cryptographic class of a key
// of spec.
func SpecClass(spec string) int {
	switch {
	case strings.HasPrefix(spec, "RSA_"):
		return idxRSA
	case strings.HasPrefix(spec, "ECC_"), spec == "SM2":
		return idxECC
	case strings.HasPrefix(spec, "ML_DSA_"):
		return idxMLDSA
	case strings.HasPrefix(spec, "ML_KEM_"):
		return idxMLKEM
	}
	return idxSymmetric // SYMMETRIC_DEFAULT, HMAC_*
}

// Quotas are one account's quota settings as stored (kind Kind, ID the
// account ID) and as `trent admin quotas` sets them: only what differs
// from the node's defaults.
type Quotas struct {
	Resources Resources `json:"resources"`
	Rates     Rates     `json:"rates,omitempty"`
}

// Kind is the store kind of an account's Quotas record; its ID is the
// account ID.
const Kind = "quota"

// Validate checks every name and value.
func (q *Quotas) Validate() error {
	for name, f := range resourceNames {
		if *f(&q.Resources) < 0 {
			return fmt.Errorf("quota: %s must not be negative", name)
		}
	}
	for name, v := range q.Rates {
		if !ValidClass(name) {
			return fmt.Errorf("quota: unknown rate class %q (see `trent admin quotas classes`)", name)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("quota: rate %s must be a number", name)
		}
	}
	return nil
}

// Parse decodes a stored Quotas record.
func Parse(data []byte) (*Quotas, error) {
	var q Quotas
	if err := json.Unmarshal(data, &q); err != nil {
		return nil, fmt.Errorf("quota: %w", err)
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &q, nil
}
