// Package backendtest is the conformance suite every s3api.Backend runs.
//
// A backend's test calls Run with a constructor that returns a fresh, empty
// backend and the callers the suite acts as. Run checks the contract the
// comments of s3api.Backend state: buckets (repos, branch buckets, names,
// BucketNotEmpty, unknown buckets), put/head/open with ranges and digests,
// conditional writes, copies, deletes (markers, one commit per request,
// version removal), listings of keys and versions with their paging,
// versioning status, multipart uploads, read-only refs, and the caller's
// permissions, checked by the backend itself.
//
// Errors are asserted through one helper (wantErr: the errs Kind and the
// S3 code the contract names), so a change of the error vocabulary is
// adapted in one place.
package backendtest
