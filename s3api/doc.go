// Package s3api is Tusk's S3 protocol layer: it turns S3 requests into calls
// on a Backend (the versioned store, implemented by the gateway over Badger
// and blob) and the Backend's answers and errors into S3 responses, so that
// any S3 client reads and writes Tusk as if it were S3 (SPEC §2-§5).
//
// New(Config) returns one http.Handler. For every request it:
//
//  1. makes a request id, returned as x-amz-request-id and logged;
//  2. parses the address: virtual-hosted style (Host BUCKET.Config.Domain)
//     or path style (/BUCKET/KEY). The key is taken from the escaped path
//     and unescaped once, never cleaned, so "a//b", "x/../y", a trailing
//     "/", "%2F" and "+" round-trip unchanged; it is never used as a
//     filesystem path;
//  3. authenticates with Config.Verifier (SigV4, see s3api/sigv4) and from
//     then on reads the payload only through the verifier's Result.Body;
//  4. routes with gorilla/mux (SkipClean, UseEncodedPath) on level
//     (service, bucket, object), method and sub-resource; a request naming
//     an S3 sub-resource Tusk does not implement is answered NotImplemented,
//     never served as the plain GET/PUT/DELETE;
//  5. splits the bucket at its LAST dot into REF.REPO, resolves it with
//     Backend.Resolve and checks Auth.Allow for the operation (read, write,
//     admin; anonymous requests may only read public-read repos), to
//     refuse before any body is read;
//  6. runs the operation through the Backend, passing the request's Caller
//     (the Backend checks its permission again itself and is checked
//     against its contract by s3api/backendtest); the operation returns an error instead of writing one:
//     errors.go holds the ONE table mapping errs kinds and codes to S3 codes
//     and statuses and the ONE encoder of S3 error XML.
//
// Implemented: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
// GetBucketLocation, Get/PutBucketVersioning (Enabled, or Suspended with
// S3's null versions), the
// "nothing configured" answers of configuration probes (policy, cors,
// lifecycle, encryption, tagging, website, ...), Get{Bucket,Object}Acl,
// GetObjectTagging, PutObject (Content-MD5, additional checksums in
// headers or aws-chunked trailers, conditional writes), GetObject /
// HeadObject (versions, Range, partNumber, conditional requests,
// response-* overrides, checksums), GetObjectAttributes, CopyObject,
// DeleteObject and DeleteObjects (with a versionId: that version leaves the
// branch's view, as on S3), ListObjects v1/v2, ListObjectVersions, and the
// multipart upload calls (multipart.go).
//
// Limits on hostile input: request headers are bounded by the
// http.Server's MaxHeaderBytes (set by whoever serves this handler);
// XML bodies are read through io.LimitReader (4 MiB for DeleteObjects,
// 64 KiB for configuration documents); a single PUT is at most 5 GiB;
// keys are 1-1024 bytes of UTF-8 without NUL; user metadata is at most
// 2 KB; and every payload is bounded to its announced length. SlowDown
// and RequestTimeout (limits.go) are the answers of the gateway's request
// cap and body deadline.
package s3api
