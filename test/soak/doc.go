// Package soak is Tusk's soak test, kill -9 loop and backend outage test,
// with the model checker they share. Everything talks to a real `tusk
// serve` process (and, for the outage test, a real versitygw) over HTTP
// with aws-sdk-go-v2, minio-go (half the clients' PUT, GET, LIST and
// multipart) and the admin API; nothing runs in process.
//
//   - Soak (soak.go): many clients run a mixed load (PUT, GET, LIST with
//     prefix, delimiter and small pages, DELETE, DeleteObjects, multipart,
//     CopyObject) on main and on feature branches that another goroutine
//     creates, freezes and merges into main. At quiescent points and at the
//     end the checker compares every branch with the model.
//   - KillLoop (killloop.go): cycles of concurrent PUT, multipart,
//     DeleteObjects, DeleteObject, CopyObject and branch create+write with
//     a SIGKILL of the server at a random moment; after each restart the
//     checker runs on every branch.
//   - The outage test (outage_test.go): versitygw, the S3 backing store,
//     is SIGKILLed and restarted, then SIGSTOPped and continued, under load.
//
// The model (model.go) keeps, per branch and key, the state pinned at the
// last check plus every write since, each with its interval of a global
// sequence (start before the request, end after the answer) and its
// outcome: acknowledged (2xx with a version id), failed (an HTTP error
// answer: must leave no trace) or unknown (the connection was cut: may or
// may not have happened, but never torn). At a check, a key's current state
// must equal one of its candidates: a write not followed by an acknowledged
// write that started after it ended (two writers at once may leave either),
// or the pinned state when no acknowledged write came since. Every payload
// is self-describing (payload.go: its length and SHA-256 are in its first
// line), so any version that reads back is checked for tearing even when
// its write was never acknowledged.
//
// The checker (check.go) reads every acknowledged write at its version id
// byte-exact, lists every branch's keys (ListObjectsV2 flat and with
// delimiter, ListObjects v1, small pages) and versions (ListObjectVersions,
// paginated), and reports LOST (an acknowledged version missing), CORRUPT
// (bytes differ or torn), PHANTOM (a key, version or delete marker that no
// acknowledged or cut write explains) and STATE (a current state no
// candidate explains) violations.
//
// Run it by hand with `go run ./test/soak/cmd/soak -mode soak -duration
// 30m` or `-mode kill -cycles 50` (or `make soak`, `make killloop`); the
// tests run the short versions inside make test.
package soak
