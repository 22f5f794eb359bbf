package api

import (
	"context"

	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/kms"
)

// Operation is one entry of the API table.
type Operation struct {
	// Name is the operation name, as in X-Amz-Target "TrentService.<Name>".
	Name string
	// ReadOnly is CloudTrail's readOnly flag for the operation.
	ReadOnly bool
	// Crypto marks cryptographic operations: CloudTrail records their
	// responseElements as null.
	Crypto bool
	// MaxBody is the largest request body accepted, in bytes: the size of
	// the operation's largest valid request, derived from the AWS API
	// model (limits.go, genlimits.go). The server refuses a longer body
	// from its headers, before reading it.
	MaxBody int64
	// Invoke decodes body and runs the operation. It returns the decoded
	// input (nil if decoding failed), and the output shape (encoded by the
	// server) or an error.
	Invoke func(ctx context.Context, s *kms.Service, body []byte) (in, out any, err error)
}

//go:generate go run genlimits.go -model $TRENT_KMS_MODEL

// op builds a table entry from a domain method.
func op[I, O any](name string, readOnly, crypto bool, f func(*kms.Service, context.Context, *I) (*O, error)) *Operation {
	limit, ok := bodyLimits[name]
	if !ok {
		panic("api: no body limit for " + name + " (regenerate limits.go)")
	}
	return &Operation{Name: name, ReadOnly: readOnly, Crypto: crypto, MaxBody: limit,
		Invoke: func(ctx context.Context, s *kms.Service, body []byte) (any, any, error) {
			in := new(I)
			if err := awsjson.Decode(body, in); err != nil {
				return nil, nil, err
			}
			out, err := f(s, ctx, in)
			if err != nil {
				return in, nil, err
			}
			return in, out, nil
		}}
}

// Operations is the API table, by operation name.
var Operations = build(coreOps, asymmetricOps, lifecycleOps, grantOps, keyStoreOps)

func build(families ...[]*Operation) map[string]*Operation {
	m := map[string]*Operation{}
	for _, f := range families {
		for _, o := range f {
			if m[o.Name] != nil {
				panic("api: operation declared twice: " + o.Name)
			}
			m[o.Name] = o
		}
	}
	return m
}

// coreOps are the key, policy, alias, tag and symmetric operations.
var coreOps = []*Operation{
	// Keys
	op("CreateKey", false, false, (*kms.Service).CreateKey),
	op("DescribeKey", true, false, (*kms.Service).DescribeKey),
	op("GetKeyLastUsage", true, false, (*kms.Service).GetKeyLastUsage),
	op("ListKeys", true, false, (*kms.Service).ListKeys),
	op("EnableKey", false, false, (*kms.Service).EnableKey),
	op("DisableKey", false, false, (*kms.Service).DisableKey),
	op("ScheduleKeyDeletion", false, false, (*kms.Service).ScheduleKeyDeletion),
	op("CancelKeyDeletion", false, false, (*kms.Service).CancelKeyDeletion),
	op("UpdateKeyDescription", false, false, (*kms.Service).UpdateKeyDescription),
	// Policies
	op("GetKeyPolicy", true, false, (*kms.Service).GetKeyPolicy),
	op("PutKeyPolicy", false, false, (*kms.Service).PutKeyPolicy),
	op("ListKeyPolicies", true, false, (*kms.Service).ListKeyPolicies),
	// Aliases
	op("CreateAlias", false, false, (*kms.Service).CreateAlias),
	op("UpdateAlias", false, false, (*kms.Service).UpdateAlias),
	op("DeleteAlias", false, false, (*kms.Service).DeleteAlias),
	op("ListAliases", true, false, (*kms.Service).ListAliases),
	// Tags
	op("TagResource", false, false, (*kms.Service).TagResource),
	op("UntagResource", false, false, (*kms.Service).UntagResource),
	op("ListResourceTags", true, false, (*kms.Service).ListResourceTags),
	// Symmetric cryptography
	op("Encrypt", true, true, (*kms.Service).Encrypt),
	op("Decrypt", true, true, (*kms.Service).Decrypt),
	op("ReEncrypt", true, true, (*kms.Service).ReEncrypt),
	op("GenerateDataKey", true, true, (*kms.Service).GenerateDataKey),
	op("GenerateDataKeyWithoutPlaintext", true, true, (*kms.Service).GenerateDataKeyWithoutPlaintext),
	op("GenerateRandom", true, true, (*kms.Service).GenerateRandom),
}

// asymmetricOps are the operations of asymmetric, HMAC and post-quantum keys.
var asymmetricOps = []*Operation{
	op("GetPublicKey", true, false, (*kms.Service).GetPublicKey),
	op("Sign", true, true, (*kms.Service).Sign),
	op("Verify", true, true, (*kms.Service).Verify),
	op("GenerateMac", true, true, (*kms.Service).GenerateMac),
	op("VerifyMac", true, true, (*kms.Service).VerifyMac),
	op("DeriveSharedSecret", true, true, (*kms.Service).DeriveSharedSecret),
	op("Encapsulate", true, true, (*kms.Service).Encapsulate),
	op("Decapsulate", true, true, (*kms.Service).Decapsulate),
	op("GenerateDataKeyPair", true, true, (*kms.Service).GenerateDataKeyPair),
	op("GenerateDataKeyPairWithoutPlaintext", true, true, (*kms.Service).GenerateDataKeyPairWithoutPlaintext),
}
