package console

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestRedEKeptSessionIdle: a session kept for the tab (sessionStorage) is
// restored by a reload, and by a new load of the console in the same tab
// (the tab was navigated elsewhere, discarded by the browser, or the
// machine slept: the idle timer did not run meanwhile). The idle limit is
// measured on the wall clock from the last activity: a session idle for
// longer than the limit is not restored, whatever the timer did.
func TestRedEKeptSessionIdle(t *testing.T) {
	s := startTrent(t)
	ctx := browser(t)
	run(t, ctx, "sign in, kept for the tab, 6 s idle",
		chromedp.Navigate(s.Console+"#/keys"),
		chromedp.WaitVisible(css("#signin")),
		setValue("#signin input[name=accessKeyId]", adminAKID),
		setValue("#signin input[name=secretAccessKey]", adminSecret),
		setValue("#signin input[name=idle]", "0.1"),
		chromedp.Click(css("#signin input[name=keep]")),
		chromedp.Click(css("#signin button[type=submit]")),
		chromedp.WaitVisible(css("#key-filters")))
	// The tab leaves the console (its timer stops with the page) for
	// longer than the idle limit, then loads it again.
	run(t, ctx, "leave", chromedp.Navigate("about:blank"))
	time.Sleep(9 * time.Second)
	run(t, ctx, "come back", chromedp.Navigate(s.Console+"#/keys"), chromedp.WaitVisible(css("#signin, #key-filters")))
	state := get(t, ctx, "state", chromedp.Evaluate[string](`JSON.stringify({signin: !!document.querySelector('#signin'), s: {...sessionStorage}})`))
	screenshot(t, ctx, "redE-kept-session-idle")
	if !strings.Contains(state, `"signin":true`) {
		t.Errorf("a session idle for 9 s with a 6 s limit was restored: %s", strings.ReplaceAll(state, adminSecret, "SECRET"))
	}
	if strings.Contains(state, adminSecret) {
		t.Error("the idle session's secret is still in sessionStorage")
	}
}
