package s3api

import (
	"net/http"

	"github.com/tusk-data/tusk/s3api/sigv4"
)

// Verifier authenticates one request; *sigv4.Verifier implements it. Verify
// reads only the request line, headers and query; the payload is then read
// from the Result's Body, never from r.Body. Its errors are *s3code.Error
// with the S3 code (SignatureDoesNotMatch, ...), or the Credentials' own
// (NotExist with reason errs.UnknownKey: InvalidAccessKeyId).
type Verifier interface {
	Verify(r *http.Request) (*sigv4.Result, error)
}

var _ Verifier = (*sigv4.Verifier)(nil)
