package console

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Every key spec and usage the console offers is created through its form
// (ML-KEM and SM2 where the server serves them), and EXTERNAL keys get
// their material imported from the browser: a symmetric key with 32 bytes
// made in the browser (RSAES_OAEP_SHA_256), an ECC key with a PKCS#8 file
// (RSA_AES_KEY_WRAP_SHA_256, the AES key wrap with padding written over
// Web Crypto). An imported key then works in the scratchpad.
func TestCreateEverySpecAndImport(t *testing.T) {
	s := startTrent(t, "--enable-sm2")
	ctx := browser(t)
	signIn(t, ctx, s.Console, adminAKID, adminSecret)
	specs := get(t, ctx, "specs", chromedp.Evaluate[[]string](`(async () => { location.hash = '#/keys/new'; await new Promise((r) => setTimeout(r, 300));
		return [...document.querySelectorAll('#create-key-form select[name=KeySpec] option')].map((o) => o.value) })()`, chromedp.EvalAwaitPromise))
	if len(specs) < 20 {
		t.Fatalf("specs offered: %v", specs)
	}
	created := 0
	for _, spec := range specs {
		run(t, ctx, "form", goTo("#/scratch", "#encrypt-form"), goTo("#/keys/new", "#create-key-form"),
			setSelect("#create-key-form select[name=KeySpec]", spec))
		usages := get(t, ctx, "usages", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#create-key-form select[name=KeyUsage] option')].map((o) => o.value)`))
		for _, usage := range usages {
			run(t, ctx, spec+" "+usage, goTo("#/scratch", "#encrypt-form"), goTo("#/keys/new", "#create-key-form"),
				setSelect("#create-key-form select[name=KeySpec]", spec),
				setSelect("#create-key-form select[name=KeyUsage]", usage),
				chromedp.Click(css("#create-key-form button[type=submit]")),
				chromedp.WaitVisible(css("#alias-form, #create-key-out .error")))
			body := get(t, ctx, "page", textOf("main"))
			if strings.Contains(body, "Exception") {
				t.Errorf("%s %s:\n%.600s", spec, usage, body)
				continue
			}
			if !strings.Contains(body, spec) || !strings.Contains(body, usage) {
				t.Errorf("%s %s: key page lacks them:\n%.300s", spec, usage, body)
			}
			created++
		}
	}
	t.Logf("created %d keys of %d specs", created, len(specs))
	screenshot(t, ctx, "specs-last-key")

	// EXTERNAL, symmetric: material made in the browser.
	run(t, ctx, "external symmetric",
		goTo("#/scratch", "#encrypt-form"), goTo("#/keys/new", "#create-key-form"),
		setSelect("#create-key-form select[name=Origin]", "EXTERNAL"),
		setValue("#create-key-form input[name=AliasName]", "alias/imported"),
		chromedp.Click(css("#create-key-form button[type=submit]")),
		chromedp.WaitVisible(css("#import-form")))
	if body := get(t, ctx, "page", textOf("main")); !strings.Contains(body, "PendingImport") {
		t.Fatalf("EXTERNAL key not pending import:\n%.400s", body)
	}
	run(t, ctx, "import",
		chromedp.Click(css("#import-form input[name=generate]")),
		chromedp.Click(css("#import-form button[type=submit]")),
		chromedp.WaitVisible(css("#key-state[data-state=Enabled], #key-out .error")))
	if body := get(t, ctx, "page", textOf("main")); !strings.Contains(body, "Enabled") {
		t.Fatalf("imported key not enabled:\n%.600s", body)
	}
	run(t, ctx, "use it",
		goTo("#/scratch", "#encrypt-form"),
		setValue("#scratch-key", "alias/imported"),
		setValue("#scratch-plaintext", "imported material"),
		chromedp.Click(css("#encrypt-btn")),
		chromedp.WaitVisible(css("#scratch-out .note")),
		setValue("#scratch-plaintext", ""),
		chromedp.Click(css("#decrypt-btn")),
		chromedp.WaitVisible(css("#scratch-out a")))
	if pt := get(t, ctx, "plaintext", valueOf("#scratch-plaintext")); pt != "imported material" {
		t.Errorf("round trip with imported material: %q", pt)
	}
	screenshot(t, ctx, "import-symmetric")

	// EXTERNAL, ECC: a PKCS#8 file wrapped with RSA_AES_KEY_WRAP_SHA_256.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "p256.der")
	if err := os.WriteFile(file, der, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "external ecc",
		goTo("#/scratch", "#encrypt-form"), goTo("#/keys/new", "#create-key-form"),
		setSelect("#create-key-form select[name=KeySpec]", "ECC_NIST_P256"),
		setSelect("#create-key-form select[name=KeyUsage]", "SIGN_VERIFY"),
		setSelect("#create-key-form select[name=Origin]", "EXTERNAL"),
		setValue("#create-key-form input[name=AliasName]", "alias/imported-ecc"),
		chromedp.Click(css("#create-key-form button[type=submit]")),
		chromedp.WaitVisible(css("#import-form")),
		setSelect("#import-form select[name=WrappingAlgorithm]", "RSA_AES_KEY_WRAP_SHA_256"),
		chromedp.SetUploadFiles(css("#import-form input[type=file]"), []string{file}),
		chromedp.Click(css("#import-form button[type=submit]")),
		chromedp.WaitVisible(css("#key-state[data-state=Enabled], #key-out .error")),
	)
	body := get(t, ctx, "page", textOf("main"))
	if !strings.Contains(body, "Enabled") || strings.Contains(body, "Exception") {
		t.Fatalf("ECC import:\n%.800s", body)
	}
	run(t, ctx, "sign with it",
		goTo("#/scratch", "#sign-form"),
		setValue("#sign-key", "alias/imported-ecc"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#sign-key').dispatchEvent(new Event('change')); undefined`),
		chromedp.WaitReady(css(`#sign-alg option[value="ECDSA_SHA_256"]`)),
		setValue("#sign-message", "made elsewhere"),
		chromedp.Click(css("#sign-btn")),
		chromedp.WaitVisible(css("#sign-out .note")),
		chromedp.Click(css("#verify-btn")),
		chromedp.WaitVisible(css("#verify-result")))
	// The signature is the imported key's: it verifies with the key made here.
	sig := get(t, ctx, "signature", valueOf("#sign-signature"))
	if !verifyP256(&priv.PublicKey, "made elsewhere", sig) {
		t.Error("the signature does not verify with the imported key's public key")
	}
	screenshot(t, ctx, "import-ecc")
}
