package console

import (
	"net/http"

	"github.com/tusk-data/tusk/s3api"
	"github.com/tusk-data/tusk/s3api/sigv4"
)

// Verifier returns an S3 verifier that authenticates a request by its
// console session (see Session: a changing request needs the CSRF token)
// and hands every other request to next (SigV4). The console uploads and
// reads object bytes through it, as the session's user, with the same
// permission checks as any S3 client.
func (c *Console) Verifier(next s3api.Verifier) s3api.Verifier {
	return sessionVerifier{c: c, next: next}
}

type sessionVerifier struct {
	c    *Console
	next s3api.Verifier
}

func (v sessionVerifier) Verify(r *http.Request) (*sigv4.Result, error) {
	user, key, ok, err := v.c.Session(r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return v.next.Verify(r)
	}
	var body = r.Body
	if body == nil {
		body = http.NoBody
	}
	n := r.ContentLength
	if n < 0 {
		n = -1
	}
	return &sigv4.Result{User: user, AccessKey: key, Body: body, DecodedLength: n,
		Trailer: func() http.Header { return nil }}, nil
}
