package console

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// maxFirstLoad is the budget for the console's first load,
// compressed, as the browser received it.
const maxFirstLoad = 300 << 10

// netLog records every request the tab makes and what came back.
type netLog struct {
	mu        sync.Mutex
	urls      []string
	byID      map[network.RequestID]string
	blocked   map[string]string // URL -> blocked reason
	docs      []network.Headers // response headers of documents
	cookies   []string          // Set-Cookie seen anywhere
	encoded   float64           // bytes received, compressed, since reset
	responses int
}

func (l *netLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		l.urls = append(l.urls, e.Request.URL)
		l.byID[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		l.responses++
		if e.Type == network.ResourceTypeDocument {
			l.docs = append(l.docs, e.Response.Headers)
		}
		for k, v := range e.Response.Headers {
			if strings.EqualFold(k, "Set-Cookie") {
				l.cookies = append(l.cookies, e.Response.URL+": "+stringOf(v))
			}
		}
	case *network.EventLoadingFinished:
		l.encoded += e.EncodedDataLength
	case *network.EventLoadingFailed:
		if e.BlockedReason != "" {
			l.blocked[l.byID[e.RequestID]] = string(e.BlockedReason)
		}
	}
}

func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// TestNoRequestLeavesTheOrigin exercises every page of the console while
// recording every request Chromium makes for the tab (DevTools network
// events): all go to the console's own origin. The document carries the
// CSP and framing headers, no response sets a cookie, the browser
// enforces the CSP (a fetch to another origin is blocked), and the first
// load, compressed as received, is under maxFirstLoad.
func TestNoRequestLeavesTheOrigin(t *testing.T) {
	s := startTrent(t)
	ctx := browser(t)
	l := &netLog{byID: map[network.RequestID]string{}, blocked: map[string]string{}}
	if err := chromedp.Listen(ctx, l.listen); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.Console)
	origin := u.Scheme + "://" + u.Host

	// The first load: the sign-in page and everything it pulls in.
	run(t, ctx, "first load", chromedp.Navigate(s.Console), chromedp.WaitVisible(css("#signin")), chromedp.Sleep(300*time.Millisecond))
	l.mu.Lock()
	first, nFirst := l.encoded, l.responses
	l.mu.Unlock()
	t.Logf("first load: %d responses, %.0f bytes as received (compressed)", nFirst, first)
	if first > maxFirstLoad || first < 1000 {
		t.Errorf("first load %.0f bytes, want (1000, %d]", first, maxFirstLoad)
	}
	screenshot(t, ctx, "isolation-01-first-load")
	if bad := get(t, ctx, "labels", chromedp.Evaluate[[]string](unlabeled)); len(bad) > 0 {
		t.Errorf("sign-in: controls without a label: %v", bad)
	}

	signIn(t, ctx, s.Console, adminAKID, adminSecret)
	run(t, ctx, "create key",
		goTo("#/keys/new", "#create-key-form"),
		setValue("#create-key-form input[name=AliasName]", "alias/isolation"),
		chromedp.Click(css("#create-key-form button[type=submit]")),
		chromedp.WaitVisible(css("#alias-form")))
	keyID := strings.TrimSpace(get(t, ctx, "key ID", textOf("h1 .mono")))
	run(t, ctx, "pages",
		goTo("#/keys", `tr[data-key-id="`+keyID+`"]`),
		goTo("#/scratch", "#encrypt-form"),
		setValue("#scratch-key", "alias/isolation"),
		setValue("#scratch-plaintext", "isolated"),
		chromedp.Click(css("#encrypt-btn")),
		chromedp.WaitVisible(css("#scratch-out .note")),
		goTo("#/principals", "#create-user-form"),
		setValue("#create-user-form input[name=UserName]", "isolation-user"),
		chromedp.Click(css("#create-user-form button[type=submit]")),
		chromedp.WaitVisible(css("#inline-policy-form")),
		goTo("#/principals", "#create-role-form"),
		setValue("#create-role-form input[name=RoleName]", "isolation-role"),
		chromedp.Click(css("#create-role-form button[type=submit]")),
		chromedp.WaitVisible(css("#inline-policy-form")),
		goTo("#/audit", "#audit-form"),
		chromedp.Click(css("#audit-form button[type=submit]")),
		chromedp.WaitVisible(css("#audit-results tbody tr a")),
		chromedp.Click(css("#audit-results tbody tr a")),
		chromedp.WaitVisible(css("#event-record")),
		goTo("#/key/"+keyID, "#policy-text"),
	)
	// Every page again, with the check that every control has a label a
	// screen reader reads and every button a name.
	for _, p := range [][2]string{{"#/keys", "#key-filters"}, {"#/keys/new", "#create-key-form"}, {"#/key/" + keyID, "#policy-text"},
		{"#/principals", "#create-role-form"}, {"#/user/isolation-user", "#inline-policy-form"}, {"#/role/isolation-role", "#inline-policy-form"},
		{"#/audit", "#digest-state"}, {"#/scratch", "#sign-form"}} {
		run(t, ctx, p[0], goTo("#/scratch", "#encrypt-form"), goTo(p[0], p[1]))
		if bad := get(t, ctx, "labels", chromedp.Evaluate[[]string](unlabeled)); len(bad) > 0 {
			t.Errorf("%s: controls without a label: %v", p[0], bad)
		}
	}
	screenshot(t, ctx, "isolation-02-pages")

	// The browser enforces the CSP: a fetch to another origin never
	// leaves (this one request is the test's own).
	const elsewhere = "http://127.0.0.2:9/exfiltrate"
	res := get(t, ctx, "fetch elsewhere", chromedp.Evaluate[string](`new Promise((resolve) => {
		document.addEventListener('securitypolicyviolation', (e) => resolve('violation ' + e.effectiveDirective), {once: true});
		fetch('`+elsewhere+`').then(() => resolve('sent'), () => setTimeout(() => resolve('failed without violation'), 500));
	})`, chromedp.EvalAwaitPromise))
	if res != "violation connect-src" {
		t.Errorf("fetch to another origin: %s, want a connect-src violation", res)
	}
	if c := get(t, ctx, "cookies", chromedp.Evaluate[string]("document.cookie")); c != "" {
		t.Errorf("document.cookie = %q", c)
	}
	time.Sleep(200 * time.Millisecond)

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.urls {
		if r == elsewhere {
			if l.blocked[r] != string(network.BlockedReasonCsp) {
				t.Errorf("the fetch to %s was not blocked by the CSP (blocked reason %q)", r, l.blocked[r])
			}
			continue
		}
		if !strings.HasPrefix(r, origin+"/") && !strings.HasPrefix(r, "data:") {
			t.Errorf("request to another origin: %s", r)
		}
	}
	if len(l.urls) < 20 {
		t.Errorf("only %d requests seen: is the recording working?", len(l.urls))
	}
	t.Logf("%d requests, all to %s", len(l.urls), origin)
	if len(l.docs) == 0 {
		t.Fatal("no document response seen")
	}
	for _, d := range l.docs {
		h := map[string]string{}
		for k, v := range d {
			h[strings.ToLower(k)] = stringOf(v)
		}
		csp := h["content-security-policy"]
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
		}
		if h["x-frame-options"] != "DENY" || h["x-content-type-options"] != "nosniff" || h["referrer-policy"] != "no-referrer" {
			t.Errorf("document headers %v", h)
		}
	}
	if len(l.cookies) > 0 {
		t.Errorf("responses set cookies: %v", l.cookies)
	}
}

// unlabeled lists the controls of the page that have no accessible name
// (no <label>, no aria-label) and the buttons with no text.
const unlabeled = `[...document.querySelectorAll('input, select, textarea, button')].filter((e) =>
	e.tagName === 'BUTTON' ? !e.textContent.trim() : !((e.labels && e.labels.length) || e.getAttribute('aria-label'))
).map((e) => e.outerHTML.slice(0, 80))`
