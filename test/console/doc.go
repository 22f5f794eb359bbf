// Package console tests Trent's web console (internal/console) in a real
// browser: headless Chromium (Debian's chromium) driven by chromedp,
// against a trent serve child process on a loopback port.
//
// It is a module of its own, so that chromedp stays out of Trent's
// go.mod; scripts/test-all.sh runs it in a stage of its own, which fails
// when Chromium is missing (TRENT_TEST_CHROMIUM names another binary).
// Every test saves screenshots as PNG files in $TRENT_TEST_ARTIFACTS/console,
// or, when that is unset, in $TMPDIR/trent-console-artifacts.
package console
