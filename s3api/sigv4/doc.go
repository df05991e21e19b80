// Package sigv4 authenticates S3 requests signed with AWS Signature Version 4.
//
// A Verifier checks one *http.Request and answers a Result: who signed it (or
// that it carries no authentication at all) and the payload to read in place
// of r.Body. Verify looks at the request line, headers and query only; the
// payload is checked lazily, while the caller reads Result.Body:
//
//   - a hex x-amz-content-sha256: the body is hashed as it streams and Read
//     returns an XAmzContentSHA256Mismatch error instead of io.EOF when the
//     hash differs;
//   - UNSIGNED-PAYLOAD: the body is passed through;
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: the aws-chunked framing is
//     removed and every chunk signature (chained from the seed signature of
//     the request) and the trailer signature are verified;
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER: the aws-chunked framing is removed
//     and the trailing headers (for example x-amz-checksum-crc32) are
//     collected for Result.Trailer.
//
// The rule for callers: bytes read from Result.Body are unauthenticated until
// Read returns io.EOF. Any other error (always an *s3code.Error carrying the S3
// code, or the transport's own error) means the payload must be discarded and
// nothing committed. The chunked decoder streams with bounded memory: no chunk
// is buffered; a chunk's signature is checked before the Read that delivers the
// chunk's last byte returns.
//
// Presigned URLs (X-Amz-Algorithm in the query) are verified with their expiry
// window; SigV2 and SigV4a (AWS4-ECDSA-P256-SHA256) requests are answered with
// NotImplemented. Only the "s3" service is accepted in credential scopes.
//
// Canonicalisation follows the S3 flavour of SigV4: the URI path is encoded
// once (S3 does not double-encode), from the path exactly as it came on the
// wire (r.RequestURI), so keys with spaces, '+', '%', unicode, "//", ".." and
// encoded slashes verify; the query is decoded and re-encoded with the SigV4
// rules and sorted; header values are trimmed and inner runs of spaces folded.
// Every x-amz-* header present in the request must be among the signed
// headers.
package sigv4
