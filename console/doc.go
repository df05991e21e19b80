// Package console is Tusk's web console: a single page (plain HTML, one
// vanilla JS file and one CSS file, embedded with embed; no build step, no
// CDN, works offline) that `tusk serve` answers under /ui/ on its own port.
//
// The console has no back end of its own: the page calls the same admin API
// (/api/v1) the CLI uses, and reads and uploads object bytes through the S3
// API, as the signed-in user. What the package adds is the session:
//
//   - POST /ui/session {"access_key", "secret_key"} signs in: the key is
//     checked against the account store, and the answer sets the cookie
//     tusk_session (a random 256-bit id; HttpOnly, SameSite=Strict, Path=/,
//     Secure when the request came over TLS) and returns the session's CSRF
//     token. GET /ui/session returns the user and token of the current
//     session; DELETE /ui/session signs out.
//   - Sessions live in a server-side table (memory only: a restart signs
//     everyone out) and expire after Config.Idle without a request or
//     Config.TTL after sign-in, whichever comes first; revoking the access
//     key or deleting the user ends them at their next request. Five
//     failed sign-ins of one key within 15 minutes refuse its sign-ins
//     (429) for the rest of the 15 minutes.
//   - Console.Session is the hook the admin API (adminapi.Deps.Session) and
//     the S3 API (Console.Verifier) call: a request with no signature and a
//     session cookie is the session's user. Every request that changes
//     something (any method but GET, HEAD and OPTIONS) must also carry the
//     token in the X-Tusk-Csrf header, or it is refused (403). Signed
//     requests (SigV4, presigned, basic auth) ignore the cookie.
//   - Console.Protect marks every answer outside /ui/ to a request that
//     carries the cookie with "Content-Security-Policy: sandbox" and
//     nosniff, so that an uploaded HTML or SVG object opened from the
//     console cannot run script with the user's session.
//
// Path-style S3 can never name a bucket "ui": repo names have 3-63
// characters, so /ui/... is free on the gateway's own host (on a virtual
// host BUCKET.DOMAIN, /ui/... stays an S3 key).
package console
