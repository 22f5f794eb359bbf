package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed web
var webFS embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// CSP is the Content-Security-Policy of every console response: this
// origin only, no inline script or style, no eval, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one embedded asset, with its gzip form computed once.
type file struct {
	body, gz    []byte
	contentType string
	etag        string
}

// Handler serves the console's files. It is safe for concurrent use.
type Handler struct {
	files map[string]*file
}

// New returns a Handler over the embedded files.
func New() *Handler {
	h := &Handler{files: map[string]*file{}}
	err := fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := webFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "web/")
		ct := mime.TypeByExtension(path.Ext(name))
		switch path.Ext(name) { // not left to the system's MIME tables
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		sum := sha256.Sum256(body)
		h.files[name] = &file{body: body, gz: gzipped(body), contentType: ct,
			etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: embedded files: " + err.Error()) // cannot happen: embed.FS
	}
	return h
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// Claims reports whether r is a request for the console rather than for
// an API: a GET or HEAD under /console (or /console itself) with no query
// string, no Authorization header and no X-Amz-Target. Every API request
// is a POST, or a GET whose query string names its action (the IAM and
// STS query APIs), or carries a signature; none of them is claimed.
func Claims(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.URL.Path != "/console" && !strings.HasPrefix(r.URL.Path, Prefix) {
		return false
	}
	return r.URL.RawQuery == "" && r.Header.Get("Authorization") == "" && r.Header.Get("X-Amz-Target") == ""
}

// SetHeaders sets the security headers every console response carries.
func SetHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP serves a console file. Requests Claims does not claim are
// answered 404 (a handler mounted on its own listener sees them).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	SetHeaders(hd)
	if !Claims(r) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.URL.Path == "/console" {
		hd.Set("Location", Prefix)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	f := h.files[name]
	if f == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	// Revalidated on every load (cheap: 304), so a new binary's console
	// is never mixed with an old one's modules.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// acceptsGzip reports whether an Accept-Encoding value accepts gzip (named,
// or by "*", with a q-value above zero).
func acceptsGzip(ae string) bool {
	for _, p := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(p, ";")
		name = strings.TrimSpace(name)
		if name != "gzip" && name != "*" {
			continue
		}
		q := 1.0
		for _, kv := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == "q" {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}

// Files returns the names of the embedded files (for tests).
func (h *Handler) Files() []string {
	names := make([]string, 0, len(h.files))
	for n := range h.files {
		names = append(names, n)
	}
	return names
}
