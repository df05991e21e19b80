package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// payload builds the Result body for payload hash ph. ss carries the signing
// context for signed streaming; it is nil for anonymous requests.
func payload(r *http.Request, body io.Reader, ph string, ss *streamSigner) (*Result, error) {
	switch ph {
	case unsignedPayload:
		return &Result{Body: body, DecodedLength: contentLength(r), Trailer: noTrailer}, nil
	case streamingPayload, streamingPayloadTrailer, streamingUnsignedTrailer:
		dl := int64(-1)
		if vals := r.Header.Values("X-Amz-Decoded-Content-Length"); len(vals) > 0 {
			n, err := strconv.ParseInt(strings.TrimSpace(vals[0]), 10, 64)
			if err != nil || n < 0 || len(vals) > 1 {
				return nil, fail(errs.Invalid, "InvalidArgument", "bad x-amz-decoded-content-length %q", vals)
			}
			dl = n
		}
		mode := modeUnsignedTrailer
		switch ph {
		case streamingPayload:
			mode = modeSigned
		case streamingPayloadTrailer:
			mode = modeSignedTrailer
		}
		if mode != modeUnsignedTrailer && ss == nil {
			return nil, fail(errs.Invalid, "InvalidRequest", "a signed streaming payload needs a signed request")
		}
		d := newChunkDecoder(body, mode, ss, dl, declaredTrailers(r))
		return &Result{Body: d, DecodedLength: dl, Trailer: d.Trailer}, nil
	}
	want, err := hex.DecodeString(ph)
	if err != nil || len(want) != sha256.Size {
		return nil, fail(errs.Invalid, "InvalidArgument", "x-amz-content-sha256 %q is not a SHA-256", ph)
	}
	return &Result{
		Body:          &hashReader{src: body, h: sha256.New(), want: want},
		DecodedLength: contentLength(r),
		Trailer:       noTrailer,
	}, nil
}

// declaredTrailers returns the lower-cased names listed in x-amz-trailer, or
// nil when the header is absent.
func declaredTrailers(r *http.Request) []string {
	var names []string
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for _, n := range strings.Split(v, ",") {
			if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// hashReader passes a body through, hashing it, and turns the final io.EOF
// into XAmzContentSHA256Mismatch when the hash is not the signed one.
type hashReader struct {
	src  io.Reader
	h    hash.Hash
	want []byte
	err  error
}

func (r *hashReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.src.Read(p)
	r.h.Write(p[:n])
	switch {
	case err == io.EOF:
		if !bytes.Equal(r.h.Sum(nil), r.want) {
			err = bodyFail(errs.Invalid, "XAmzContentSHA256Mismatch",
				"the provided x-amz-content-sha256 header does not match what was computed")
		}
		r.err = err
	case err != nil:
		err = bodyErr(err)
		r.err = err
	}
	return n, err
}

// bodyErr classifies an error of the underlying body: a body cut short is
// IncompleteBody; anything else (a closed connection, a size limit) is the
// transport's and passes unchanged.
func bodyErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return s3code.Wrap(opBody, errs.Invalid, "IncompleteBody", "the request body ended before its declared length", err)
	}
	return err
}
