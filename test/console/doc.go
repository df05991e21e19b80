// Package console holds the web console's end-to-end tests: a real gateway
// in-process (gatewaytest, real HTTP on loopback) with pipelines run by the
// real `tusk worker` binary (built once by TestMain, or TUSK_BIN), driven
//
//   - by plain HTTP as a browser would (http_test.go): sign in, the cookie's
//     attributes, sign out, expiry, a forged request without the CSRF token
//     refused (admin API and S3), a user without permission not seeing a
//     repo, /ui/ never naming a bucket, object answers sandboxed;
//   - by Debian's headless Chromium through chromedp (browser_test.go):
//     the console's main path end to end, with screenshots written to
//     test/console/screenshots/ (ignored by git).
//
// Chromium is installed by scripts/install-test-deps.sh (Debian's
// chromium); without it the browser test fails, saying so.
//
// Run: go test -count=1 ./test/console/
package console
