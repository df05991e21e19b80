package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// Property fuzz targets of the canonicalisation and of the verifier. Their
// seed corpora live in testdata/fuzz/<FuzzName>/ (findings kept as
// regression inputs) and run with every `go test`.

// canonicalChars reports whether s holds only what a SigV4 canonical form
// may hold: unreserved bytes, '/' when slashOK, and %XX with uppercase hex.
func canonicalChars(s string, slashOK bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c), c == '/' && slashOK:
		case c == '%' && i+2 < len(s) && strings.IndexByte(upperHex, s[i+1]) >= 0 && strings.IndexByte(upperHex, s[i+2]) >= 0:
			i += 2
		default:
			return fmt.Errorf("byte %q at %d of %q", c, i, s)
		}
	}
	return nil
}

// FuzzCanonicalPath: the canonical path holds only canonical characters,
// canonicalising it again changes nothing, and it decodes to the same bytes
// as the raw path whenever the raw path decodes at all ("" being "/").
func FuzzCanonicalPath(f *testing.F) {
	for _, p := range wirePaths {
		f.Add(p.path)
	}
	for _, s := range []string{"", "%", "%4", "%zz", "a%2", "/%2f%2F/", "%E6%97", "\x00\xff", "a b+c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c := canonicalPath(raw)
		if err := canonicalChars(c, true); err != nil {
			t.Fatalf("canonicalPath(%q) = %q: %v", raw, c, err)
		}
		if again := canonicalPath(c); again != c {
			t.Fatalf("not idempotent: %q -> %q -> %q", raw, c, again)
		}
		if raw == "" {
			raw = "/" // an empty path is the root
		}
		if want, err := url.PathUnescape(raw); err == nil {
			got, err := url.PathUnescape(c)
			if err != nil || got != want {
				t.Fatalf("%q decodes to %q, its canonical form %q to %q (%v)", raw, want, c, got, err)
			}
		}
	})
}

// FuzzCanonicalQuery: the canonical query string is sorted, holds only
// canonical characters, and parsing and canonicalising it again gives it
// back (the signature of a re-sent request does not drift).
func FuzzCanonicalQuery(f *testing.F) {
	for _, q := range wireQueries {
		f.Add(q.query)
	}
	for _, s := range []string{"&&", "=", "a=%zz", "a=b=c", "+=+", "%3D=%26", "X-Amz-Signature=x&a", "k=%E6%97%A5&k=%e6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, presigned := range []bool{false, true} {
			c := parseQuery(raw).canonical(presigned)
			prev := ""
			for i, pair := range strings.Split(c, "&") {
				if c == "" {
					break
				}
				k, v, ok := strings.Cut(pair, "=")
				if !ok {
					t.Fatalf("pair %q of %q has no '='", pair, c)
				}
				if err := canonicalChars(k, false); err != nil {
					t.Fatalf("name of %q: %v", c, err)
				}
				if err := canonicalChars(v, false); err != nil {
					t.Fatalf("value of %q: %v", c, err)
				}
				if i > 0 && (k < prev) {
					t.Fatalf("%q is not sorted by name", c)
				}
				prev = k
			}
			if again := parseQuery(c).canonical(presigned); again != c {
				t.Fatalf("not idempotent: %q -> %q -> %q", raw, c, again)
			}
		}
	})
}

// FuzzTrimAll: header value folding is idempotent and leaves no leading or
// trailing blanks and no double spaces.
func FuzzTrimAll(f *testing.F) {
	for _, s := range []string{"", " a  b ", "\t x\t", "a \t  b", "   "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := trimAll(s)
		if trimAll(c) != c || strings.Contains(c, "  ") || strings.Trim(c, " \t") != c {
			t.Fatalf("trimAll(%q) = %q", s, c)
		}
	})
}

// FuzzVerifySDK is a differential target: any request the AWS SDK's signer
// signs (arbitrary path, query and header value, after a trip through the
// HTTP/1.1 wire format) verifies, and the same request with one signature
// digit changed does not.
func FuzzVerifySDK(f *testing.F) {
	for i, p := range wirePaths {
		q := wireQueries[i%len(wireQueries)].query
		f.Add(p.path, q, "value "+p.name)
	}
	f.Add("/b/k", "a=1;b=2", "  folded   spaces  ")
	f.Add("/b/%", "%", "")
	v := newVerifier()
	v.Now = func() time.Time { return fuzzTime }
	f.Fuzz(func(t *testing.T, path, query, hval string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		target := path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(http.MethodGet, "http://"+testHost+target, nil)
		if err != nil || req.URL.Path == "" || req.URL.Host != testHost {
			return // not a request a client can send
		}
		if _, err := url.ParseQuery(req.URL.RawQuery); err != nil {
			return // the SDK's signer cannot canonicalise what it cannot parse
		}
		req.Header.Set("X-Amz-Meta-Fuzz", hval)
		sdkSign(t, req, nil, "", fuzzTime)
		var wire bytes.Buffer
		if err := req.Write(&wire); err != nil {
			return // a header value that cannot travel
		}
		sr, err := httpReadRequest(wire.Bytes())
		if err != nil || sr.Header.Get("X-Amz-Meta-Fuzz") != strings.Trim(hval, " \t") {
			return // the wire format changed what was signed (e.g. a value with CR or LF)
		}
		if _, _, err := verifyAll(v, sr); err != nil {
			t.Fatalf("SDK-signed %q (header %q) does not verify: %v", target, hval, err)
		}
		// One signature digit flipped: SignatureDoesNotMatch.
		ah := sr.Header.Get("Authorization")
		last := ah[len(ah)-1]
		flip := byte('0')
		if last == '0' {
			flip = '1'
		}
		sr2, _ := httpReadRequest(wire.Bytes())
		sr2.Header.Set("Authorization", ah[:len(ah)-1]+string(flip))
		_, _, err = verifyAll(v, sr2)
		wantCode(t, err, errs.Permission, "SignatureDoesNotMatch")
	})
}

func httpReadRequest(wire []byte) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
}

// FuzzVerifyHeaders feeds arbitrary Authorization, X-Amz-Date and
// x-amz-content-sha256 values to the verifier: it never panics, never
// accepts a request it cannot have a valid signature for, and fails only
// with classified errors.
func FuzzVerifyHeaders(f *testing.F) {
	good := sdkSign(f, newReq(f, http.MethodGet, "/bucket/key", nil), nil, "", fuzzTime)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.Header.Get("X-Amz-Content-Sha256"))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
		"20261126T120000Z", "UNSIGNED-PAYLOAD")
	f.Add("AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=", "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f/g, SignedHeaders=Host;;x, Signature="+strings.Repeat("f", 64), "x", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	f.Add("AWS AKID:sig", "", "")
	f.Add("", "", "")
	v := newVerifier()
	v.Now = func() time.Time { return fuzzTime }
	f.Fuzz(func(t *testing.T, authz, date, ph string) {
		req := newReq(t, http.MethodGet, "/bucket/key", nil)
		for k, val := range map[string]string{"Authorization": authz, "X-Amz-Date": date, "X-Amz-Content-Sha256": ph} {
			if val != "" {
				req.Header.Set(k, val)
			}
		}
		res, _, err := verifyAll(v, toServerOrNil(req))
		if err == nil {
			if res.Anonymous && strings.TrimSpace(req.Header.Get("Authorization")) == "" {
				return
			}
			if authz == good.Header.Get("Authorization") && date == good.Header.Get("X-Amz-Date") && ph == good.Header.Get("X-Amz-Content-Sha256") {
				return
			}
			t.Fatalf("accepted Authorization %q, date %q, payload hash %q", authz, date, ph)
		}
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Fatalf("unclassified error %T %v", err, err)
		}
		if c := codeOf(err); c == "" {
			t.Fatalf("error without an S3 code: %v", err)
		}
	})
}

// toServerOrNil is toServer for requests that may not survive the wire:
// the client-side request itself when they do not.
func toServerOrNil(req *http.Request) *http.Request {
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		return req
	}
	sr, err := httpReadRequest(buf.Bytes())
	if err != nil {
		return req
	}
	return sr
}

// encodeChunked frames payload as aws-chunked with the chunk sizes given
// (cycled; a zero size is taken as 1), signing each chunk in the signed
// modes as clients do, with the trailers given. end is the offset where
// the final chunk's header line ends (the trailer section starts).
func encodeChunked(mode chunkMode, ss *streamSigner, payload []byte, sizes []byte, trailer [][2]string) (body []byte, end int) {
	var b bytes.Buffer
	prev := ss.seed
	sign := func(sum string) string {
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + ss.amzDate + "\n" + ss.scope + "\n" + prev + "\n" + emptySHA256 + "\n" + sum
		prev = hex.EncodeToString(hmacSHA256(ss.key, sts))
		return prev
	}
	chunk := func(data []byte) {
		fmt.Fprintf(&b, "%x", len(data))
		if mode != modeUnsignedTrailer {
			sum := sha256.Sum256(data)
			b.WriteString(";chunk-signature=" + sign(hex.EncodeToString(sum[:])))
		}
		b.WriteString("\r\n")
		if len(data) > 0 {
			b.Write(data)
			b.WriteString("\r\n")
		}
	}
	for i := 0; len(payload) > 0; i++ {
		n := 1
		if len(sizes) > 0 {
			n = int(sizes[i%len(sizes)])*37 + 1
		}
		n = min(n, len(payload))
		chunk(payload[:n])
		payload = payload[n:]
	}
	chunk(nil)
	end = b.Len()
	if mode != modeSigned && len(trailer) > 0 {
		var canon strings.Builder
		for _, kv := range trailer {
			b.WriteString(kv[0] + ":" + kv[1] + "\r\n")
			canon.WriteString(kv[0] + ":" + kv[1] + "\n")
		}
		if mode == modeSignedTrailer {
			sum := sha256.Sum256([]byte(canon.String()))
			sts := "AWS4-HMAC-SHA256-TRAILER\n" + ss.amzDate + "\n" + ss.scope + "\n" + prev + "\n" + hex.EncodeToString(sum[:])
			b.WriteString("x-amz-trailer-signature:" + hex.EncodeToString(hmacSHA256(ss.key, sts)) + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.Bytes(), end
}

// FuzzChunkedRoundTrip: a well-formed aws-chunked body, whatever its chunk
// sizes, read sizes and trailer, decodes to exactly its payload and
// trailer in each mode; the same body cut short anywhere never decodes to
// success.
func FuzzChunkedRoundTrip(f *testing.F) {
	f.Add(uint8(modeSigned), []byte("hello, fuzz"), []byte{0, 3}, uint16(7), "")
	f.Add(uint8(modeSignedTrailer), bytes.Repeat([]byte("ab"), 300), []byte{200}, uint16(1), "abc=")
	f.Add(uint8(modeUnsignedTrailer), []byte{}, []byte{}, uint16(4096), "DUoRhQ==")
	f.Add(uint8(modeUnsignedTrailer), []byte("\r\n0\r\n\r\n"), []byte{0}, uint16(2), "")
	ss := fuzzSigner("0000000000000000000000000000000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, m uint8, payload, sizes []byte, readSize uint16, crc string) {
		mode := chunkMode(m % 3)
		var trailer [][2]string
		if crc = strings.Trim(crc, " \t"); crc != "" && mode != modeSigned {
			if strings.ContainsAny(crc, "\r\n") {
				return // not a header value
			}
			trailer = [][2]string{{"x-amz-checksum-crc32", crc}}
		}
		body, end := encodeChunked(mode, ss, payload, sizes, trailer)
		decode := func(body []byte) ([]byte, *chunkDecoder, error) {
			d := newChunkDecoder(bytes.NewReader(body), mode, ss, int64(len(payload)), nil)
			var out bytes.Buffer
			buf := make([]byte, 1+int(readSize))
			for {
				n, err := d.Read(buf)
				out.Write(buf[:n])
				if err == io.EOF {
					return out.Bytes(), d, nil
				}
				if err != nil {
					return out.Bytes(), d, err
				}
			}
		}
		out, d, err := decode(body)
		if err != nil || !bytes.Equal(out, payload) {
			t.Fatalf("mode %d: decoded %d of %d bytes: %v", mode, len(out), len(payload), err)
		}
		if len(trailer) > 0 && d.Trailer().Get("x-amz-checksum-crc32") != crc {
			t.Fatalf("trailer %v, want %q", d.Trailer(), crc)
		}
		// Cut short before the end of the final chunk's header: never a
		// success (what follows, the trailer section, is optional framing;
		// s3api checks that declared trailers came).
		cut := int(readSize) % end
		if _, _, err := decode(body[:cut]); err == nil {
			t.Fatalf("mode %d: body cut at %d of %d decodes", mode, cut, len(body))
		}
	})
}
