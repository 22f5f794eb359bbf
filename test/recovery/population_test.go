package recovery

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// sealed is a ciphertext and what it must decrypt to.
type sealed struct {
	key, what  string
	plaintext  []byte
	ciphertext []byte
	alg        types.EncryptionAlgorithmSpec // "" for symmetric
	context    map[string]string
}

// signed is a signature or MAC that must verify.
type signed struct {
	key, what string
	msg, sig  []byte
	alg       types.SigningAlgorithmSpec
	mac       types.MacAlgorithmSpec
}

// population is what populate made: keys of every kind, their outputs,
// aliases, grants and users.
type population struct {
	sealed   []sealed
	signed   []signed
	aliases  map[string]string // alias name -> key ID
	grants   map[string]string // grant ID -> key ID
	users    []string
	rotated  string
	rotation int
	// secrets are what no file of the data directory or of a backup
	// may hold in the clear: the imported key material and the
	// plaintexts of the ciphertexts.
	secrets [][]byte
}

func create(t *testing.T, c *kms.Client, in *kms.CreateKeyInput) string {
	t.Helper()
	out, err := c.CreateKey(ctxT(t), in)
	if err != nil {
		t.Fatalf("CreateKey %s/%s: %v", in.KeySpec, in.KeyUsage, err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// populate makes keys of every kind through s and uses each.
func populate(t *testing.T, s *server) *population {
	t.Helper()
	c := s.kms()
	ctx := ctxT(t)
	p := &population{aliases: map[string]string{}, grants: map[string]string{}}
	encrypt := func(key, what string) {
		pt := []byte("plaintext of " + what + " " + randHex(8))
		ec := map[string]string{"drill": what}
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: pt, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("Encrypt %s: %v", what, err)
		}
		p.sealed = append(p.sealed, sealed{key: key, what: what, plaintext: pt, ciphertext: out.CiphertextBlob, context: ec})
	}

	sym := create(t, c, &kms.CreateKeyInput{})
	encrypt(sym, "symmetric")

	// Rotated several times: a ciphertext under every version.
	p.rotated = create(t, c, &kms.CreateKeyInput{})
	encrypt(p.rotated, "rotated/0")
	for i := 1; i <= 3; i++ {
		if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(p.rotated)}); err != nil {
			t.Fatalf("RotateKeyOnDemand: %v", err)
		}
		encrypt(p.rotated, fmt.Sprintf("rotated/%d", i))
	}
	p.rotation = 3

	// Imported symmetric material.
	imp := create(t, c, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	params, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(imp),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(params.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	material := make([]byte, 32)
	rand.Read(material)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(imp), ImportToken: params.ImportToken,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
	encrypt(imp, "imported")
	p.secrets = append(p.secrets, material)

	// RSA encryption: a ciphertext made with the public key.
	rsaEnc := create(t, c, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	{
		pt := []byte("rsa plaintext " + randHex(8))
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(rsaEnc), Plaintext: pt, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		if err != nil {
			t.Fatalf("Encrypt RSA: %v", err)
		}
		p.sealed = append(p.sealed, sealed{key: rsaEnc, what: "rsa", plaintext: pt, ciphertext: out.CiphertextBlob, alg: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	}

	// Signatures: RSA, ECC, ML-DSA.
	for _, k := range []struct {
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
	}{
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256},
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256},
		{types.KeySpecMlDsa44, types.SigningAlgorithmSpecMlDsaShake256},
	} {
		key := create(t, c, &kms.CreateKeyInput{KeySpec: k.spec, KeyUsage: types.KeyUsageTypeSignVerify})
		msg := []byte("signed by " + string(k.spec))
		out, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(key), Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: k.alg})
		if err != nil {
			t.Fatalf("Sign %s: %v", k.spec, err)
		}
		p.signed = append(p.signed, signed{key: key, what: string(k.spec), msg: msg, sig: out.Signature, alg: k.alg})
	}
	// HMAC.
	hm := create(t, c, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	{
		msg := []byte("maced " + randHex(4))
		out, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(hm), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		if err != nil {
			t.Fatalf("GenerateMac: %v", err)
		}
		p.signed = append(p.signed, signed{key: hm, what: "HMAC_256", msg: msg, sig: out.Mac, mac: types.MacAlgorithmSpecHmacSha256})
	}

	// Aliases, grants, users.
	for i, key := range []string{sym, p.rotated, imp} {
		name := fmt.Sprintf("alias/drill-%d", i)
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(key)}); err != nil {
			t.Fatalf("CreateAlias: %v", err)
		}
		p.aliases[name] = key
	}
	for i, user := range []string{"drill-alice", "drill-bob"} {
		s.iam(t, "Action", "CreateUser", "UserName", user)
		p.users = append(p.users, user)
		g, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(sym),
			GranteePrincipal: aws.String("arn:aws:iam::111122223333:user/" + user),
			Operations:       []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
			Name:             aws.String(fmt.Sprintf("drill-grant-%d", i))})
		if err != nil {
			t.Fatalf("CreateGrant: %v", err)
		}
		p.grants[aws.ToString(g.GrantId)] = sym
	}
	return p
}

// check asserts that s serves everything p made.
func (p *population) check(t *testing.T, s *server) {
	t.Helper()
	c := s.kms()
	ctx := ctxT(t)
	for _, x := range p.sealed {
		in := &kms.DecryptInput{CiphertextBlob: x.ciphertext, EncryptionContext: x.context}
		if x.alg != "" {
			in.KeyId, in.EncryptionAlgorithm = aws.String(x.key), x.alg
		}
		out, err := c.Decrypt(ctx, in)
		if err != nil {
			t.Errorf("Decrypt %s: %v", x.what, err)
			continue
		}
		if !bytes.Equal(out.Plaintext, x.plaintext) {
			t.Errorf("Decrypt %s: wrong plaintext", x.what)
		}
	}
	for _, x := range p.signed {
		if x.mac != "" {
			out, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(x.key), Message: x.msg, Mac: x.sig, MacAlgorithm: x.mac})
			if err != nil || !out.MacValid {
				t.Errorf("VerifyMac %s: %v", x.what, err)
			}
			continue
		}
		out, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(x.key), Message: x.msg, MessageType: types.MessageTypeRaw, Signature: x.sig, SigningAlgorithm: x.alg})
		if err != nil || !out.SignatureValid {
			t.Errorf("Verify %s: %v", x.what, err)
		}
	}
	for name, key := range p.aliases {
		out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(name)})
		if err != nil || aws.ToString(out.KeyMetadata.KeyId) != key {
			t.Errorf("alias %s: %v", name, err)
		}
	}
	byKey := map[string]map[string]bool{}
	for g, key := range p.grants {
		if byKey[key] == nil {
			out, err := c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(key)})
			if err != nil {
				t.Fatalf("ListGrants: %v", err)
			}
			byKey[key] = map[string]bool{}
			for _, gl := range out.Grants {
				byKey[key][aws.ToString(gl.GrantId)] = true
			}
		}
		if !byKey[key][g] {
			t.Errorf("grant %s of key %s is missing", g, key)
		}
	}
	for _, u := range p.users {
		if b := s.iam(t, "Action", "GetUser", "UserName", u); !strings.Contains(string(b), u) {
			t.Errorf("user %s: %s", u, b)
		}
	}
	rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(p.rotated)})
	if err != nil || len(rot.Rotations) != p.rotation {
		t.Errorf("ListKeyRotations of the rotated key: %v, %v; want %d rotations", rot, err, p.rotation)
	}
}

// loadGen runs Encrypt and CreateKey against s until stopped, and keeps
// what the server acknowledged, with the time of the acknowledgement.
type loadGen struct {
	mu      sync.Mutex
	sealed  []sealed
	keys    []string
	ackedAt map[string]time.Time // by key ID or ciphertext hex prefix
	stop    atomic.Bool
	wg      sync.WaitGroup
	errs    atomic.Int64
}

func startLoad(t *testing.T, s *server, key string) *loadGen {
	lg := &loadGen{ackedAt: map[string]time.Time{}}
	c := s.kms()
	for w := range 3 {
		lg.wg.Add(1)
		go func() {
			defer lg.wg.Done()
			for i := 0; !lg.stop.Load(); i++ {
				if w == 0 && i%4 == 0 {
					out, err := c.CreateKey(ctxT(t), &kms.CreateKeyInput{Description: aws.String("load")})
					if err != nil {
						lg.errs.Add(1)
						continue
					}
					lg.mu.Lock()
					lg.keys = append(lg.keys, aws.ToString(out.KeyMetadata.KeyId))
					lg.ackedAt[aws.ToString(out.KeyMetadata.KeyId)] = time.Now()
					lg.mu.Unlock()
					continue
				}
				pt := []byte(fmt.Sprintf("load %d %d", w, i))
				out, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: aws.String(key), Plaintext: pt})
				if err != nil {
					lg.errs.Add(1)
					continue
				}
				lg.mu.Lock()
				lg.sealed = append(lg.sealed, sealed{key: key, what: string(pt), plaintext: pt, ciphertext: out.CiphertextBlob})
				lg.ackedAt[string(pt)] = time.Now()
				lg.mu.Unlock()
			}
		}()
	}
	return lg
}

func (lg *loadGen) halt() { lg.stop.Store(true); lg.wg.Wait() }

// before returns what was acknowledged before t0.
func (lg *loadGen) before(t0 time.Time) (cts []sealed, keys []string) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	for _, s := range lg.sealed {
		if lg.ackedAt[s.what].Before(t0) {
			cts = append(cts, s)
		}
	}
	for _, k := range lg.keys {
		if lg.ackedAt[k].Before(t0) {
			keys = append(keys, k)
		}
	}
	return cts, keys
}

// counts returns how many writes were acknowledged in all.
func (lg *loadGen) counts() (int, int) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return len(lg.sealed), len(lg.keys)
}

// checkAcked asserts that s holds the keys and decrypts the ciphertexts.
func checkAcked(t *testing.T, s *server, cts []sealed, keys []string) {
	t.Helper()
	c := s.kms()
	for _, k := range keys {
		if _, err := c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: aws.String(k)}); err != nil {
			t.Errorf("key %s, created and acknowledged before the backup, is missing: %v", k, err)
		}
	}
	for _, x := range cts {
		out, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: x.ciphertext})
		if err != nil || !bytes.Equal(out.Plaintext, x.plaintext) {
			t.Errorf("ciphertext %q, acknowledged before the backup, does not decrypt: %v", x.what, err)
		}
	}
}
