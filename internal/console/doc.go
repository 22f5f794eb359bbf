// Package console serves Trent's web console: static files, embedded in
// the binary, that run in the operator's browser and call Trent's APIs
// (KMS, IAM, STS and CloudTrail LookupEvents) exactly as the CLI does.
//
// # No privilege of its own
//
// The console is a client, not a server-side application: this package
// serves bytes and nothing else. It holds no session, sets no cookie,
// reads no request body and calls nothing of Trent's. The user signs in
// with an access key (or assumes a role with it); the browser signs every
// request with SigV4 itself (Web Crypto, crypto.subtle) and sends it to
// the same origin, where the ordinary pipeline authenticates, authorizes
// and records it. So the console can do nothing its user's policies do
// not allow, and every action is in the trail like a CLI call. The secret
// key lives in the tab's memory (sessionStorage if the user asks to stay
// signed in for the tab), never in localStorage, a cookie or a URL; an
// idle tab signs out.
//
// # Headers
//
// Every response carries a Content-Security-Policy that allows only this
// origin (default-src 'self'; no inline script or style, no eval;
// connect-src 'self'; frame-ancestors 'none'), X-Frame-Options DENY,
// X-Content-Type-Options nosniff, Referrer-Policy no-referrer and
// Cache-Control no-store for the page (assets are named by content, so
// they may be cached). Nothing is fetched from another origin: no CDN, no
// web font, no analytics; a machine without internet serves a complete
// console.
//
// # Stack: none
//
// The console is plain ES modules (web/*.js), HTML and CSS, served as
// written: no framework, no npm dependency and no build step. The reasons:
//
//   - Supply chain. A key manager's console runs with its user's
//     credentials; every npm package in its bundle is code that could
//     read them. With none, the code a reviewer reads is the code the
//     browser runs, byte for byte.
//   - Reproducibility for free. Nothing to rebuild, so nothing can drift
//     from its sources; `go build` alone produces the console.
//   - Size. The whole console is well under the 300 KB first-load budget
//     compressed (TestFirstLoadSize measures it); a framework would be
//     most of it.
//   - What a framework would bring here is small: the pages are forms
//     and tables redrawn from API answers. web/ui.js is a 60-line element
//     builder (h) that never parses HTML strings, so text from the API
//     can never become markup (no HTML string is ever parsed;
//     TestSourcesStayOnTheOrigin checks).
//
// Modern browsers (ES2020 modules, Web Crypto, fetch) are required;
// SigV4 in the browser needs a secure context (HTTPS, or http://127.0.0.1
// and http://localhost, which browsers treat as potentially trustworthy).
//
// # Files
//
//   - web/index.html: the one page; loads app.js as a module.
//   - web/sigv4.js: AWS Signature Version 4 over crypto.subtle.
//   - web/api.js: the KMS (JSON 1.1), IAM and STS (query) and CloudTrail
//     (JSON 1.1) clients; errors carry the AWS exception and message.
//   - web/app.js and web/*.page.js: sign-in, keys, key, principals,
//     audit and scratchpad pages.
package console
