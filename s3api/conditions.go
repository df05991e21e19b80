package s3api

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// condResult is the outcome of evaluating request preconditions.
type condResult int

const (
	condOK condResult = iota
	condNotModified
	condFailed
)

// conditions are the four RFC 7232 preconditions as S3 applies them, to
// GetObject / HeadObject (If-*) or to a CopyObject source
// (x-amz-copy-source-if-*).
type conditions struct {
	ifMatch, ifNoneMatch               string
	ifModifiedSince, ifUnmodifiedSince string
}

func getConditions(h http.Header) conditions {
	return conditions{
		ifMatch: h.Get("If-Match"), ifNoneMatch: h.Get("If-None-Match"),
		ifModifiedSince: h.Get("If-Modified-Since"), ifUnmodifiedSince: h.Get("If-Unmodified-Since"),
	}
}

func copySourceConditions(h http.Header) conditions {
	return conditions{
		ifMatch:           h.Get("X-Amz-Copy-Source-If-Match"),
		ifNoneMatch:       h.Get("X-Amz-Copy-Source-If-None-Match"),
		ifModifiedSince:   h.Get("X-Amz-Copy-Source-If-Modified-Since"),
		ifUnmodifiedSince: h.Get("X-Amz-Copy-Source-If-Unmodified-Since"),
	}
}

// eval follows RFC 7232 §6, which is also what S3 documents for the
// combinations: If-Match decides alone when present (If-Unmodified-Since
// is then ignored); otherwise If-Unmodified-Since may fail the request
// (412). Then If-None-Match decides alone when present (a match is 304 for
// reads); otherwise If-Modified-Since may answer 304. Dates that do not
// parse are ignored; times compare at the second, as Last-Modified is sent.
func (c conditions) eval(etag string, lastModified time.Time) condResult {
	lm := lastModified.UTC().Truncate(time.Second)
	if c.ifMatch != "" {
		if !etagListMatches(c.ifMatch, etag) {
			return condFailed
		}
	} else if t, ok := parseHTTPDate(c.ifUnmodifiedSince); ok && lm.After(t) {
		return condFailed
	}
	if c.ifNoneMatch != "" {
		if etagListMatches(c.ifNoneMatch, etag) {
			return condNotModified
		}
	} else if t, ok := parseHTTPDate(c.ifModifiedSince); ok && !lm.After(t) {
		return condNotModified
	}
	return condOK
}

// etagListMatches reports whether list ("*", or comma-separated entity
// tags, quoted or not, weak or not) names etag.
func etagListMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if unquoteETag(t) == etag {
			return true
		}
	}
	return false
}

// unquoteETag strips a weak prefix and quotes from an entity tag.
func unquoteETag(t string) string {
	t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
		t = t[1 : len(t)-1]
	}
	return t
}

func quoteETag(etag string) string { return `"` + etag + `"` }

func parseHTTPDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	if err != nil {
		// S3 also accepts ISO 8601 here.
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return time.Time{}, false
		}
	}
	return t.UTC(), true
}

// byteRange is a resolved, satisfiable single range.
type byteRange struct{ off, length int64 }

// parseRange resolves a Range header against size as S3 does. ok is false
// when the header is absent or must be ignored (not "bytes=", several
// ranges, or syntactically invalid: RFC 9110 says to serve the whole
// representation). A last byte past the end, or a suffix longer than the
// object, is clamped to the object, however many digits it has (a range is
// satisfiable when its first byte is). A first byte at or past the end, or
// a zero-length suffix, is InvalidRange (416); an empty object answers a
// suffix range whole (200), as AWS does.
func parseRange(h string, size int64) (br byteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	unsatisfiable := s3err("InvalidRange", "the requested range %q is not satisfiable for an object of %d bytes", h, size)
	if first == "" {
		n, valid := rangeNumber(last)
		if !valid {
			return byteRange{}, false, nil
		}
		if size == 0 {
			// AWS serves an empty object whole for a suffix range
			// (readers that "read the tail" rely on it).
			return byteRange{}, false, nil
		}
		if n == 0 {
			return byteRange{}, false, unsatisfiable
		}
		n = min(n, size)
		return byteRange{off: size - n, length: n}, true, nil
	}
	a, valid := rangeNumber(first)
	if !valid {
		return byteRange{}, false, nil
	}
	end := size - 1
	if last != "" {
		b, valid := rangeNumber(last)
		if !valid || b < a {
			return byteRange{}, false, nil
		}
		end = min(end, b)
	}
	if a >= size {
		return byteRange{}, false, unsatisfiable
	}
	return byteRange{off: a, length: end - a + 1}, true, nil
}

// rangeNumber reads a Range position: one or more ASCII digits (no sign,
// no blanks). A value beyond int64 is math.MaxInt64, which compares as
// "past the end" of any object; valid is false for anything but digits.
func rangeNumber(s string) (n int64, valid bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true // only digits: out of range
	}
	return n, true
}
