package api

import (
	"reflect"
	"time"

	"context"

	"github.com/trentkms/trent/internal/awsjson"
	"github.com/trentkms/trent/internal/grant"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/replica"
)

// Operation is one entry of the API table: the operation's contract, which
// the server enforces identically for every entry.
type Operation struct {
	// Name is the operation name, as in X-Amz-Target "TrentService.<Name>".
	Name string
	// Action is the IAM action that authorizes the operation in key
	// policies, IAM policies and grants ("kms:Encrypt"). The domain
	// authorizes it on the key the request names.
	Action string
	// ReadOnly is CloudTrail's readOnly flag for the operation.
	ReadOnly bool
	// Crypto marks cryptographic operations: CloudTrail records their
	// responseElements as null, and each success counts as a use of the
	// keys it touched (GetKeyLastUsage).
	Crypto bool
	// MaxBody is the largest request body accepted, in bytes: the size of
	// the operation's largest valid request, derived from the AWS API
	// model (limits.go, genlimits.go) when the entry sets none. The server
	// refuses a longer body from its headers, before reading it.
	MaxBody int64
	// Deadline bounds the operation's run (DefaultDeadline when the entry
	// sets none): its context reports the deadline, and passes it to
	// whatever the operation waits on (the store, an external key store).
	Deadline time.Duration
	// SecretRequest names the request members the audit trail never
	// records (plaintexts, ciphertexts, key material, tokens, passwords:
	// every blob and every member audit.SafeParameters drops), nested
	// members as "Outer.Inner". The trail's requestParameters are the
	// decoded input without them.
	SecretRequest []string
	// SecretResponse names the response members the audit trail never
	// records. Only a mutating, non-cryptographic operation's response is
	// recorded at all (responseElements), without these members.
	SecretResponse []string
	// Handler runs the operation.
	Handler
}

// DefaultDeadline is the Deadline of an operation whose entry sets none.
const DefaultDeadline = 30 * time.Second

// Handler is how an operation runs: the service method that serves it and
// the wire shapes it decodes and encodes.
type Handler struct {
	// Input and Output are the request and response shapes (package
	// wire), as pointers.
	Input, Output reflect.Type
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
	Replicas  *replica.Service // multi-Region keys; nil: none
}

// The services an operation may be bound to, as op's pick argument.
func core(s *Services) *kms.Service           { return s.KMS }
func grants(s *Services) *grant.Service       { return s.Grants }
func imports(s *Services) *keyimport.Service  { return s.Imports }
func keyStores(s *Services) *keystore.Service { return s.KeyStores }
func jobs(s *Services) *job.Runner            { return s.Jobs }

//go:generate go run genlimits.go -model $TRENT_KMS_MODEL

// on binds an operation to method f of the service that pick chooses.
func on[S, I, O any](pick func(*Services) S, f func(S, context.Context, *I) (*O, error)) Handler {
	return Handler{
		Input: reflect.TypeFor[*I](), Output: reflect.TypeFor[*O](),
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
var Operations = build(coreOps, asymmetricOps, lifecycleOps, grantOps, keyStoreOps, multiRegionOps)

// build indexes the families of operations by name, filling in the body
// limits and deadlines their entries leave to the defaults.
func build(families ...[]*Operation) map[string]*Operation {
	m := map[string]*Operation{}
	for _, f := range families {
		for _, o := range f {
			if m[o.Name] != nil {
				panic("api: operation declared twice: " + o.Name)
			}
			if o.MaxBody == 0 {
				limit, ok := bodyLimits[o.Name]
				if !ok {
					panic("api: no body limit for " + o.Name + " (regenerate limits.go)")
				}
				o.MaxBody = limit
			}
			if o.Deadline == 0 {
				o.Deadline = DefaultDeadline
			}
			m[o.Name] = o
		}
	}
	return m
}

// coreOps are the key, policy, alias, tag and symmetric operations.
var coreOps = []*Operation{
	// Keys
	{Name: "CreateKey", Action: "kms:CreateKey", Handler: on(core, (*kms.Service).CreateKey)},
	{Name: "DescribeKey", Action: "kms:DescribeKey", ReadOnly: true, Handler: on(core, (*kms.Service).DescribeKey),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "GetKeyLastUsage", Action: "kms:GetKeyLastUsage", ReadOnly: true, Handler: on(jobs, (*job.Runner).GetKeyLastUsage),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "ListKeys", Action: "kms:ListKeys", ReadOnly: true, Handler: on(core, (*kms.Service).ListKeys)},
	{Name: "EnableKey", Action: "kms:EnableKey", Handler: on(core, (*kms.Service).EnableKey),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "DisableKey", Action: "kms:DisableKey", Handler: on(core, (*kms.Service).DisableKey),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "ScheduleKeyDeletion", Action: "kms:ScheduleKeyDeletion", Handler: on(core, (*kms.Service).ScheduleKeyDeletion)},
	{Name: "CancelKeyDeletion", Action: "kms:CancelKeyDeletion", Handler: on(core, (*kms.Service).CancelKeyDeletion),
		SecretRequest: []string{"GrantTokens"}},
	{Name: "UpdateKeyDescription", Action: "kms:UpdateKeyDescription", Handler: on(core, (*kms.Service).UpdateKeyDescription)},
	// Policies
	{Name: "GetKeyPolicy", Action: "kms:GetKeyPolicy", ReadOnly: true, Handler: on(core, (*kms.Service).GetKeyPolicy)},
	{Name: "PutKeyPolicy", Action: "kms:PutKeyPolicy", Handler: on(core, (*kms.Service).PutKeyPolicy)},
	{Name: "ListKeyPolicies", Action: "kms:ListKeyPolicies", ReadOnly: true, Handler: on(core, (*kms.Service).ListKeyPolicies)},
	// Aliases
	{Name: "CreateAlias", Action: "kms:CreateAlias", Handler: on(core, (*kms.Service).CreateAlias)},
	{Name: "UpdateAlias", Action: "kms:UpdateAlias", Handler: on(core, (*kms.Service).UpdateAlias)},
	{Name: "DeleteAlias", Action: "kms:DeleteAlias", Handler: on(core, (*kms.Service).DeleteAlias)},
	{Name: "ListAliases", Action: "kms:ListAliases", ReadOnly: true, Handler: on(core, (*kms.Service).ListAliases)},
	// Tags
	{Name: "TagResource", Action: "kms:TagResource", Handler: on(core, (*kms.Service).TagResource)},
	{Name: "UntagResource", Action: "kms:UntagResource", Handler: on(core, (*kms.Service).UntagResource)},
	{Name: "ListResourceTags", Action: "kms:ListResourceTags", ReadOnly: true, Handler: on(core, (*kms.Service).ListResourceTags)},
	// Symmetric cryptography
	{Name: "Encrypt", Action: "kms:Encrypt", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).Encrypt),
		SecretRequest: []string{"Plaintext", "GrantTokens"}, SecretResponse: []string{"CiphertextBlob"}},
	{Name: "Decrypt", Action: "kms:Decrypt", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).Decrypt),
		SecretRequest: []string{"CiphertextBlob", "GrantTokens", "Recipient.AttestationDocument"}, SecretResponse: []string{"Plaintext"}},
	{Name: "ReEncrypt", Action: "kms:ReEncrypt", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).ReEncrypt),
		SecretRequest: []string{"CiphertextBlob", "GrantTokens"}, SecretResponse: []string{"CiphertextBlob"}},
	{Name: "GenerateDataKey", Action: "kms:GenerateDataKey", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).GenerateDataKey),
		SecretRequest: []string{"GrantTokens", "Recipient.AttestationDocument"}, SecretResponse: []string{"CiphertextBlob", "Plaintext"}},
	{Name: "GenerateDataKeyWithoutPlaintext", Action: "kms:GenerateDataKeyWithoutPlaintext", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).GenerateDataKeyWithoutPlaintext),
		SecretRequest: []string{"GrantTokens", "Recipient.AttestationDocument"}, SecretResponse: []string{"CiphertextBlob", "Plaintext"}},
	{Name: "GenerateRandom", Action: "kms:GenerateRandom", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).GenerateRandom),
		SecretRequest: []string{"Recipient.AttestationDocument"}, SecretResponse: []string{"Plaintext"}},
}

// asymmetricOps are the operations of asymmetric, HMAC and post-quantum keys.
var asymmetricOps = []*Operation{
	{Name: "GetPublicKey", Action: "kms:GetPublicKey", ReadOnly: true, Handler: on(core, (*kms.Service).GetPublicKey),
		SecretRequest: []string{"GrantTokens"}, SecretResponse: []string{"PublicKey"}},
	{Name: "Sign", Action: "kms:Sign", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).Sign),
		SecretRequest: []string{"Message", "GrantTokens"}, SecretResponse: []string{"Signature"}},
	{Name: "Verify", Action: "kms:Verify", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).Verify),
		SecretRequest: []string{"Message", "Signature", "GrantTokens"}},
	{Name: "GenerateMac", Action: "kms:GenerateMac", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).GenerateMac),
		SecretRequest: []string{"Message", "GrantTokens"}, SecretResponse: []string{"Mac"}},
	{Name: "VerifyMac", Action: "kms:VerifyMac", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).VerifyMac),
		SecretRequest: []string{"Message", "Mac", "GrantTokens"}},
	{Name: "DeriveSharedSecret", Action: "kms:DeriveSharedSecret", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).DeriveSharedSecret),
		SecretRequest: []string{"PublicKey", "GrantTokens", "Recipient.AttestationDocument"}, SecretResponse: []string{"SharedSecret"}},
	{Name: "Encapsulate", Action: "kms:Encapsulate", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).Encapsulate),
		SecretRequest: []string{"GrantTokens"}, SecretResponse: []string{"SharedSecret", "SharedSecretCiphertextBlob"}},
	{Name: "Decapsulate", Action: "kms:Decapsulate", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).Decapsulate),
		SecretRequest: []string{"SharedSecretCiphertextBlob", "GrantTokens"}, SecretResponse: []string{"SharedSecret"}},
	{Name: "GenerateDataKeyPair", Action: "kms:GenerateDataKeyPair", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).GenerateDataKeyPair),
		SecretRequest: []string{"GrantTokens", "Recipient.AttestationDocument"}, SecretResponse: []string{"PrivateKeyCiphertextBlob", "PrivateKeyPlaintext", "PublicKey"}},
	{Name: "GenerateDataKeyPairWithoutPlaintext", Action: "kms:GenerateDataKeyPairWithoutPlaintext", ReadOnly: true, Crypto: true, Handler: on(core, (*kms.Service).GenerateDataKeyPairWithoutPlaintext),
		SecretRequest: []string{"GrantTokens", "Recipient.AttestationDocument"}, SecretResponse: []string{"PrivateKeyCiphertextBlob", "PrivateKeyPlaintext", "PublicKey"}},
}
