package names

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tusk-data/tusk/internal/errs"
)

// MaxKeyLen is the longest object key in bytes (S3's limit).
const MaxKeyLen = 1024

// Commit ids are CommitIDLen lowercase hex digits; a ref may name a commit
// by a prefix of at least MinCommitPrefix of them.
const (
	CommitIDLen     = 32
	MinCommitPrefix = 12
)

// DottedBuckets explains how Tusk reads a bucket name with dots.
const DottedBuckets = "Tusk reads a bucket name with dots as REF.REPO, split at the last dot, and repo names have no dots"

func invalid(op string, r errs.Reason, format string, args ...any) error {
	return errs.E(op, errs.Invalid, format, args...).Because(r)
}

// ValidRepo checks a repo name (SPEC §1): 3-63 characters of a-z, 0-9 and
// '-', starting and ending with a letter or digit.
func ValidRepo(name string) error {
	if len(name) < 3 || len(name) > 63 || !nameChars(name) || !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return invalid("names.ValidRepo", errs.Name,
			"invalid repo name %q: 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// ValidRef checks a branch or tag name (SPEC §1): 1-50 characters of a-z,
// 0-9 and '-', starting with a letter or digit, and not 8 or more hex
// digits only (that would read as a commit id).
func ValidRef(name string) error {
	if len(name) < 1 || len(name) > 50 || !nameChars(name) || !alnum(name[0]) {
		return invalid("names.ValidRef", errs.Name,
			"invalid branch or tag name %q: 1-50 characters of a-z, 0-9 and '-', starting with a letter or digit", name)
	}
	if len(name) >= 8 && IsHex(name) {
		return invalid("names.ValidRef", errs.Name,
			"invalid branch or tag name %q: names of 8 or more hex digits would read as commit ids", name)
	}
	return nil
}

// IsHex reports whether s is one or more lowercase hex digits.
func IsHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// IsCommitID reports whether s has the shape of a full commit id.
func IsCommitID(s string) bool { return len(s) == CommitIDLen && IsHex(s) }

// IsCommitPrefix reports whether s can name a commit by prefix: 12-32
// lowercase hex digits (a full id included).
func IsCommitPrefix(s string) bool {
	return len(s) >= MinCommitPrefix && len(s) <= CommitIDLen && IsHex(s)
}

// ValidKey checks an object key: 1-MaxKeyLen bytes of valid UTF-8 without
// NUL. Nothing else is refused: "..", "//" and a trailing "/" are ordinary
// key bytes. Too long is TooLarge; the rest is Invalid; both with reason Key.
func ValidKey(key string) error {
	const op = "names.ValidKey"
	switch {
	case key == "":
		return invalid(op, errs.Key, "the key is empty")
	case len(key) > MaxKeyLen:
		return errs.E(op, errs.TooLarge, "your key is too long: %d bytes, at most %d", len(key), MaxKeyLen).Because(errs.Key)
	case !utf8.ValidString(key):
		return invalid(op, errs.Key, "the key is not valid UTF-8")
	case strings.IndexByte(key, 0) >= 0:
		return invalid(op, errs.Key, "the key contains a NUL byte")
	}
	return nil
}

// ValidUser checks a user name: 1-63 characters of a-z, 0-9, '.', '_' and
// '-', starting with a letter or digit; "anonymous" is reserved for
// unsigned requests. A bad name is Invalid with reason User.
func ValidUser(name string) error {
	const op = "names.ValidUser"
	if name == "anonymous" {
		return invalid(op, errs.User, "user name %q is reserved for unsigned requests; choose another", name)
	}
	ok := len(name) >= 1 && len(name) <= 63 && alnum(name[0])
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = alnum(c) || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return invalid(op, errs.User,
			"invalid user name %q: use 1-63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// SplitBucket reads an S3 bucket name as REF.REPO, split at its LAST dot
// (SPEC §2): "images" -> ("", "images"), "dev.images" -> ("dev", "images").
// It checks the repo name and the ref's characters; names formatted as an
// IPv4 address are refused as S3 does. forCreate applies the rules a new
// branch needs (ValidRef, and 63 characters at most for the whole name);
// otherwise the ref may be a branch, a tag or a commit id or prefix.
func SplitBucket(bucket string, forCreate bool) (ref, repo string, err error) {
	const op = "names.SplitBucket"
	if ipLike(bucket) {
		return "", "", invalid(op, errs.Name, "bucket %q is formatted as an IP address; bucket names must not be", bucket)
	}
	repo = bucket
	if i := strings.LastIndexByte(bucket, '.'); i >= 0 {
		ref, repo = bucket[:i], bucket[i+1:]
		if ref == "" {
			return "", "", invalid(op, errs.Name, "bucket %q has an empty ref before the dot", bucket)
		}
	}
	if err := ValidRepo(repo); err != nil {
		if ref != "" {
			return "", "", invalid(op, errs.Name, "bucket %q: %s (%s)", bucket, msg(err), DottedBuckets)
		}
		return "", "", invalid(op, errs.Name, "bucket %q: %s", bucket, msg(err))
	}
	if ref == "" {
		return "", repo, nil
	}
	if forCreate {
		if len(bucket) > 63 {
			return "", "", invalid(op, errs.Name, "bucket %q is longer than 63 characters", bucket)
		}
		if err := ValidRef(ref); err != nil {
			return "", "", invalid(op, errs.Name, "bucket %q: %s (%s)", bucket, msg(err), DottedBuckets)
		}
		return ref, repo, nil
	}
	// A ref on a read can be a branch, a tag or a commit id (prefix): all are
	// lowercase letters, digits and '-', starting with a letter or digit.
	if len(ref) > 128 || !nameChars(ref) || !alnum(ref[0]) {
		return "", "", invalid(op, errs.Name, "bucket %q: ref %q is not a valid branch, tag or commit id (%s)", bucket, ref, DottedBuckets)
	}
	return ref, repo, nil
}

// msg is the human message of a names error.
func msg(err error) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprint(err)
}

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

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func nameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '-' {
			return false
		}
	}
	return true
}
