// Package s3code carries S3 error codes for protocol-level errors born
// inside s3api and s3api/sigv4: a malformed signature, XML that does not
// parse, a header S3 refuses. Only those layers speak S3 codes (and the admin
// API, which authenticates with s3api/sigv4 and reads the codes of its
// errors). Every other layer returns errs kinds and reasons, which s3api
// maps in its one table (s3api/errors.go).
package s3code
