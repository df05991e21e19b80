package blob

import (
	"strings"
	"unicode/utf8"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
)

// MaxKeyLen is the longest driver key, in bytes, that CheckKey accepts: the
// object key limit (names.MaxKeyLen), which object stores share.
const MaxKeyLen = names.MaxKeyLen

// Key layout the Store uses inside a driver.
const (
	// BlobPrefix is where content-addressed blobs live:
	// "blobs/<h0h1>/<h2h3>/<sha256 hex>".
	BlobPrefix = "blobs/"
	// TempPrefix is where uploads in progress live: "tmp/<random hex>".
	TempPrefix = "tmp/"
)

// CheckKey reports whether key is acceptable to a Driver. It returns an
// errs.Invalid error (Op "blob.CheckKey") when key is empty, longer than
// MaxKeyLen, not valid UTF-8, starts or ends with "/", contains "..", "//",
// "\\" or NUL, or has a "." path segment; nil otherwise. Every driver calls
// it before touching its backend, so all drivers refuse the same keys.
func CheckKey(key string) error {
	if key == "" {
		return errs.E("blob.CheckKey", errs.Invalid, "empty key")
	}
	if strings.HasSuffix(key, "/") {
		return errs.E("blob.CheckKey", errs.Invalid, "key %q ends with /", key)
	}
	return checkPath("blob.CheckKey", "key", key)
}

// CheckPrefix reports whether prefix is acceptable as a List prefix: "" (all
// keys) or a string that obeys CheckKey's rules except that it may end with
// "/". It returns an errs.Invalid error otherwise.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return checkPath("blob.CheckPrefix", "prefix", prefix)
}

func checkPath(op, what, s string) error {
	switch {
	case len(s) > MaxKeyLen:
		return errs.E(op, errs.Invalid, "%s is %d bytes, longer than %d", what, len(s), MaxKeyLen)
	case !utf8.ValidString(s):
		return errs.E(op, errs.Invalid, "%s %q is not valid UTF-8", what, s)
	case strings.HasPrefix(s, "/"):
		return errs.E(op, errs.Invalid, "%s %q starts with /", what, s)
	case strings.Contains(s, ".."):
		return errs.E(op, errs.Invalid, "%s %q contains ..", what, s)
	case strings.Contains(s, "//"):
		return errs.E(op, errs.Invalid, "%s %q contains //", what, s)
	case strings.ContainsRune(s, '\\'):
		return errs.E(op, errs.Invalid, "%s %q contains a backslash", what, s)
	case strings.ContainsRune(s, 0):
		return errs.E(op, errs.Invalid, "%s %q contains NUL", what, s)
	case s == "." || strings.HasPrefix(s, "./") || strings.HasSuffix(s, "/.") || strings.Contains(s, "/./"):
		return errs.E(op, errs.Invalid, "%s %q has a . segment", what, s)
	}
	return nil
}

// CheckHash returns an errs.Invalid error unless h is a SHA-256 digest in
// lowercase hex (64 characters of 0-9a-f).
func CheckHash(h string) error {
	if len(h) != 64 {
		return errs.E("blob.CheckHash", errs.Invalid, "blob hash %q is not 64 hex digits", h)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return errs.E("blob.CheckHash", errs.Invalid, "blob hash %q is not lowercase hex", h)
		}
	}
	return nil
}

// Key returns the driver key of the blob whose SHA-256 is hash (which must
// already have passed CheckHash): "blobs/ab/cd/abcd...".
func Key(hash string) string {
	return BlobPrefix + hash[0:2] + "/" + hash[2:4] + "/" + hash
}

// hashOfKey is Key's inverse: it returns the hash of a blob key and true, or
// "" and false when key is not a well-formed blob key.
func hashOfKey(key string) (string, bool) {
	const n = len(BlobPrefix) + 6 + 64
	if len(key) != n || !strings.HasPrefix(key, BlobPrefix) {
		return "", false
	}
	h := key[len(BlobPrefix)+6:]
	if CheckHash(h) != nil || Key(h) != key {
		return "", false
	}
	return h, true
}
