package s3api

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// address is what a request names: a bucket (as sent) and a key, before
// the bucket is resolved. Bucket "" is a service-level request (ListBuckets).
type address struct {
	Bucket string
	Key    string // raw key, unescaped exactly once; "" = bucket-level
	// Virtual reports a virtual-hosted-style request.
	Virtual bool
}

// parseAddress extracts bucket and key from r. With domain set and a Host of
// the form BUCKET.DOMAIN the bucket comes from the host (virtual-hosted
// style) and the whole path is the key; otherwise the first path segment is
// the bucket (path style). The key is taken from the escaped path and
// unescaped once, so "a//b", "x/../y", a trailing "/", "%2F" and "+" are kept
// exactly as the client meant them. The key is never cleaned and never used
// as a filesystem path.
func parseAddress(r *http.Request, domain string) (address, error) {
	const op = "s3api.parseAddress"
	escaped := r.URL.EscapedPath()
	if r.URL.Opaque != "" {
		return address{}, s3code.New(op, errs.Invalid, "InvalidURI", "request target must be an absolute path")
	}
	escaped = strings.TrimPrefix(escaped, "/")
	var a address
	if domain != "" {
		host := strings.ToLower(hostOnly(r.Host))
		d := strings.ToLower(strings.TrimSuffix(domain, "."))
		host = strings.TrimSuffix(host, ".")
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			a.Virtual = true
			a.Bucket = b
			key, err := url.PathUnescape(escaped)
			if err != nil {
				return address{}, s3code.New(op, errs.Invalid, "InvalidURI", "could not parse the request path")
			}
			a.Key = key
			return a, nil
		}
	}
	bucket, rest, _ := strings.Cut(escaped, "/")
	b, err := url.PathUnescape(bucket)
	if err != nil {
		return address{}, s3code.New(op, errs.Invalid, "InvalidURI", "could not parse the request path")
	}
	key, err := url.PathUnescape(rest)
	if err != nil {
		return address{}, s3code.New(op, errs.Invalid, "InvalidURI", "could not parse the request path")
	}
	a.Bucket, a.Key = b, key
	if a.Bucket == "" && a.Key != "" {
		// "//key": an empty bucket name with a key.
		return address{}, s3code.New(op, errs.Invalid, "InvalidBucketName", "the bucket name is empty")
	}
	return a, nil
}

// hostOnly strips the port from a Host header value (IPv6 literals too).
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// splitBucket reads an S3 bucket name as REF.REPO (names.SplitBucket); a
// bad name is Invalid with reason Name, which answers InvalidBucketName.
func splitBucket(bucket string, forCreate bool) (ref, repo string, err error) {
	return names.SplitBucket(bucket, forCreate)
}

// dottedNames explains how Tusk reads a bucket name with dots.
const dottedNames = names.DottedBuckets

// ValidKey checks an object key with names.ValidKey. Too long is
// KeyTooLongError and empty is InvalidArgument; a key that is not valid
// UTF-8 or holds a NUL cannot be a key on the wire: 400 InvalidURI
// ("Couldn't parse the specified URI."), as AWS answers a path whose key
// does not decode.
func ValidKey(key string) error {
	err := names.ValidKey(key)
	if err != nil && key != "" && errs.Is(err, errs.Invalid) {
		return s3code.Wrap("s3api.ValidKey", errs.Invalid, "InvalidURI", "Couldn't parse the specified URI: "+messageOf(err), nil)
	}
	return err
}
