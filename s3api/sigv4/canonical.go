package sigv4

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// queryParams is a decoded query string in its original order.
type queryParams []struct{ k, v string }

// parseQuery decodes a raw query the way net/url does ('+' is a space), but
// keeps every pair, in order. A component with a broken escape is kept
// verbatim.
func parseQuery(raw string) queryParams {
	var q queryParams
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		q = append(q, struct{ k, v string }{unescapeQuery(k), unescapeQuery(v)})
	}
	return q
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func (q queryParams) get(name string) (string, bool) {
	for _, p := range q {
		if p.k == name {
			return p.v, true
		}
	}
	return "", false
}

func (q queryParams) all(name string) []string {
	var vals []string
	for _, p := range q {
		if p.k == name {
			vals = append(vals, p.v)
		}
	}
	return vals
}

// canonical returns the canonical query string: every name and value
// URI-encoded (uppercase hex, nothing but A-Z a-z 0-9 - _ . ~ left as is),
// sorted by encoded name then encoded value, joined with '&'. A presigned
// request's X-Amz-Signature is left out.
func (q queryParams) canonical(presigned bool) string {
	enc := make([][2]string, 0, len(q))
	for _, p := range q {
		if presigned && p.k == "X-Amz-Signature" {
			continue
		}
		enc = append(enc, [2]string{uriEncode(p.k, true), uriEncode(p.v, true)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i][0] != enc[j][0] {
			return enc[i][0] < enc[j][0]
		}
		return enc[i][1] < enc[j][1]
	})
	var b strings.Builder
	for i, kv := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(kv[1])
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// escapeByte writes c as %XX, with uppercase hex.
func escapeByte(b *strings.Builder, c byte) {
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

// URIEncode is uriEncode keeping '/': AWS's URI encoding of an object key,
// which S3 also uses for encoding-type=url in listings.
func URIEncode(s string) string { return uriEncode(s, false) }

// uriEncode percent-encodes every byte of s but the unreserved ones (and '/'
// unless encodeSlash), with uppercase hex.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || c == '/' && !encodeSlash {
			b.WriteByte(c)
			continue
		}
		escapeByte(&b, c)
	}
	return b.String()
}

// rawPath returns the request path as the client sent it: from the request
// line when the request came from a server (so routers rewriting r.URL do
// not matter), else from r.URL.
func rawPath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// canonicalPath encodes a raw (escaped) path once, S3 style: it decodes
// each %XX and re-encodes every byte per the SigV4 rules, so "a+b", "a%2Bb"
// and "a%2bb" all become "a%2Bb", while an encoded slash stays "%2F" and a
// literal '/' stays '/'. Nothing else is normalised ("//" and ".." stay).
func canonicalPath(raw string) string {
	if raw == "" {
		return "/"
	}
	var b strings.Builder
	b.Grow(len(raw) + len(raw)/4)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) && isHex(raw[i+1:i+3]) {
			d, _ := strconv.ParseUint(raw[i+1:i+3], 16, 8)
			c = byte(d)
			i += 2
			if unreserved(c) {
				b.WriteByte(c)
				continue
			}
		} else if unreserved(c) || c == '/' {
			b.WriteByte(c)
			continue
		}
		escapeByte(&b, c)
	}
	return b.String()
}

// canonicalHeaders returns "name:value\n" for each signed header, in the
// order of SignedHeaders. Values are trimmed, inner runs of spaces folded to
// one, and repeated headers joined with ','. Host comes from r.Host and
// Content-Length / Transfer-Encoding from the fields net/http moves them to.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		var vals []string
		switch name {
		case "host":
			h := r.Host
			if h == "" {
				h = r.URL.Host
			}
			vals = []string{h}
		case "content-length":
			vals = r.Header.Values("Content-Length")
			if len(vals) == 0 && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			vals = r.Header.Values("Transfer-Encoding")
			if len(vals) == 0 && len(r.TransferEncoding) > 0 {
				vals = []string{strings.Join(r.TransferEncoding, ",")}
			}
		default:
			vals = r.Header.Values(name)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// trimAll trims a header value and folds inner runs of spaces to one.
func trimAll(s string) string {
	s = strings.Trim(s, " \t")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}
