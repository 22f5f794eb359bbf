package console

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type css = chromedp.CSS

// signIn signs in with the keyboard only: focus the first field, type,
// Tab to the secret, type, Enter.
func signIn(t *testing.T, ctx context.Context, console, akid, secret string) {
	t.Helper()
	run(t, ctx, "sign in",
		chromedp.Navigate(console+"#/keys"),
		chromedp.WaitVisible(css("#signin")),
		chromedp.Focus(css("#signin input[name=accessKeyId]")),
		chromedp.KeyEvent(akid),
		chromedp.KeyEvent("\t"),
		chromedp.KeyEvent(secret),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(css("#key-filters")),
	)
}

func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, "sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin")))
}

// setSelect chooses value in the select sel and fires its change event.
func setSelect(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(() => { const s = document.querySelector(`+jsString(sel)+`); s.value = `+jsString(value)+
			`; s.dispatchEvent(new Event('change')); return s.value === `+jsString(value)+` })()`)(ctx, t)
		return err
	})
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// setValue sets the value of the field sel as typing would (an input
// event follows).
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.WaitReady(css(sel)), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		ok, err := chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+jsString(sel)+`); if (!e) return false; e.value = `+jsString(value)+
			`; e.dispatchEvent(new Event('input', {bubbles: true})); return true })()`)(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("no element %s", sel)
		}
		return err
	}))
}

// goTo opens a page of the console by its hash route and waits for sel.
func goTo(route, sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Evaluate[chromedp.Void]("location.hash = "+jsString(route)+"; undefined"), chromedp.WaitVisible(css(sel)))
}

// markStale marks the elements sel matches now, so that a later wait
// for sel+":not([data-stale])" is met only by a page drawn again.
func markStale(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void]("document.querySelectorAll(" + jsString(sel) + ").forEach((e) => e.setAttribute('data-stale', '')); undefined")
}

// TestConsole walks the flows in one browser against one server,
// in order; each step ends with a screenshot.
func TestConsole(t *testing.T) {
	s := startTrent(t)
	ctx := browser(t)
	var keyID, ciphertext, userAKID, userSecret string

	t.Run("sign-in", func(t *testing.T) {
		signIn(t, ctx, s.Console, adminAKID, adminSecret)
		who := get(t, ctx, "identity", textOf("#who"))
		if !strings.HasSuffix(who, ":root") && !strings.Contains(who, account) {
			t.Errorf("signed in as %q", who)
		}
		// The secret is nowhere but the tab's memory.
		stored := get(t, ctx, "storage", chromedp.Evaluate[string](`JSON.stringify({l: Object.keys(localStorage), s: Object.keys(sessionStorage), c: document.cookie, u: location.href})`))
		if strings.Contains(stored, adminSecret) || strings.Contains(stored, "trent-console") {
			t.Errorf("the session left a trace: %s", stored)
		}
		screenshot(t, ctx, "01-sign-in")
	})

	t.Run("create-key-and-alias", func(t *testing.T) {
		run(t, ctx, "create key",
			chromedp.Click(css("#create-key")),
			chromedp.WaitVisible(css("#create-key-form")),
			setValue("#create-key-form input[name=Description]", "console test key"),
			setValue("#create-key-form input[name=AliasName]", "alias/console-test"),
			chromedp.Click(css("#create-key-form button[type=submit]")),
			chromedp.WaitVisible(css("#alias-form")),
		)
		h1 := get(t, ctx, "key page", textOf("h1 .mono"))
		keyID = strings.TrimSpace(h1)
		body := get(t, ctx, "key page", textOf("main"))
		for _, want := range []string{"alias/console-test", "SYMMETRIC_DEFAULT", "Enabled", "console test key"} {
			if !strings.Contains(body, want) {
				t.Errorf("key page lacks %q", want)
			}
		}
		// The list shows it.
		run(t, ctx, "key list", goTo("#/keys", `tr[data-key-id="`+keyID+`"]`))
		screenshot(t, ctx, "02-create-key-and-alias")
	})

	t.Run("grants-tags-filters", func(t *testing.T) {
		run(t, ctx, "create grant",
			goTo("#/key/"+keyID, "#grant-form"),
			setValue("#grant-form input[name=GranteePrincipal]", "arn:aws:iam::"+account+":root"),
			setValue("#grant-form input[name=Name]", "console-grant"),
			chromedp.Click(css(`#grant-form input[value="Decrypt"]`)),
			setValue("#grant-form textarea[name=EncryptionContextSubset]", "purpose=console-test"),
			chromedp.Click(css("#grant-form button[type=submit]")),
			chromedp.WaitVisible(css("#grants tbody tr")))
		if g := get(t, ctx, "grants", textOf("#grants tbody")); !strings.Contains(g, "console-grant") || !strings.Contains(g, "Decrypt") || !strings.Contains(g, "console-test") {
			t.Errorf("grant row %q", g)
		}
		run(t, ctx, "add tag",
			setValue("#tag-form input[name=TagKey]", "Team"),
			setValue("#tag-form input[name=TagValue]", "console"),
			chromedp.Click(css("#tag-form button[type=submit]")),
			chromedp.WaitVisible(css("#tags tbody tr")))
		screenshot(t, ctx, "02b-grant-and-tag")
		run(t, ctx, "revoke grant",
			markStale("#grants"),
			chromedp.Click(css("#grants tbody tr button")),
			chromedp.WaitVisible(css("#grants:not([data-stale])")),
			chromedp.WaitNotPresent(css("#grants tbody tr")))
		// Filters: by alias, by tag, by state.
		filter := func(alias, tag, state string) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(goTo("#/scratch", "#encrypt-form"), goTo("#/keys", "#key-filters"),
				setValue("#key-filters input[name=alias]", alias),
				setValue("#key-filters input[name=tag]", tag),
				setSelect("#key-filters select[name=state]", state),
				chromedp.Click(css("#key-filters button[type=submit]")),
				chromedp.WaitVisible(css("main table caption")))
		}
		for _, f := range [][3]string{{"console-te", "", ""}, {"", "Team=console", ""}, {"", "Team", "Enabled"}} {
			run(t, ctx, "filter "+strings.Join(f[:], ","), filter(f[0], f[1], f[2]), chromedp.WaitVisible(css(`tr[data-key-id="`+keyID+`"]`)))
			if n := get(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll('main tbody tr').length`)); n != 1 {
				t.Errorf("filter %v: %d rows", f, n)
			}
		}
		run(t, ctx, "filter state", filter("", "", "Disabled"))
		if c := get(t, ctx, "caption", textOf("main table caption")); !strings.HasPrefix(c, "0 matching keys among 1 examined") || !strings.Contains(c, "no keys remain") {
			t.Errorf("state filter caption %q", c)
		}
		run(t, ctx, "no filter", filter("", "", ""), chromedp.WaitVisible(css(`tr[data-key-id="`+keyID+`"]`)))
		screenshot(t, ctx, "02c-filters")
	})

	t.Run("state-and-rotation", func(t *testing.T) {
		state := func(want string) chromedp.Action[chromedp.Void] {
			return chromedp.WaitVisible(css(`#key-state[data-state="` + want + `"]`))
		}
		button := func(label string) chromedp.Action[chromedp.Void] {
			return chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('main button')].find((b) => b.textContent === ` + jsString(label) + `)`))
		}
		run(t, ctx, "disable, enable",
			goTo("#/scratch", "#encrypt-form"), goTo("#/key/"+keyID, "#policy-text"), state("Enabled"),
			button("Disable key"), state("Disabled"), button("Enable key"), state("Enabled"))
		run(t, ctx, "rotation",
			setValue("main input[name=RotationPeriodInDays]", "180"),
			button("Enable automatic rotation"),
			chromedp.WaitVisible(chromedp.JSPath(`[...document.querySelectorAll('main button')].find((b) => b.textContent === 'Change rotation period')`)),
			button("Rotate now"))
		// On-demand rotation may finish after the call returns: the page
		// is drawn again until the new material is listed.
		for deadline := time.Now().Add(15 * time.Second); ; {
			run(t, ctx, "key page", goTo("#/scratch", "#encrypt-form"), goTo("#/key/"+keyID, "#rotations"))
			if n := get(t, ctx, "rotations", chromedp.Evaluate[int](`document.querySelectorAll('#rotations tbody tr').length`)); n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no material version listed after Rotate now")
			}
			time.Sleep(200 * time.Millisecond)
		}
		body := get(t, ctx, "key page", textOf("main"))
		if !strings.Contains(body, "Automatic rotation\nenabled") && !strings.Contains(body, "enabled") || !strings.Contains(body, "180") {
			t.Errorf("rotation not shown as enabled every 180 days:\n%.1500s", body)
		}
		run(t, ctx, "schedule and cancel deletion",
			chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`),
			setValue("main input[name=PendingWindowInDays]", "7"),
			button("Schedule key deletion"), state("PendingDeletion"),
			button("Cancel key deletion"), state("Disabled"),
			button("Enable key"), state("Enabled"))
		screenshot(t, ctx, "02d-state-and-rotation")
	})

	t.Run("scratchpad-encrypt-decrypt", func(t *testing.T) {
		run(t, ctx, "encrypt",
			goTo("#/scratch", "#encrypt-form"),
			setValue("#scratch-key", "alias/console-test"),
			setValue("#scratch-context", "purpose=console-test"),
			setValue("#scratch-plaintext", "hello from the console"),
			chromedp.Click(css("#encrypt-btn")),
			chromedp.WaitVisible(css("#scratch-out .note")),
		)
		ciphertext = get(t, ctx, "ciphertext", valueOf("#scratch-ciphertext"))
		if len(ciphertext) < 100 {
			t.Fatalf("ciphertext %q", ciphertext)
		}
		// The wrong context is refused with AWS's exception.
		run(t, ctx, "decrypt with another context",
			setValue("#scratch-plaintext", ""),
			setValue("#scratch-context", "purpose=other"),
			chromedp.Click(css("#decrypt-btn")),
			chromedp.WaitVisible(css("#scratch-out .error")),
		)
		if code := get(t, ctx, "error", textOf("#scratch-out .error .code")); code != "InvalidCiphertextException" {
			t.Errorf("decrypt with another context: %q, want InvalidCiphertextException", code)
		}
		run(t, ctx, "decrypt",
			setValue("#scratch-context", "purpose=console-test"),
			chromedp.Click(css("#decrypt-btn")),
			chromedp.WaitVisible(css("#scratch-out .note")),
		)
		if pt := get(t, ctx, "plaintext", valueOf("#scratch-plaintext")); pt != "hello from the console" {
			t.Errorf("decrypted %q", pt)
		}
		screenshot(t, ctx, "03-scratchpad-encrypt-decrypt")
	})

	t.Run("deny-in-key-policy", func(t *testing.T) {
		run(t, ctx, "key page", goTo("#/key/"+keyID, "#policy-text"))
		cur := get(t, ctx, "policy", valueOf("#policy-text"))
		var pol map[string]any
		if err := json.Unmarshal([]byte(cur), &pol); err != nil {
			t.Fatalf("policy %q: %v", cur, err)
		}
		pol["Statement"] = append(pol["Statement"].([]any), map[string]any{"Sid": "DenyEncrypt", "Effect": "Deny",
			"Principal": map[string]any{"AWS": "*"}, "Action": "kms:Encrypt", "Resource": "*"})
		next, _ := json.MarshalIndent(pol, "", "  ")
		// An invalid policy is caught before it is sent.
		run(t, ctx, "invalid policy",
			setValue("#policy-text", `{"Statement":[{"Effect":"Maybe"}]}`),
			chromedp.Click(css("#policy-review-btn")),
			chromedp.WaitVisible(css("#policy-review .error")),
		)
		run(t, ctx, "review",
			setValue("#policy-text", string(next)),
			chromedp.Click(css("#policy-review-btn")),
			chromedp.WaitVisible(css("#policy-review .diff .add")),
		)
		diff := get(t, ctx, "diff", textOf("#policy-review .diff"))
		if !strings.Contains(diff, "+ ") || !strings.Contains(diff, "DenyEncrypt") {
			t.Errorf("diff does not show the new statement:\n%s", diff)
		}
		screenshot(t, ctx, "04a-policy-diff")
		// Saving redraws the page from the server; the old editor still
		// shows the edited text, so wait for the new one.
		run(t, ctx, "save",
			markStale("#policy-text"),
			chromedp.Click(css("#policy-review button")),
			chromedp.WaitVisible(css("#policy-text:not([data-stale])")),
		)
		if p := get(t, ctx, "policy", valueOf("#policy-text")); !strings.Contains(p, "DenyEncrypt") {
			t.Fatalf("saved policy lacks the statement:\n%s", p)
		}
		run(t, ctx, "encrypt refused",
			goTo("#/scratch", "#encrypt-form"),
			setValue("#scratch-key", "alias/console-test"),
			setValue("#scratch-plaintext", "no"),
			chromedp.Click(css("#encrypt-btn")),
			chromedp.WaitVisible(css("#scratch-out .error")),
		)
		if code := get(t, ctx, "error", textOf("#scratch-out .error .code")); code != "AccessDeniedException" {
			t.Errorf("Encrypt after the Deny: %q, want AccessDeniedException", code)
		}
		msg := get(t, ctx, "error", textOf("#scratch-out .error .msg"))
		if !strings.Contains(msg, "kms:Encrypt") {
			t.Errorf("AccessDeniedException message %q does not name kms:Encrypt", msg)
		}
		screenshot(t, ctx, "04-deny-in-key-policy")
	})

	t.Run("user-sees-only-what-its-policy-allows", func(t *testing.T) {
		run(t, ctx, "create user",
			goTo("#/principals", "#create-user-form"),
			setValue("#create-user-form input[name=UserName]", "console-reader"),
			chromedp.Click(css("#create-user-form button[type=submit]")),
			chromedp.WaitVisible(css("#inline-policy-form")),
			setValue("#inline-policy-form input[name=PolicyName]", "read-keys"),
			setValue("#inline-policy-text", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:ListKeys","kms:DescribeKey","kms:ListAliases","sts:GetCallerIdentity"],"Resource":"*"}]}`),
			chromedp.Click(css("#inline-policy-form button[type=submit]")),
			chromedp.WaitVisible(css("#inline-policy-form + div .diff")),
			chromedp.Click(css("#inline-policy-form + div button")),
			chromedp.WaitVisible(css("h3")),
		)
		run(t, ctx, "create access key",
			chromedp.Click(css("#create-access-key")),
			chromedp.WaitVisible(css("#new-secret")),
		)
		userAKID = strings.TrimSpace(get(t, ctx, "akid", textOf("#new-akid")))
		userSecret = strings.TrimSpace(get(t, ctx, "secret", textOf("#new-secret")))
		if userAKID == "" || len(userSecret) < 20 {
			t.Fatalf("access key %q secret of %d characters", userAKID, len(userSecret))
		}
		screenshot(t, ctx, "05a-access-key-shown-once")
		// Shown once: the page drawn again has no secret.
		run(t, ctx, "reload user", goTo("#/principals", "#create-user-form"), goTo("#/user/console-reader", "#inline-policy-form"))
		if body := get(t, ctx, "user page", textOf("main")); strings.Contains(body, userSecret) || !strings.Contains(body, userAKID) {
			t.Errorf("user page after reload: secret shown %v, key listed %v", strings.Contains(body, userSecret), strings.Contains(body, userAKID))
		}
		signOut(t, ctx)
		signIn(t, ctx, s.Console, userAKID, userSecret)
		run(t, ctx, "keys listed", chromedp.WaitVisible(css(`tr[data-key-id="`+keyID+`"]`)))
		if who := get(t, ctx, "identity", textOf("#who")); !strings.HasSuffix(who, ":user/console-reader") {
			t.Errorf("signed in as %q", who)
		}
		run(t, ctx, "principals refused", goTo("#/principals", "main .error"))
		if code := get(t, ctx, "error", textOf("main .error .code")); code != "AccessDenied" {
			t.Errorf("ListUsers as the reader: %q, want AccessDenied", code)
		}
		screenshot(t, ctx, "05b-reader-denied-principals")
		run(t, ctx, "encrypt refused",
			goTo("#/scratch", "#encrypt-form"),
			setValue("#scratch-key", "alias/console-test"),
			setValue("#scratch-plaintext", "x"),
			chromedp.Click(css("#encrypt-btn")),
			chromedp.WaitVisible(css("#scratch-out .error")),
		)
		if code := get(t, ctx, "error", textOf("#scratch-out .error .code")); code != "AccessDeniedException" {
			t.Errorf("Encrypt as the reader: %q, want AccessDeniedException", code)
		}
		run(t, ctx, "audit refused", goTo("#/audit", "#digest-state .error"))
		screenshot(t, ctx, "05-user-sees-only-what-its-policy-allows")
		signOut(t, ctx)
		signIn(t, ctx, s.Console, adminAKID, adminSecret)
	})

	t.Run("assume-role", func(t *testing.T) {
		run(t, ctx, "create role",
			goTo("#/principals", "#create-role-form"),
			setValue("#create-role-form input[name=RoleName]", "console-operator"),
			chromedp.Click(css("#create-role-form button[type=submit]")),
			chromedp.WaitVisible(css("#inline-policy-form")),
			setValue("#inline-policy-form input[name=PolicyName]", "list-keys"),
			setValue("#inline-policy-text", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:ListKeys","kms:DescribeKey","kms:ListAliases"],"Resource":"*"}]}`),
			chromedp.Click(css("#inline-policy-form button[type=submit]")),
			chromedp.WaitVisible(css("#inline-policy-form + div .diff")),
			chromedp.Click(css("#inline-policy-form + div button")),
			chromedp.WaitVisible(css("h3")),
		)
		signOut(t, ctx)
		run(t, ctx, "sign in with the role",
			setValue("#signin input[name=accessKeyId]", adminAKID),
			setValue("#signin input[name=secretAccessKey]", adminSecret),
			setValue("#signin input[name=roleArn]", "arn:aws:iam::"+account+":role/console-operator"),
			chromedp.Click(css("#signin button[type=submit]")),
			chromedp.WaitVisible(css("#nav:not([hidden])")),
			goTo("#/keys", `tr[data-key-id="`+keyID+`"]`))
		if who := get(t, ctx, "identity", textOf("#who")); !strings.Contains(who, ":assumed-role/console-operator/") {
			t.Errorf("signed in as %q", who)
		}
		run(t, ctx, "role cannot list users", goTo("#/principals", "main .error"))
		screenshot(t, ctx, "05c-assumed-role")
		signOut(t, ctx)
		signIn(t, ctx, s.Console, adminAKID, adminSecret)
	})

	t.Run("audit-search", func(t *testing.T) {
		run(t, ctx, "search",
			goTo("#/audit", "#audit-form"),
			setSelect("#audit-form select[name=attribute]", "EventName"),
			setValue("#audit-form input[name=value]", "Encrypt"),
			chromedp.Click(css("#audit-form button[type=submit]")),
			chromedp.WaitVisible(css("#audit-results tbody tr a")),
		)
		rows := get(t, ctx, "results", textOf("#audit-results tbody"))
		if !strings.Contains(rows, "AccessDeniedException") {
			t.Errorf("the refused Encrypt is not among the results:\n%s", rows)
		}
		screenshot(t, ctx, "06a-audit-search")
		// The successful Encrypt: the last row (oldest first is last).
		run(t, ctx, "open record",
			chromedp.Click(css("#audit-results tbody tr:last-child a")),
			chromedp.WaitVisible(css("#event-record")),
		)
		rec := get(t, ctx, "record", textOf("#event-record"))
		var ev map[string]any
		if err := json.Unmarshal([]byte(rec), &ev); err != nil {
			t.Fatalf("record is not JSON: %v\n%s", err, rec)
		}
		if ev["eventName"] != "Encrypt" || !strings.Contains(rec, keyID) || !strings.Contains(rec, "console-test") {
			t.Errorf("record is not the Encrypt of %s with its context:\n%s", keyID, rec)
		}
		if _, failed := ev["errorCode"]; failed {
			t.Errorf("the first Encrypt failed:\n%s", rec)
		}
		screenshot(t, ctx, "06b-audit-record")
		// The digests' verification state.
		run(t, ctx, "digest state", goTo("#/audit", "#digest-state dl"))
		deadline := time.Now().Add(20 * time.Second)
		for {
			st := get(t, ctx, "digest state", textOf("#digest-state"))
			if strings.Contains(st, "Verified") {
				break
			}
			if strings.Contains(st, "Failed") || time.Now().After(deadline) {
				t.Fatalf("digest state:\n%s", st)
			}
			run(t, ctx, "check again", chromedp.Click(css("#digest-state button")), chromedp.Sleep(300*time.Millisecond))
		}
		screenshot(t, ctx, "06-audit-search")
	})

	t.Run("rsa-sign-verify", func(t *testing.T) {
		run(t, ctx, "create RSA key",
			goTo("#/keys/new", "#create-key-form"),
			setSelect("#create-key-form select[name=KeySpec]", "RSA_2048"),
			setSelect("#create-key-form select[name=KeyUsage]", "SIGN_VERIFY"),
			setValue("#create-key-form input[name=AliasName]", "alias/console-signer"),
			chromedp.Click(css("#create-key-form button[type=submit]")),
			chromedp.WaitVisible(css("#alias-form")),
		)
		if body := get(t, ctx, "key page", textOf("main")); !strings.Contains(body, "RSA_2048") || !strings.Contains(body, "SIGN_VERIFY") {
			t.Fatalf("not an RSA signing key:\n%s", body)
		}
		run(t, ctx, "sign",
			goTo("#/scratch", "#sign-form"),
			setValue("#sign-key", "alias/console-signer"),
			chromedp.Evaluate[chromedp.Void](`document.querySelector('#sign-key').dispatchEvent(new Event('change')); undefined`),
			chromedp.WaitReady(css(`#sign-alg option[value="RSASSA_PSS_SHA_256"]`)),
			setSelect("#sign-alg", "RSASSA_PSS_SHA_256"),
			setValue("#sign-message", "signed in the console"),
			chromedp.Click(css("#sign-btn")),
			chromedp.WaitVisible(css("#sign-out .note")),
		)
		if sig := get(t, ctx, "signature", valueOf("#sign-signature")); len(sig) < 300 {
			t.Fatalf("signature %q", sig)
		}
		run(t, ctx, "verify",
			chromedp.Click(css("#verify-btn")),
			chromedp.WaitVisible(css("#verify-result")),
		)
		// A changed message does not verify.
		run(t, ctx, "verify another message",
			setValue("#sign-message", "signed in the console!"),
			chromedp.Click(css("#verify-btn")),
			chromedp.WaitVisible(css("#sign-out .error")),
		)
		if code := get(t, ctx, "error", textOf("#sign-out .error .code")); code != "KMSInvalidSignatureException" {
			t.Errorf("Verify of another message: %q, want KMSInvalidSignatureException", code)
		}
		run(t, ctx, "verify again",
			setValue("#sign-message", "signed in the console"),
			chromedp.Click(css("#verify-btn")),
			chromedp.WaitVisible(css("#verify-result")),
		)
		screenshot(t, ctx, "07-rsa-sign-verify")
	})
}
