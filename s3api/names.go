package s3api

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tusk-data/tusk/internal/errs"
)

// MaxKeyLen is S3's limit on a key's length in bytes.
const MaxKeyLen = 1024

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
		return address{}, errs.E(op, errs.Invalid, "request target must be an absolute path").WithCode("InvalidURI")
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
				return address{}, errs.E(op, errs.Invalid, "could not parse the request path").WithCode("InvalidURI")
			}
			a.Key = key
			return a, nil
		}
	}
	bucket, rest, _ := strings.Cut(escaped, "/")
	b, err := url.PathUnescape(bucket)
	if err != nil {
		return address{}, errs.E(op, errs.Invalid, "could not parse the request path").WithCode("InvalidURI")
	}
	key, err := url.PathUnescape(rest)
	if err != nil {
		return address{}, errs.E(op, errs.Invalid, "could not parse the request path").WithCode("InvalidURI")
	}
	a.Bucket, a.Key = b, key
	if a.Bucket == "" && a.Key != "" {
		// "//key": an empty bucket name with a key.
		return address{}, errs.E(op, errs.Invalid, "the bucket name is empty").WithCode("InvalidBucketName")
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

// splitBucket splits an S3 bucket name into REF and REPO at its LAST dot
// (SPEC §2): "images" -> ("", "images"), "dev.images" -> ("dev", "images").
// It validates the repo name (SPEC §1) and the ref's characters; a bad name
// is Invalid with code InvalidBucketName. forCreate applies the stricter
// branch-name rules that CreateBucket REF.REPO needs.
func splitBucket(bucket string, forCreate bool) (ref, repo string, err error) {
	const op = "s3api.splitBucket"
	if ipLike(bucket) {
		return "", "", errs.E(op, errs.Invalid, "bucket %q is formatted as an IP address; bucket names must not be", bucket).WithCode("InvalidBucketName")
	}
	repo = bucket
	if i := strings.LastIndexByte(bucket, '.'); i >= 0 {
		ref, repo = bucket[:i], bucket[i+1:]
		if ref == "" {
			return "", "", errs.E(op, errs.Invalid, "bucket %q has an empty ref before the dot", bucket).WithCode("InvalidBucketName")
		}
	}
	if err := ValidRepoName(repo); err != nil {
		if ref != "" {
			return "", "", errs.E(op, errs.Invalid, "bucket %q: %s (%s)", bucket, messageOf(err), dottedNames).WithCode("InvalidBucketName")
		}
		return "", "", errs.E(op, errs.Invalid, "bucket %q: %s", bucket, messageOf(err)).WithCode("InvalidBucketName")
	}
	if ref == "" {
		return "", repo, nil
	}
	if forCreate {
		if len(bucket) > 63 {
			return "", "", errs.E(op, errs.Invalid, "bucket %q is longer than 63 characters", bucket).WithCode("InvalidBucketName")
		}
		if err := ValidBranchName(ref); err != nil {
			return "", "", errs.E(op, errs.Invalid, "bucket %q: %s (%s)", bucket, messageOf(err), dottedNames).WithCode("InvalidBucketName")
		}
		return ref, repo, nil
	}
	// A ref on a read can be a branch, a tag or a commit id (prefix): all are
	// lowercase letters, digits and '-', starting with a letter or digit.
	if len(ref) > 128 || !isNameChars(ref) || !isAlnum(ref[0]) {
		return "", "", errs.E(op, errs.Invalid, "bucket %q: ref %q is not a valid branch, tag or commit id (%s)", bucket, ref, dottedNames).WithCode("InvalidBucketName")
	}
	return ref, repo, nil
}

// dottedNames explains how Tusk reads a bucket name with dots.
const dottedNames = "Tusk reads a bucket name with dots as REF.REPO, split at the last dot, and repo names have no dots"

// ipLike reports a name formatted as an IPv4 address (four dot-separated
// groups of 1-3 digits, such as 192.168.5.4): S3 refuses such bucket names.
func ipLike(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// ValidRepoName checks SPEC §1: 3-63 chars of [a-z0-9-], starting and ending
// with a letter or digit.
func ValidRepoName(name string) error {
	const op = "s3api.ValidRepoName"
	if len(name) < 3 || len(name) > 63 {
		return errs.E(op, errs.Invalid, "repo name %q must be 3-63 characters long", name)
	}
	if !isNameChars(name) {
		return errs.E(op, errs.Invalid, "repo name %q may only hold lowercase letters, digits and '-'", name)
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return errs.E(op, errs.Invalid, "repo name %q must start and end with a letter or digit", name)
	}
	return nil
}

// ValidBranchName checks SPEC §1 for branches and tags: 1-50 chars of
// [a-z0-9-] starting with a letter or digit, and not 8 or more hex digits
// only (that would read as a commit id).
func ValidBranchName(name string) error {
	const op = "s3api.ValidBranchName"
	if len(name) < 1 || len(name) > 50 {
		return errs.E(op, errs.Invalid, "branch name %q must be 1-50 characters long", name)
	}
	if !isNameChars(name) {
		return errs.E(op, errs.Invalid, "branch name %q may only hold lowercase letters, digits and '-'", name)
	}
	if !isAlnum(name[0]) {
		return errs.E(op, errs.Invalid, "branch name %q must start with a letter or digit", name)
	}
	if len(name) >= 8 && strings.Trim(name, "0123456789abcdef") == "" {
		return errs.E(op, errs.Invalid, "branch name %q is all hex digits and would read as a commit id", name)
	}
	return nil
}

// ValidKey checks an object key: 1-1024 bytes of valid UTF-8 without NUL.
// Too long is KeyTooLongError and empty is InvalidArgument; a key that is
// not valid UTF-8 or holds a NUL cannot be a key on the wire: 400
// InvalidURI ("Couldn't parse the specified URI."), as AWS answers a path
// whose key does not decode. Nothing else is refused: "..", "//" and a
// trailing "/" are ordinary key bytes.
func ValidKey(key string) error {
	const op = "s3api.ValidKey"
	switch {
	case key == "":
		return errs.E(op, errs.Invalid, "the key is empty").WithCode("InvalidArgument")
	case len(key) > MaxKeyLen:
		return errs.E(op, errs.TooLarge, "your key is too long: %d bytes, at most %d", len(key), MaxKeyLen).WithCode("KeyTooLongError")
	case !utf8.ValidString(key):
		return errs.E(op, errs.Invalid, "Couldn't parse the specified URI: the key is not valid UTF-8").WithCode("InvalidURI")
	case strings.IndexByte(key, 0) >= 0:
		return errs.E(op, errs.Invalid, "Couldn't parse the specified URI: the key contains a NUL byte").WithCode("InvalidURI")
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isNameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}
