package console

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The secret stays in the tab: in memory by default (a reload signs out),
// in sessionStorage only when the user asks (a reload keeps the session;
// signing out clears it), never in localStorage, a cookie or the URL; an
// idle tab signs out and forgets it.
func TestSession(t *testing.T) {
	s := startTrent(t)
	ctx := browser(t)
	traces := func() string {
		return get(t, ctx, "storage", chromedp.Evaluate[string](`JSON.stringify({l: {...localStorage}, s: {...sessionStorage}, c: document.cookie, u: location.href})`))
	}

	// Memory only: a reload signs out.
	signIn(t, ctx, s.Console, adminAKID, adminSecret)
	if tr := traces(); strings.Contains(tr, adminSecret) {
		t.Errorf("secret stored: %s", tr)
	}
	run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(css("#signin")))

	// Stay signed in for the tab: sessionStorage, and nowhere else.
	run(t, ctx, "sign in, kept for the tab",
		setValue("#signin input[name=accessKeyId]", adminAKID),
		setValue("#signin input[name=secretAccessKey]", adminSecret),
		chromedp.Click(css("#signin input[name=keep]")),
		chromedp.Click(css("#signin button[type=submit]")),
		chromedp.WaitVisible(css("#key-filters")))
	tr := traces()
	if !strings.Contains(tr, `"s":{"trent-console-session"`) || strings.Contains(tr, `"l":{"`) || strings.Contains(strings.SplitN(tr, `"c":`, 2)[1], adminSecret) {
		t.Errorf("kept session: %s", strings.ReplaceAll(tr, adminSecret, "SECRET"))
	}
	run(t, ctx, "reload keeps it", chromedp.Reload(), chromedp.WaitVisible(css("#key-filters")))
	run(t, ctx, "sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin")))
	if tr := traces(); strings.Contains(tr, adminSecret) || strings.Contains(tr, "trent-console-session") {
		t.Errorf("after sign-out: %s", strings.ReplaceAll(tr, adminSecret, "SECRET"))
	}

	// Idle sign-out: 0.1 minutes without a key or pointer.
	run(t, ctx, "sign in, 6 s idle",
		setValue("#signin input[name=accessKeyId]", adminAKID),
		setValue("#signin input[name=secretAccessKey]", adminSecret),
		setValue("#signin input[name=idle]", "0.1"),
		chromedp.Click(css("#signin button[type=submit]")),
		chromedp.WaitVisible(css("#key-filters")))
	start := time.Now()
	run(t, ctx, "idle", chromedp.WaitVisible(css("main .note")))
	if d := time.Since(start); d < 4*time.Second {
		t.Errorf("signed out after %v, want about 6s", d)
	}
	if note := get(t, ctx, "note", textOf("main .note")); !strings.Contains(note, "without activity") {
		t.Errorf("sign-out note %q", note)
	}
	screenshot(t, ctx, "session-idle-sign-out")
	if tr := traces(); strings.Contains(tr, adminSecret) {
		t.Errorf("after idle sign-out: %s", tr)
	}
}
