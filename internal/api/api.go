package api

import (
	"context"

	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/grant"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/keystore"
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
	// Invoke decodes body and runs the operation on the service of s that
	// serves it. It returns the decoded input (nil if decoding failed), and
	// the output shape (encoded by the server) or an error.
	Invoke func(ctx context.Context, s *Services, body []byte) (in, out any, err error)
}

// Services are the domain services of a node that the operations run on:
// the core and the concerns beside it.
type Services struct {
	KMS       *kms.Service
	Grants    *grant.Service
	Imports   *keyimport.Service
	KeyStores *keystore.Service
	Jobs      *job.Runner
}

// The services an operation may be bound to, as op's pick argument.
func core(s *Services) *kms.Service           { return s.KMS }
func grants(s *Services) *grant.Service       { return s.Grants }
func imports(s *Services) *keyimport.Service  { return s.Imports }
func keyStores(s *Services) *keystore.Service { return s.KeyStores }
func jobs(s *Services) *job.Runner            { return s.Jobs }

//go:generate go run genlimits.go -model $TRENT_KMS_MODEL

// op builds a table entry from a method of the service that pick chooses.
func op[S, I, O any](name string, readOnly, crypto bool, pick func(*Services) S, f func(S, context.Context, *I) (*O, error)) *Operation {
	limit, ok := bodyLimits[name]
	if !ok {
		panic("api: no body limit for " + name + " (regenerate limits.go)")
	}
	return &Operation{Name: name, ReadOnly: readOnly, Crypto: crypto, MaxBody: limit,
		Invoke: func(ctx context.Context, s *Services, body []byte) (any, any, error) {
			in := new(I)
			if err := awsjson.Decode(body, in); err != nil {
				return nil, nil, err
			}
			out, err := f(pick(s), ctx, in)
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
	op("CreateKey", false, false, core, (*kms.Service).CreateKey),
	op("DescribeKey", true, false, core, (*kms.Service).DescribeKey),
	op("GetKeyLastUsage", true, false, jobs, (*job.Runner).GetKeyLastUsage),
	op("ListKeys", true, false, core, (*kms.Service).ListKeys),
	op("EnableKey", false, false, core, (*kms.Service).EnableKey),
	op("DisableKey", false, false, core, (*kms.Service).DisableKey),
	op("ScheduleKeyDeletion", false, false, core, (*kms.Service).ScheduleKeyDeletion),
	op("CancelKeyDeletion", false, false, core, (*kms.Service).CancelKeyDeletion),
	op("UpdateKeyDescription", false, false, core, (*kms.Service).UpdateKeyDescription),
	// Policies
	op("GetKeyPolicy", true, false, core, (*kms.Service).GetKeyPolicy),
	op("PutKeyPolicy", false, false, core, (*kms.Service).PutKeyPolicy),
	op("ListKeyPolicies", true, false, core, (*kms.Service).ListKeyPolicies),
	// Aliases
	op("CreateAlias", false, false, core, (*kms.Service).CreateAlias),
	op("UpdateAlias", false, false, core, (*kms.Service).UpdateAlias),
	op("DeleteAlias", false, false, core, (*kms.Service).DeleteAlias),
	op("ListAliases", true, false, core, (*kms.Service).ListAliases),
	// Tags
	op("TagResource", false, false, core, (*kms.Service).TagResource),
	op("UntagResource", false, false, core, (*kms.Service).UntagResource),
	op("ListResourceTags", true, false, core, (*kms.Service).ListResourceTags),
	// Symmetric cryptography
	op("Encrypt", true, true, core, (*kms.Service).Encrypt),
	op("Decrypt", true, true, core, (*kms.Service).Decrypt),
	op("ReEncrypt", true, true, core, (*kms.Service).ReEncrypt),
	op("GenerateDataKey", true, true, core, (*kms.Service).GenerateDataKey),
	op("GenerateDataKeyWithoutPlaintext", true, true, core, (*kms.Service).GenerateDataKeyWithoutPlaintext),
	op("GenerateRandom", true, true, core, (*kms.Service).GenerateRandom),
}

// asymmetricOps are the operations of asymmetric, HMAC and post-quantum keys.
var asymmetricOps = []*Operation{
	op("GetPublicKey", true, false, core, (*kms.Service).GetPublicKey),
	op("Sign", true, true, core, (*kms.Service).Sign),
	op("Verify", true, true, core, (*kms.Service).Verify),
	op("GenerateMac", true, true, core, (*kms.Service).GenerateMac),
	op("VerifyMac", true, true, core, (*kms.Service).VerifyMac),
	op("DeriveSharedSecret", true, true, core, (*kms.Service).DeriveSharedSecret),
	op("Encapsulate", true, true, core, (*kms.Service).Encapsulate),
	op("Decapsulate", true, true, core, (*kms.Service).Decapsulate),
	op("GenerateDataKeyPair", true, true, core, (*kms.Service).GenerateDataKeyPair),
	op("GenerateDataKeyPairWithoutPlaintext", true, true, core, (*kms.Service).GenerateDataKeyPairWithoutPlaintext),
}
