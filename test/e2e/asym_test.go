package e2e

// Issue 3, part 1: every KeySpec and KeyUsage through the real API — which
// pairs CreateKey accepts, the algorithm lists of CreateKey, DescribeKey
// and GetPublicKey, the DER public keys, AWS's InvalidKeyUsageException
// for every operation a key's usage does not allow, and that slow RSA key
// generation does not hold up other requests.
//
// The expected tables in this file are written from the AWS documentation
// (kms-api.md), not taken from internal/algo, so that they check it.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// validUsages is every KeyUsage AWS allows per KeySpec (SM2 is handled
// apart, since it depends on the region and --enable-sm2).
var validUsages = map[types.KeySpec][]types.KeyUsageType{
	types.KeySpecRsa2048:             {types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeSignVerify},
	types.KeySpecRsa3072:             {types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeSignVerify},
	types.KeySpecRsa4096:             {types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeSignVerify},
	types.KeySpecEccNistP256:         {types.KeyUsageTypeSignVerify, types.KeyUsageTypeKeyAgreement},
	types.KeySpecEccNistP384:         {types.KeyUsageTypeSignVerify, types.KeyUsageTypeKeyAgreement},
	types.KeySpecEccNistP521:         {types.KeyUsageTypeSignVerify, types.KeyUsageTypeKeyAgreement},
	types.KeySpecEccSecgP256k1:       {types.KeyUsageTypeSignVerify},
	types.KeySpecEccNistEdwards25519: {types.KeyUsageTypeSignVerify},
	types.KeySpecMlDsa44:             {types.KeyUsageTypeSignVerify},
	types.KeySpecMlDsa65:             {types.KeyUsageTypeSignVerify},
	types.KeySpecMlDsa87:             {types.KeyUsageTypeSignVerify},
	types.KeySpecMlKem512:            {types.KeyUsageTypeEncapsulateDecapsulate},
	types.KeySpecMlKem768:            {types.KeyUsageTypeEncapsulateDecapsulate},
	types.KeySpecMlKem1024:           {types.KeyUsageTypeEncapsulateDecapsulate},
	types.KeySpecHmac224:             {types.KeyUsageTypeGenerateVerifyMac},
	types.KeySpecHmac256:             {types.KeyUsageTypeGenerateVerifyMac},
	types.KeySpecHmac384:             {types.KeyUsageTypeGenerateVerifyMac},
	types.KeySpecHmac512:             {types.KeyUsageTypeGenerateVerifyMac},
	types.KeySpecSymmetricDefault:    {types.KeyUsageTypeEncryptDecrypt},
	types.KeySpecSm2:                 {types.KeyUsageTypeSignVerify, types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeKeyAgreement},
}

// algLists are the algorithm lists of KeyMetadata and GetPublicKey.
type algLists struct {
	Enc, Sign, Mac, Agree, Encap []string
}

// wantAlgs is what AWS lists for a key of spec and usage, in AWS's order.
func wantAlgs(spec types.KeySpec, usage types.KeyUsageType) algLists {
	s := string(spec)
	switch {
	case spec == types.KeySpecSymmetricDefault:
		return algLists{Enc: []string{"SYMMETRIC_DEFAULT"}}
	case strings.HasPrefix(s, "RSA_") && usage == types.KeyUsageTypeEncryptDecrypt:
		return algLists{Enc: []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}}
	case strings.HasPrefix(s, "RSA_"):
		return algLists{Sign: []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
			"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}}
	case usage == types.KeyUsageTypeKeyAgreement:
		return algLists{Agree: []string{"ECDH"}}
	case spec == types.KeySpecEccNistP256, spec == types.KeySpecEccSecgP256k1:
		return algLists{Sign: []string{"ECDSA_SHA_256"}}
	case spec == types.KeySpecEccNistP384:
		return algLists{Sign: []string{"ECDSA_SHA_384"}}
	case spec == types.KeySpecEccNistP521:
		return algLists{Sign: []string{"ECDSA_SHA_512"}}
	case spec == types.KeySpecEccNistEdwards25519:
		return algLists{Sign: []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}}
	case strings.HasPrefix(s, "ML_DSA_"):
		return algLists{Sign: []string{"ML_DSA_SHAKE_256"}}
	case strings.HasPrefix(s, "ML_KEM_"):
		return algLists{Encap: []string{"ML_KEM"}}
	case strings.HasPrefix(s, "HMAC_"):
		return algLists{Mac: []string{"HMAC_SHA_" + strings.TrimPrefix(s, "HMAC_")}}
	case spec == types.KeySpecSm2 && usage == types.KeyUsageTypeSignVerify:
		return algLists{Sign: []string{"SM2DSA"}}
	case spec == types.KeySpecSm2:
		return algLists{Enc: []string{"SM2PKE"}}
	}
	return algLists{}
}

func strs[T ~string](v []T) []string {
	if v == nil {
		return nil
	}
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = string(s)
	}
	return out
}

// checkAlgLists fails unless got equals want list by list (nil and empty
// alike: the JSON omits empty lists).
func checkAlgLists(t testing.TB, what string, got, want algLists) {
	t.Helper()
	for _, l := range []struct {
		name      string
		got, want []string
	}{
		{"EncryptionAlgorithms", got.Enc, want.Enc}, {"SigningAlgorithms", got.Sign, want.Sign},
		{"MacAlgorithms", got.Mac, want.Mac}, {"KeyAgreementAlgorithms", got.Agree, want.Agree},
		{"EncapsulationAlgorithms", got.Encap, want.Encap},
	} {
		if !slices.Equal(l.got, l.want) {
			t.Errorf("%s %s = %q, want %q", what, l.name, l.got, l.want)
		}
	}
}

func metadataAlgs(m *types.KeyMetadata) algLists {
	return algLists{strs(m.EncryptionAlgorithms), strs(m.SigningAlgorithms), strs(m.MacAlgorithms),
		strs(m.KeyAgreementAlgorithms), strs(m.EncapsulationAlgorithms)}
}

// keyFixture is one key of a pool, created on first use.
type keyFixture struct {
	once sync.Once
	m    *types.KeyMetadata
	err  error
	took time.Duration
}

// keyPool creates each (KeySpec, KeyUsage) key once per node and shares it
// between tests: RSA_4096 generation alone takes about a second.
type keyPool struct {
	c    *kms.Client
	mu   sync.Mutex
	keys map[string]*keyFixture
}

func newKeyPool(c *kms.Client) *keyPool { return &keyPool{c: c, keys: map[string]*keyFixture{}} }

// sharedPool is the pool of the shared node (set up by TestMain before any
// test runs).
var sharedPool = sync.OnceValue(func() *keyPool { return newKeyPool(newClient(shared.Endpoint)) })

// get returns the pool's key of spec and usage, creating it if needed.
func (p *keyPool) get(t testing.TB, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	p.mu.Lock()
	name := string(spec) + "/" + string(usage)
	f := p.keys[name]
	if f == nil {
		f = &keyFixture{}
		p.keys[name] = f
	}
	p.mu.Unlock()
	f.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		in := &kms.CreateKeyInput{KeySpec: spec, Description: aws.String(uniq("e2e-asym"))}
		if spec != types.KeySpecSymmetricDefault {
			in.KeyUsage = usage
		}
		start := time.Now()
		out, err := p.c.CreateKey(ctx, in)
		f.took = time.Since(start)
		if err != nil {
			f.err = err
			return
		}
		f.m = out.KeyMetadata
	})
	skipIfFIPSRefused(t, f.err, "KeySpec", string(spec))
	if f.err != nil {
		t.Fatalf("CreateKey %s: %v", name, f.err)
	}
	return f.m
}

// latencies returns the CreateKey latency of every key the pool made.
func (p *keyPool) latencies() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Duration{}
	for name, f := range p.keys {
		if f.m != nil {
			out[name] = f.took
		}
	}
	return out
}

// allSpecs is every KeySpec of the SDK other than SM2.
func allSpecs() []types.KeySpec {
	var out []types.KeySpec
	for _, s := range types.KeySpec("").Values() {
		if s != types.KeySpecSm2 {
			out = append(out, s)
		}
	}
	return out
}

// TestAsymCreateKeyMatrix tries every KeySpec with every KeyUsage: the
// pairs AWS allows succeed with the right metadata, all others fail with
// AWS's ValidationException. It logs CreateKey's latency per pair.
func TestAsymCreateKeyMatrix(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	t.Run("pairs", func(t *testing.T) {
		for _, spec := range allSpecs() {
			for _, usage := range types.KeyUsageType("").Values() {
				ok := slices.Contains(validUsages[spec], usage)
				name := "fail/"
				if ok {
					name = "ok/"
				}
				t.Run(name+string(spec)+"/"+string(usage), func(t *testing.T) {
					t.Parallel()
					if !ok {
						_, err := pool.c.CreateKey(ctxT(t), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
						wantAPIError(t, err, "ValidationException",
							fmt.Sprintf("KeyUsage %s is not compatible with KeySpec %s", usage, spec))
						return
					}
					m := pool.get(t, spec, usage)
					if m.KeySpec != spec || m.KeyUsage != usage || m.KeyState != types.KeyStateEnabled || !m.Enabled {
						t.Errorf("KeySpec, KeyUsage, KeyState, Enabled = %s, %s, %s, %v", m.KeySpec, m.KeyUsage, m.KeyState, m.Enabled)
					}
					cmk := types.CustomerMasterKeySpec("")
					if !strings.HasPrefix(string(spec), "ML_") && spec != types.KeySpecEccNistEdwards25519 {
						cmk = types.CustomerMasterKeySpec(spec) // the deprecated member covers the pre-2025 specs
					}
					if m.CustomerMasterKeySpec != cmk {
						t.Errorf("CustomerMasterKeySpec = %q, want %q", m.CustomerMasterKeySpec, cmk)
					}
					checkAlgLists(t, "CreateKey", metadataAlgs(m), wantAlgs(spec, usage))
					d, err := pool.c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: m.KeyId})
					if err != nil {
						t.Fatalf("DescribeKey: %v", err)
					}
					checkAlgLists(t, "DescribeKey", metadataAlgs(d.KeyMetadata), wantAlgs(spec, usage))
					if d.KeyMetadata.KeySpec != spec || d.KeyMetadata.KeyUsage != usage {
						t.Errorf("DescribeKey KeySpec, KeyUsage = %s, %s", d.KeyMetadata.KeySpec, d.KeyMetadata.KeyUsage)
					}
				})
			}
		}
		for _, spec := range allSpecs() {
			if spec == types.KeySpecSymmetricDefault {
				continue
			}
			t.Run("fail/"+string(spec)+"/no KeyUsage", func(t *testing.T) {
				t.Parallel()
				_, err := pool.c.CreateKey(ctxT(t), &kms.CreateKeyInput{KeySpec: spec})
				wantAPIError(t, err, "ValidationException",
					"You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
			})
		}
		t.Run("fail/SM2 outside China Regions", func(t *testing.T) {
			t.Parallel()
			_, err := pool.c.CreateKey(ctxT(t), &kms.CreateKeyInput{KeySpec: types.KeySpecSm2, KeyUsage: types.KeyUsageTypeSignVerify})
			wantAPIError(t, err, "ValidationException",
				"KeySpec SM2 is supported only in China Regions. Start Trent with --enable-sm2 to serve it elsewhere.")
		})
		t.Run("ok/SYMMETRIC_DEFAULT without KeyUsage", func(t *testing.T) {
			t.Parallel()
			m := createKey(t, pool.c, &kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault})
			if m.KeyUsage != types.KeyUsageTypeEncryptDecrypt {
				t.Fatalf("KeyUsage = %s, want ENCRYPT_DECRYPT", m.KeyUsage)
			}
		})
	})
	logLatencies(t, pool.latencies())
}

// logLatencies prints CreateKey latencies in a stable order.
func logLatencies(t *testing.T, lat map[string]time.Duration) {
	names := make([]string, 0, len(lat))
	for n := range lat {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("CreateKey latency %-45s %v", n, lat[n].Round(time.Millisecond))
	}
}

// Object identifiers of the public keys GetPublicKey returns.
var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidEC        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384      = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521      = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidSM2       = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	oidMLDSA     = map[types.KeySpec]asn1.ObjectIdentifier{
		types.KeySpecMlDsa44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
		types.KeySpecMlDsa65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
		types.KeySpecMlDsa87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
	}
	oidMLKEM = map[types.KeySpec]asn1.ObjectIdentifier{
		types.KeySpecMlKem512:  {2, 16, 840, 1, 101, 3, 4, 4, 1},
		types.KeySpecMlKem768:  {2, 16, 840, 1, 101, 3, 4, 4, 2},
		types.KeySpecMlKem1024: {2, 16, 840, 1, 101, 3, 4, 4, 3},
	}
	// rawPublicKeySize is the size of the ML-DSA / ML-KEM public key.
	rawPublicKeySize = map[types.KeySpec]int{
		types.KeySpecMlDsa44: 1312, types.KeySpecMlDsa65: 1952, types.KeySpecMlDsa87: 2592,
		types.KeySpecMlKem512: 800, types.KeySpecMlKem768: 1184, types.KeySpecMlKem1024: 1568,
	}
)

type spkiDER struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// parseSPKI splits a DER SubjectPublicKeyInfo without interpreting the key.
func parseSPKI(t testing.TB, der []byte) spkiDER {
	t.Helper()
	var s spkiDER
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) != 0 {
		t.Fatalf("public key is not a DER SubjectPublicKeyInfo: %v (%d trailing bytes)", err, len(rest))
	}
	return s
}

// checkPublicKey parses der as the public key of a key of spec with the
// standard library where it can, else checks its OIDs and size. It returns
// the parsed key (crypto.PublicKey) or the raw key bytes.
func checkPublicKey(t testing.TB, spec types.KeySpec, der []byte) any {
	t.Helper()
	s := parseSPKI(t, der)
	curve := func() asn1.ObjectIdentifier {
		var c asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(s.Algorithm.Parameters.FullBytes, &c); err != nil {
			t.Fatalf("EC parameters: %v", err)
		}
		return c
	}
	switch spec {
	case types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecRsa4096:
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatal(err)
		}
		rp, ok := pub.(*rsa.PublicKey)
		bits := map[types.KeySpec]int{types.KeySpecRsa2048: 2048, types.KeySpecRsa3072: 3072, types.KeySpecRsa4096: 4096}[spec]
		if !ok || rp.N.BitLen() != bits || rp.E != 65537 || !s.Algorithm.Algorithm.Equal(oidRSA) {
			t.Fatalf("public key %T is not a %d-bit RSA key with e=65537", pub, bits)
		}
		return rp
	case types.KeySpecEccNistP256, types.KeySpecEccNistP384, types.KeySpecEccNistP521:
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatal(err)
		}
		ep, ok := pub.(*ecdsa.PublicKey)
		want := map[types.KeySpec]elliptic.Curve{types.KeySpecEccNistP256: elliptic.P256(),
			types.KeySpecEccNistP384: elliptic.P384(), types.KeySpecEccNistP521: elliptic.P521()}[spec]
		if !ok || ep.Curve != want {
			t.Fatalf("public key %T is not an ECDSA key on %s", pub, want.Params().Name)
		}
		return ep
	case types.KeySpecEccSecgP256k1, types.KeySpecSm2:
		want := oidSecp256k1
		if spec == types.KeySpecSm2 {
			want = oidSM2
		}
		if !s.Algorithm.Algorithm.Equal(oidEC) || !curve().Equal(want) {
			t.Fatalf("public key algorithm %v/%v, want id-ecPublicKey/%v", s.Algorithm.Algorithm, curve(), want)
		}
		if len(s.PublicKey.Bytes) != 65 || s.PublicKey.Bytes[0] != 4 {
			t.Fatalf("EC point is %d bytes, want 65 uncompressed", len(s.PublicKey.Bytes))
		}
		return s.PublicKey.Bytes
	case types.KeySpecEccNistEdwards25519:
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatal(err)
		}
		ep, ok := pub.(ed25519.PublicKey)
		if !ok || !s.Algorithm.Algorithm.Equal(oidEd25519) {
			t.Fatalf("public key %T is not Ed25519", pub)
		}
		return ep
	}
	want := oidMLDSA[spec]
	if want == nil {
		want = oidMLKEM[spec]
	}
	if want == nil {
		t.Fatalf("no public key expected for %s", spec)
	}
	if !s.Algorithm.Algorithm.Equal(want) || len(s.Algorithm.Parameters.FullBytes) != 0 {
		t.Fatalf("public key algorithm %v (params %x), want %v without parameters", s.Algorithm.Algorithm, s.Algorithm.Parameters.FullBytes, want)
	}
	if len(s.PublicKey.Bytes) != rawPublicKeySize[spec] || s.PublicKey.BitLength != 8*rawPublicKeySize[spec] {
		t.Fatalf("public key is %d bytes, want %d", len(s.PublicKey.Bytes), rawPublicKeySize[spec])
	}
	return s.PublicKey.Bytes
}

// TestAsymGetPublicKey checks GetPublicKey for every asymmetric pair, and
// AWS's exception for keys that have no public key.
func TestAsymGetPublicKey(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	for _, spec := range allSpecs() {
		for _, usage := range validUsages[spec] {
			asym := spec != types.KeySpecSymmetricDefault && !strings.HasPrefix(string(spec), "HMAC_")
			name := "ok/"
			if !asym {
				name = "fail/"
			}
			t.Run(name+string(spec)+"/"+string(usage), func(t *testing.T) {
				t.Parallel()
				m := pool.get(t, spec, usage)
				out, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
				if !asym {
					wantAPIError(t, err, "UnsupportedOperationException",
						fmt.Sprintf("%s key spec is %s which is not valid for GetPublicKey.", *m.Arn, spec))
					return
				}
				if err != nil {
					t.Fatalf("GetPublicKey: %v", err)
				}
				if aws.ToString(out.KeyId) != *m.Arn || out.KeySpec != spec || out.KeyUsage != usage {
					t.Errorf("KeyId, KeySpec, KeyUsage = %s, %s, %s", aws.ToString(out.KeyId), out.KeySpec, out.KeyUsage)
				}
				checkAlgLists(t, "GetPublicKey", algLists{strs(out.EncryptionAlgorithms), strs(out.SigningAlgorithms), nil,
					strs(out.KeyAgreementAlgorithms), strs(out.EncapsulationAlgorithms)}, wantAlgs(spec, usage))
				checkPublicKey(t, spec, out.PublicKey)
			})
		}
	}
}

// usageCall runs operation op against key m with otherwise valid input.
func usageCall(ctx context.Context, c *kms.Client, op string, m *types.KeyMetadata) error {
	msg := []byte("usage probe")
	var err error
	switch op {
	case "Encrypt":
		_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: m.KeyId, Plaintext: msg})
	case "Decrypt":
		_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: m.KeyId, CiphertextBlob: make([]byte, 256),
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	case "Sign":
		_, err = c.Sign(ctx, &kms.SignInput{KeyId: m.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	case "Verify":
		_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: m.KeyId, Message: msg, Signature: make([]byte, 64),
			SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	case "GenerateMac":
		_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	case "VerifyMac":
		_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: m.KeyId, Message: msg, Mac: make([]byte, 32), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	case "DeriveSharedSecret":
		_, err = c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: m.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh,
			PublicKey: make([]byte, 91)})
	case "Encapsulate":
		_, err = c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	case "Decapsulate":
		_, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
			SharedSecretCiphertextBlob: make([]byte, 1088)})
	case "GenerateDataKeyPair":
		_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: m.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	case "GenerateDataKeyPairWithoutPlaintext":
		_, err = c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: m.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	case "GenerateDataKey":
		_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: m.KeyId, KeySpec: types.DataKeySpecAes256})
	default:
		panic("usageCall: " + op)
	}
	return err
}

// opUsage is the KeyUsage each operation requires.
var opUsage = map[string]types.KeyUsageType{
	"Encrypt": types.KeyUsageTypeEncryptDecrypt, "Decrypt": types.KeyUsageTypeEncryptDecrypt,
	"GenerateDataKey": types.KeyUsageTypeEncryptDecrypt, "GenerateDataKeyPair": types.KeyUsageTypeEncryptDecrypt,
	"GenerateDataKeyPairWithoutPlaintext": types.KeyUsageTypeEncryptDecrypt,
	"Sign":                                types.KeyUsageTypeSignVerify, "Verify": types.KeyUsageTypeSignVerify,
	"GenerateMac": types.KeyUsageTypeGenerateVerifyMac, "VerifyMac": types.KeyUsageTypeGenerateVerifyMac,
	"DeriveSharedSecret": types.KeyUsageTypeKeyAgreement,
	"Encapsulate":        types.KeyUsageTypeEncapsulateDecapsulate, "Decapsulate": types.KeyUsageTypeEncapsulateDecapsulate,
}

// TestAsymInvalidKeyUsage sends every operation to a key of every usage that
// does not allow it: InvalidKeyUsageException "<arn> key usage is U which is
// not valid for Op.".
func TestAsymInvalidKeyUsage(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	keys := []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
	}{
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt},
		{types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt},
		{types.KeySpecRsa2048, types.KeyUsageTypeSignVerify},
		{types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify},
		{types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement},
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify},
		{types.KeySpecMlDsa65, types.KeyUsageTypeSignVerify},
		{types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate},
		{types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac},
	}
	ops := make([]string, 0, len(opUsage))
	for op := range opUsage {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, k := range keys {
		for _, op := range ops {
			if opUsage[op] == k.usage {
				continue
			}
			t.Run(fmt.Sprintf("fail/%s %s/%s", k.spec, k.usage, op), func(t *testing.T) {
				t.Parallel()
				m := pool.get(t, k.spec, k.usage)
				err := usageCall(ctxT(t), pool.c, op, m)
				wantAPIError(t, err, "InvalidKeyUsageException",
					fmt.Sprintf("%s key usage is %s which is not valid for %s.", *m.Arn, k.usage, op))
			})
		}
	}
	// ENCRYPT_DECRYPT keys that are not symmetric cannot make data keys.
	for _, op := range []string{"GenerateDataKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"} {
		t.Run("fail/RSA_2048 ENCRYPT_DECRYPT/"+op, func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
			err := usageCall(ctxT(t), pool.c, op, m)
			wantAPIError(t, err, "InvalidKeyUsageException", anyMessage)
		})
	}
}

// TestAsymCreateKeyDoesNotBlock starts an RSA_4096 CreateKey and, while it
// runs, performs symmetric Encrypts one after the other on another
// goroutine: several of them must complete before CreateKey returns.
func TestAsymCreateKeyDoesNotBlock(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	sym := createKey(t, c, nil)
	if _, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: sym.KeyId, Plaintext: []byte("warm")}); err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	var createDone atomic.Bool
	var before atomic.Int64 // Encrypts completed while CreateKey was running
	stop := make(chan struct{})
	encErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for {
			select {
			case <-stop:
				encErr <- nil
				return
			default:
			}
			if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: sym.KeyId, Plaintext: []byte("while RSA keygen runs")}); err != nil {
				encErr <- err
				return
			}
			if !createDone.Load() {
				before.Add(1)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa4096, KeyUsage: types.KeyUsageTypeSignVerify})
	createDone.Store(true)
	took := time.Since(start)
	close(stop)
	if e := <-encErr; e != nil {
		t.Fatalf("Encrypt during CreateKey: %v", e)
	}
	if err != nil {
		t.Fatalf("CreateKey RSA_4096: %v", err)
	}
	if out.KeyMetadata.KeySpec != types.KeySpecRsa4096 {
		t.Fatalf("KeySpec = %s", out.KeyMetadata.KeySpec)
	}
	n := before.Load()
	t.Logf("CreateKey RSA_4096 took %v; %d sequential Encrypts completed meanwhile", took.Round(time.Millisecond), n)
	if n < 3 {
		t.Fatalf("only %d Encrypts completed while CreateKey RSA_4096 ran, want at least 3: key generation blocks other requests", n)
	}
}

// openssl runs the openssl command line tool in dir, failing the test with
// its output on a non-zero exit.
func openssl(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func hasOpenSSL() bool {
	_, err := exec.LookPath("openssl")
	return err == nil
}

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkAsymCreateKey measures CreateKey through the API per KeySpec,
// one request at a time (RSA generation time varies widely per key: run
// with -benchtime of at least 10x).
func BenchmarkAsymCreateKey(b *testing.B) {
	c := newClient(shared.Endpoint)
	for _, spec := range allSpecs() {
		usage := validUsages[spec][0]
		b.Run(string(spec), func(b *testing.B) {
			for b.Loop() {
				in := &kms.CreateKeyInput{KeySpec: spec}
				if spec != types.KeySpecSymmetricDefault {
					in.KeyUsage = usage
				}
				if _, err := c.CreateKey(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAsymSign measures Sign through the API per SIGN_VERIFY spec.
func BenchmarkAsymSign(b *testing.B) {
	pool := sharedPool()
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa4096, types.KeySpecEccNistP256,
		types.KeySpecEccSecgP256k1, types.KeySpecEccNistEdwards25519, types.KeySpecMlDsa65} {
		alg := types.SigningAlgorithmSpec(wantAlgs(spec, types.KeyUsageTypeSignVerify).Sign[0])
		b.Run(string(spec), func(b *testing.B) {
			m := pool.get(b, spec, types.KeyUsageTypeSignVerify)
			msg := []byte("benchmark message")
			for b.Loop() {
				if _, err := pool.c.Sign(context.Background(), &kms.SignInput{KeyId: m.KeyId, Message: msg, SigningAlgorithm: alg}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
