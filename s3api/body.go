package s3api

import (
	"errors"
	"io"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// bodyError classifies an error met while reading a request body. Errors
// the verifier classified (signature or payload hash mismatch) pass
// unchanged; transport errors (a client that hung up or sent less than it
// announced) are IncompleteBody.
func bodyError(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return s3code.Wrap("s3api.body", errs.Invalid, "IncompleteBody", "the request body ended early: "+err.Error(), err)
}

// exactReader delivers exactly n bytes of r. Fewer is IncompleteBody, more
// is InvalidRequest. After the n-th byte it keeps reading r until r itself
// reports EOF, so that a verifying reader below (sigv4's payload hash or
// chunk signatures) gets to say its word before the body counts as read.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

func newExactReader(r io.Reader, n int64) *exactReader { return &exactReader{r: r, left: n} }

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		var one [1]byte
		for {
			n, err := e.r.Read(one[:])
			if n > 0 {
				e.err = s3err("InvalidRequest", "the body is longer than the length announced")
				return 0, e.err
			}
			if err == io.EOF {
				e.err = io.EOF
				return 0, io.EOF
			}
			if err != nil {
				e.err = bodyError(err)
				return 0, e.err
			}
		}
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			e.err = s3err("IncompleteBody", "you did not provide the number of bytes announced: %d missing", e.left)
			return n, e.err
		}
		// Exactly n bytes and EOF: done.
		e.err = io.EOF
		return n, io.EOF
	}
	if err != nil {
		e.err = bodyError(err)
		return n, e.err
	}
	return n, nil
}
