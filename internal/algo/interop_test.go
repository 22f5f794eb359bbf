package algo

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/testenv"
)

// These tests check Trent against independent implementations: the
// OpenSSL 3 command line and Python's cryptography package (which bundles
// its own OpenSSL, with ML-DSA and ML-KEM). They skip when the tool is absent.

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		part := name
		if name == "openssl" {
			part = testenv.OpenSSL
		}
		testenv.Missing(t, part, name+" not installed")
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	return writeFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func TestOpenSSLVerifiesSignatures(t *testing.T) {
	needTool(t, "openssl")
	t.Parallel()
	msg := []byte("verified by OpenSSL")
	for _, tc := range signCases() {
		if tc.spec == "RSA_3072" || strings.HasPrefix(tc.spec, "ML_DSA") || tc.mt == MessageExternalMu {
			continue // RSA_3072 adds nothing over 2048/4096; ML-DSA is checked by Python
		}
		t.Run(fmt.Sprintf("ok/%s/%s/%s", tc.spec, tc.alg, tc.mt), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			k := testKey(t, tc.spec, UsageSignVerify)
			sig, err := k.Sign(rand.Reader, tc.alg, tc.mt, signInput(t, k, tc.alg, tc.mt, msg))
			if err != nil {
				t.Fatal(err)
			}
			der, _ := k.PublicKeyDER()
			pub := writePEM(t, dir, "pub.pem", "PUBLIC KEY", der)
			sigf := writeFile(t, dir, "sig", sig)
			msgf := writeFile(t, dir, "msg", msg)
			var args []string
			switch {
			case tc.alg == Ed25519SHA512:
				args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msgf, "-sigfile", sigf}
			case tc.alg == Ed25519PHSHA512:
				t.Skip("OpenSSL 3.0 has no Ed25519ph; RFC 8032 vector in TestEd25519phKnownAnswer")
			case tc.alg == SM2DSA:
				args = []string{"dgst", "-sm3", "-verify", pub, "-sigopt", "distid:1234567812345678", "-signature", sigf, msgf}
			default:
				md := "-" + strings.ToLower(sigHash(tc.alg).String())
				md = strings.ReplaceAll(md, "-", "")
				args = []string{"dgst", "-" + md, "-verify", pub, "-signature", sigf}
				if isPSS(tc.alg) {
					args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
				}
				args = append(args, msgf)
			}
			out := run(t, "openssl", args...)
			if !bytes.Contains(out, []byte("Verified OK")) && !bytes.Contains(out, []byte("Signature Verified Successfully")) {
				t.Fatalf("openssl did not verify: %s", out)
			}
		})
	}
}

func TestOpenSSLEncryptsForDecrypt(t *testing.T) {
	needTool(t, "openssl")
	t.Parallel()
	for _, tc := range []struct{ spec, alg string }{
		{"RSA_2048", RSAESOAEPSHA256}, {"RSA_2048", RSAESOAEPSHA1}, {"RSA_4096", RSAESOAEPSHA256}, {"SM2", SM2PKE},
	} {
		t.Run(fmt.Sprintf("ok/%s/%s", tc.spec, tc.alg), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			k := testKey(t, tc.spec, UsageEncryptDecrypt)
			der, _ := k.PublicKeyDER()
			pub := writePEM(t, dir, "pub.pem", "PUBLIC KEY", der)
			pt := []byte("encrypted by OpenSSL")
			ptf := writeFile(t, dir, "pt", pt)
			ctf := filepath.Join(dir, "ct")
			args := []string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in", ptf, "-out", ctf}
			if tc.alg != SM2PKE {
				md := "sha256"
				if tc.alg == RSAESOAEPSHA1 {
					md = "sha1"
				}
				args = append(args, "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
			}
			run(t, "openssl", args...)
			ct, _ := os.ReadFile(ctf)
			got, err := k.Decrypt(tc.alg, ct)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Decrypt(OpenSSL ciphertext) = %q, %v", got, err)
			}
		})
	}
	t.Run("ok/SM2/openssl-decrypts", func(t *testing.T) {
		dir := t.TempDir()
		k := testKey(t, "SM2", UsageEncryptDecrypt)
		ct, err := k.Encrypt(rand.Reader, SM2PKE, []byte("decrypted by OpenSSL"))
		if err != nil {
			t.Fatal(err)
		}
		key := writePEM(t, dir, "key.pem", "PRIVATE KEY", material(t, "SM2"))
		out := run(t, "openssl", "pkeyutl", "-decrypt", "-inkey", key, "-in", writeFile(t, dir, "ct", ct))
		if string(out) != "decrypted by OpenSSL" {
			t.Fatalf("openssl decrypted %q", out)
		}
	})
}

func TestOpenSSLDerive(t *testing.T) {
	needTool(t, "openssl")
	t.Parallel()
	for _, tc := range []struct {
		spec  string
		curve ecdh.Curve
	}{{"ECC_NIST_P256", ecdh.P256()}, {"ECC_NIST_P384", ecdh.P384()}, {"ECC_NIST_P521", ecdh.P521()}} { // OpenSSL 3.0 cannot derive with SM2 keys
		t.Run("ok/"+tc.spec, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			k := testKey(t, tc.spec, UsageKeyAgreement)
			p, _ := tc.curve.GenerateKey(rand.Reader)
			peerPriv, _ := x509.MarshalPKCS8PrivateKey(p)
			peerPub, _ := x509.MarshalPKIXPublicKey(p.PublicKey())
			got, err := k.DeriveSharedSecret(peerPub)
			if err != nil {
				t.Fatal(err)
			}
			ourPub, _ := k.PublicKeyDER()
			out := run(t, "openssl", "pkeyutl", "-derive",
				"-inkey", writePEM(t, dir, "peer.pem", "PRIVATE KEY", peerPriv),
				"-peerkey", writePEM(t, dir, "our.pem", "PUBLIC KEY", ourPub))
			if !bytes.Equal(out, got) {
				t.Fatalf("openssl derived %x, Trent %x", out, got)
			}
		})
	}
}

func TestOpenSSLDataKeyPair(t *testing.T) {
	needTool(t, "openssl")
	t.Parallel()
	for _, spec := range DataKeyPairSpecs {
		if strings.HasPrefix(spec, "ML_KEM") {
			continue // OpenSSL 3.0 has no ML-KEM; see TestPythonMLKEM
		}
		t.Run("ok/"+spec, func(t *testing.T) {
			t.Parallel()
			var priv, pub []byte
			var err error
			if strings.HasPrefix(spec, "RSA") {
				priv = material(t, spec) // generation is slow; this is Generate's output too
				k, _ := ParseKey(spec, UsageSignVerify, priv)
				pub, _ = k.PublicKeyDER()
			} else if priv, pub, err = GenerateDataKeyPair(rand.Reader, spec); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			out := run(t, "openssl", "pkey", "-inform", "DER", "-in", writeFile(t, dir, "priv.der", priv), "-pubout", "-outform", "DER")
			if !bytes.Equal(out, pub) {
				t.Fatalf("openssl's public key for the PKCS#8 private key differs from ours")
			}
		})
	}
}

func TestOpenSSLHMAC(t *testing.T) {
	needTool(t, "openssl")
	t.Parallel()
	for _, spec := range []string{"HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"} {
		t.Run("ok/"+spec, func(t *testing.T) {
			t.Parallel()
			k := testKey(t, spec, UsageGenerateVerifyMAC)
			msg := []byte("HMAC checked by OpenSSL")
			alg := k.spec.Algorithms(UsageGenerateVerifyMAC).MAC[0]
			mac, err := k.MAC(alg, msg)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			md := "sha" + strings.TrimPrefix(spec, "HMAC_")
			out := run(t, "openssl", "dgst", "-"+md, "-mac", "HMAC", "-macopt", "hexkey:"+hex.EncodeToString(material(t, spec)), "-binary", writeFile(t, dir, "msg", msg))
			if !hmac.Equal(out, mac) {
				t.Fatal("openssl HMAC differs")
			}
		})
	}
}

const pyScript = `
import sys
from cryptography.hazmat.primitives import serialization as s
op, a, b, c = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None
rd = lambda p: open(p, 'rb').read()
if op == 'mldsa-verify':   # pub.der msg sig
    s.load_der_public_key(rd(a)).verify(rd(c), rd(b))
    print('ok')
elif op == 'mlkem-encap':  # pub.der ss-out ct-out
    ss, ct = s.load_der_public_key(rd(a)).encapsulate()
    open(b, 'wb').write(ss); open(c, 'wb').write(ct)
elif op == 'mlkem-decap':  # priv.der ct
    sys.stdout.write(s.load_der_private_key(rd(a), None).decapsulate(rd(b)).hex())
`

func needPyCrypto(t *testing.T) {
	needTool(t, "python3")
	if err := exec.Command("python3", "-c", "from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem").Run(); err != nil {
		t.Skip("python3 cryptography with ML-DSA/ML-KEM not available")
	}
}

func TestPythonMLDSA(t *testing.T) {
	needPyCrypto(t)
	t.Parallel()
	for _, spec := range []string{"ML_DSA_44", "ML_DSA_65", "ML_DSA_87"} {
		for _, mt := range []string{MessageRaw, MessageExternalMu} {
			t.Run(fmt.Sprintf("ok/%s/%s", spec, mt), func(t *testing.T) {
				dir := t.TempDir()
				k := testKey(t, spec, UsageSignVerify)
				msg := []byte("verified by OpenSSL 3.5+ through Python")
				sig, err := k.Sign(rand.Reader, MLDSASHAKE256, mt, signInput(t, k, MLDSASHAKE256, mt, msg))
				if err != nil {
					t.Fatal(err)
				}
				der, _ := k.PublicKeyDER()
				py := writeFile(t, dir, "x.py", []byte(pyScript))
				out := run(t, "python3", py, "mldsa-verify", writeFile(t, dir, "pub", der), writeFile(t, dir, "msg", msg), writeFile(t, dir, "sig", sig))
				if strings.TrimSpace(string(out)) != "ok" {
					t.Fatalf("python: %s", out)
				}
			})
		}
	}
}

func TestPythonMLKEM(t *testing.T) {
	needPyCrypto(t)
	t.Parallel()
	for _, spec := range []string{"ML_KEM_768", "ML_KEM_1024"} { // cryptography has no ML-KEM-512
		t.Run("ok/"+spec, func(t *testing.T) {
			dir := t.TempDir()
			py := writeFile(t, dir, "x.py", []byte(pyScript))
			priv, pub, err := GenerateDataKeyPair(rand.Reader, spec)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := ParseKey(spec, UsageEncapsulateDecapsulate, priv)
			// Python encapsulates to our SPKI; we decapsulate.
			ssf, ctf := filepath.Join(dir, "ss"), filepath.Join(dir, "ct")
			run(t, "python3", py, "mlkem-encap", writeFile(t, dir, "pub", pub), ssf, ctf)
			ss, _ := os.ReadFile(ssf)
			ct, _ := os.ReadFile(ctf)
			if got, err := k.Decapsulate(ct); err != nil || !bytes.Equal(got, ss) {
				t.Fatalf("Decapsulate(Python ciphertext) failed: %v", err)
			}
			// Python loads our seed-form PKCS#8 and decapsulates our ciphertext.
			ss2, ct2, _ := k.Encapsulate(rand.Reader)
			out := run(t, "python3", py, "mlkem-decap", writeFile(t, dir, "priv", priv), writeFile(t, dir, "ct2", ct2))
			if string(out) != hex.EncodeToString(ss2) {
				t.Fatal("Python decapsulated a different secret")
			}
		})
	}
}
