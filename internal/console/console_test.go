package console

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The first load is index.html and every file it pulls in: the whole
// console (every module is imported at start). Its gzip form, as served,
// must stay under the budget of 300 KB.
func TestFirstLoadSize(t *testing.T) {
	h := New()
	total, raw := 0, 0
	for _, n := range h.Files() {
		total += len(h.files[n].gz)
		raw += len(h.files[n].body)
	}
	t.Logf("console: %d files, %d bytes, %d gzipped", len(h.files), raw, total)
	if total > 300<<10 {
		t.Errorf("console is %d bytes gzipped, over 300 KB", total)
	}
	if len(h.files) < 5 {
		t.Errorf("only %d embedded files", len(h.files))
	}
}

func TestClaims(t *testing.T) {
	for _, tc := range []struct {
		name, method, target string
		hdr                  map[string]string
		want                 bool
	}{
		{"ok/index", "GET", "/console/", nil, true},
		{"ok/asset", "GET", "/console/app.js", nil, true},
		{"ok/redirect", "GET", "/console", nil, true},
		{"ok/head", "HEAD", "/console/style.css", nil, true},
		{"fail/post", "POST", "/console/", nil, false},
		{"fail/root", "GET", "/", nil, false},
		{"fail/prefix-lookalike", "GET", "/consoleX", nil, false},
		{"fail/iam-get-query", "GET", "/console/?Action=ListUsers&Version=2010-05-08", nil, false},
		{"fail/signed", "GET", "/console/", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, false},
		{"fail/target", "GET", "/console/", map[string]string{"X-Amz-Target": "TrentService.ListKeys"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			if got := Claims(r); got != tc.want {
				t.Errorf("Claims = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestServe(t *testing.T) {
	h := New()
	get := func(path string, hdr ...string) *http.Response {
		r := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	for _, path := range []string{"/console/", "/console/app.js", "/console/nope.js", "/console"} {
		res := get(path)
		if csp := res.Header.Get("Content-Security-Policy"); csp != CSP {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, res.Header)
		}
		if len(res.Cookies()) != 0 {
			t.Errorf("%s: sets cookies", path)
		}
	}
	if res := get("/console/nope.js"); res.StatusCode != 404 {
		t.Errorf("unknown file: %d", res.StatusCode)
	}
	if res := get("/console"); res.StatusCode != 301 || res.Header.Get("Location") != Prefix {
		t.Errorf("/console: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res := get("/console/")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `<script type="module" src="app.js">`) {
		t.Errorf("index: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res = get("/console/app.js", "Accept-Encoding", "gzip, br")
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("app.js gzip: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != string(h.files["app.js"].body) {
		t.Error("gzipped app.js differs from app.js")
	}
	if res := get("/console/app.js", "If-None-Match", res.Header.Get("ETag")); res.StatusCode != 304 {
		t.Errorf("revalidation: %d", res.StatusCode)
	}
}

// No file of the console may load anything from another origin, run
// inline script or build markup from strings: the CSP forbids the first
// two, and the last is how text from the API would become markup.
func TestSourcesStayOnTheOrigin(t *testing.T) {
	h := New()
	for name, f := range h.files {
		src := string(f.body)
		for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage.setItem", "document.cookie"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
		if strings.HasSuffix(name, ".html") && (strings.Contains(src, "<script>") || strings.Contains(src, "style=") || strings.Contains(src, "onclick")) {
			t.Errorf("%s has inline script or style", name)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for ae, want := range map[string]bool{
		"": false, "gzip": true, "gzip, deflate, br, zstd": true, "br;q=1, gzip;q=0.5": true,
		"gzip;q=0": false, "gzip; q=0.0": false, "*": true, "identity": false, "deflate, *;q=0": false,
	} {
		if got := acceptsGzip(ae); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	}
}
