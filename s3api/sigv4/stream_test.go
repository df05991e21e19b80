package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"io"
	"math/rand"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/tusk-data/tusk/internal/errs"
)

// shaHasher adapts crypto/sha256 to the md5simd.Hasher minio-go's streaming
// signer takes.
type shaHasher struct{ hash.Hash }

func (shaHasher) Close() {}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func crc32b64(b []byte) string {
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(s[:])
}

// minioStream signs a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] upload
// with minio-go (64 KiB chunks).
func minioStream(t testing.TB, target string, body []byte, trailer http.Header, at time.Time) *http.Request {
	t.Helper()
	req := newReq(t, http.MethodPut, target, nil)
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.Trailer = trailer
	return signer.StreamingSignV4(req, testAK, testSK, "", testRegion, int64(len(body)), at, shaHasher{sha256.New()})
}

// minioUnsignedTrailer signs a STREAMING-UNSIGNED-PAYLOAD-TRAILER upload
// with minio-go, as its client does over TLS.
func minioUnsignedTrailer(t testing.TB, target string, body []byte, trailer http.Header) *http.Request {
	t.Helper()
	req := newReq(t, http.MethodPut, target, body)
	req.Header.Set("X-Amz-Content-Sha256", streamingUnsignedTrailer)
	return signer.SignV4Trailer(*req, testAK, testSK, "", testRegion, trailer)
}

var contentLengthRE = regexp.MustCompile(`(?i)\r\nContent-Length: \d+\r\n`)

// splitWire splits a serialized request into its head and body.
func splitWire(t testing.TB, wire []byte) (head string, body []byte) {
	t.Helper()
	i := bytes.Index(wire, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatal("no end of headers")
	}
	return string(wire[:i+4]), append([]byte(nil), wire[i+4:]...)
}

// rewire joins a head and a (modified) body, fixing Content-Length.
func rewire(t testing.TB, head string, body []byte) *http.Request {
	t.Helper()
	if !contentLengthRE.MatchString(head) {
		t.Fatal("no Content-Length in head")
	}
	head = contentLengthRE.ReplaceAllString(head, "\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n")
	return parseWire(t, append([]byte(head), body...))
}

func TestStreamingSigned(t *testing.T) {
	v := newVerifier()
	for _, n := range []int{0, 1, 100, 64 << 10, 64<<10 + 1, 3*64<<10 - 7, 5<<20 + 123} {
		body := randBytes(n, int64(n))
		t.Run("size "+strconv.Itoa(n), func(t *testing.T) {
			r := toServer(t, minioStream(t, "/bucket/stream%20key", body, nil, time.Now()))
			if r.Header.Get("X-Amz-Content-Sha256") != streamingPayload {
				t.Fatalf("x-amz-content-sha256 = %q", r.Header.Get("X-Amz-Content-Sha256"))
			}
			res, data, err := verifyAll(v, r)
			wantOK(t, res, data, err, body)
			if res.DecodedLength != int64(n) {
				t.Fatalf("DecodedLength = %d, want %d", res.DecodedLength, n)
			}
			if tr := res.Trailer(); tr != nil {
				t.Fatalf("Trailer = %v", tr)
			}
		})
	}
	t.Run("signed trailer", func(t *testing.T) {
		for _, n := range []int{1, 64 << 10, 300<<10 + 5} {
			body := randBytes(n, 7)
			crc := crc32b64(body)
			r := toServer(t, minioStream(t, "/bucket/k", body, http.Header{"X-Amz-Checksum-Crc32": {crc}}, time.Now()))
			if r.Header.Get("X-Amz-Content-Sha256") != streamingPayloadTrailer {
				t.Fatalf("x-amz-content-sha256 = %q", r.Header.Get("X-Amz-Content-Sha256"))
			}
			res, data, err := verifyAll(v, r)
			wantOK(t, res, data, err, body)
			if got := res.Trailer().Get("x-amz-checksum-crc32"); got != crc {
				t.Fatalf("trailer crc32 = %q, want %q (%v)", got, crc, res.Trailer())
			}
		}
	})
	t.Run("one byte at a time", func(t *testing.T) {
		body := randBytes(200<<10, 3)
		r := toServer(t, minioStream(t, "/bucket/k", body, nil, time.Now()))
		r.Body = io.NopCloser(iotest.OneByteReader(r.Body))
		res, err := v.Verify(r)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(iotest.OneByteReader(res.Body))
		wantOK(t, res, data, err, body)
	})
	t.Run("iotest.TestReader", func(t *testing.T) {
		body := randBytes(150<<10, 4)
		res, err := v.Verify(toServer(t, minioStream(t, "/bucket/k", body, nil, time.Now())))
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(res.Body, body); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStreamingSignedFailures(t *testing.T) {
	body := randBytes(3*64<<10+100, 11) // chunks: 64K, 64K, 64K, 100, 0
	stream := func(t *testing.T, trailer http.Header) (string, []byte) {
		return splitWire(t, wireOf(t, minioStream(t, "/bucket/k", body, trailer, time.Now())))
	}
	// nth returns the offset of the nth (0-based) chunk header.
	nth := func(b []byte, n int) int {
		off := 0
		for i := 0; i < n; i++ {
			eol := off + bytes.IndexByte(b[off:], '\n')
			size, _, _ := strings.Cut(string(b[off:eol]), ";")
			sz, err := strconv.ParseInt(size, 16, 64)
			if err != nil {
				t.Fatalf("bad chunk header at %d: %q", off, b[off:eol])
			}
			off = eol + 1 + int(sz) + 2
		}
		return off
	}
	// flipHex changes the hex digit at b[i] to another hex digit.
	flipHex := func(b []byte, i int) {
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
	}
	cases := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		kind    errs.Kind
		code    string
		maxRead int // at most this many payload bytes may come out before the error
	}{
		{"flipped data byte in chunk 2", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			i := nth(b, 1) + bytes.IndexByte(b[nth(b, 1):], '\n') + 1000
			b[i] ^= 0x40
			return rewire(t, head, b)
		}, errs.Permission, "SignatureDoesNotMatch", 2*64<<10 - 1},
		{"flipped last byte of chunk 1", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			b[nth(b, 1)-3] ^= 1
			return rewire(t, head, b)
		}, errs.Permission, "SignatureDoesNotMatch", 64<<10 - 1},
		{"tampered chunk signature", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			flipHex(b, nth(b, 2)-64<<10-2-3) // last hex digit of chunk 1's signature
			return rewire(t, head, b)
		}, errs.Permission, "SignatureDoesNotMatch", 2*64<<10 - 1},
		{"swapped chunks", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			c1, c2, c3 := nth(b, 1), nth(b, 2), nth(b, 3)
			sw := append(append(append(append([]byte{}, b[:c1]...), b[c2:c3]...), b[c1:c2]...), b[c3:]...)
			return rewire(t, head, sw)
		}, errs.Permission, "SignatureDoesNotMatch", 2*64<<10 - 1},
		{"dropped chunk", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			c1, c2 := nth(b, 1), nth(b, 2)
			return rewire(t, head, append(append([]byte{}, b[:c1]...), b[c2:]...))
		}, errs.Permission, "SignatureDoesNotMatch", 2*64<<10 - 1},
		{"tampered final chunk signature", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			flipHex(b, nth(b, 4)+len("0;chunk-signature=")+10)
			return rewire(t, head, b)
		}, errs.Permission, "SignatureDoesNotMatch", len(body)},
		{"missing final chunk", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			return rewire(t, head, b[:nth(b, 4)])
		}, errs.Invalid, "IncompleteBody", len(body)},
		{"cut inside a chunk", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			return rewire(t, head, b[:nth(b, 2)+500])
		}, errs.Invalid, "IncompleteBody", 2*64<<10 + 500},
		{"missing CRLF after data", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			c1 := nth(b, 1)
			return rewire(t, head, append(append([]byte{}, b[:c1-2]...), b[c1:]...))
		}, errs.Invalid, "InvalidRequest", 64<<10 - 1},
		{"chunk header without signature", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			c1 := nth(b, 1)
			end := c1 + bytes.IndexByte(b[c1:], '\n') + 1
			return rewire(t, head, append(append(append([]byte{}, b[:c1]...), "10000\r\n"...), b[end:]...))
		}, errs.Invalid, "InvalidRequest", 64 << 10},
		{"unsigned trailer appended", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			b = append(b[:len(b)-2], "x-amz-checksum-crc32:AAAAAA==\r\n\r\n"...)
			return rewire(t, head, b)
		}, errs.Invalid, "InvalidRequest", len(body)},
		{"decoded length header changed", func(t *testing.T) *http.Request {
			head, b := stream(t, nil)
			head = strings.Replace(head, "X-Amz-Decoded-Content-Length: "+strconv.Itoa(len(body)), "X-Amz-Decoded-Content-Length: "+strconv.Itoa(len(body)-1), 1)
			return rewire(t, head, b)
		}, errs.Permission, "SignatureDoesNotMatch", 0},
		{"signed trailer value changed", func(t *testing.T) *http.Request {
			head, b := stream(t, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(body)}})
			i := bytes.Index(b, []byte("x-amz-checksum-crc32:")) + len("x-amz-checksum-crc32:")
			b[i] ^= 1
			return rewire(t, head, b)
		}, errs.Permission, "SignatureDoesNotMatch", len(body)},
		{"signed trailer signature dropped", func(t *testing.T) *http.Request {
			head, b := stream(t, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(body)}})
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			return rewire(t, head, append(b[:i], "\r\n"...))
		}, errs.Permission, "SignatureDoesNotMatch", len(body)},
		{"extra trailer injected", func(t *testing.T) *http.Request {
			head, b := stream(t, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(body)}})
			i := bytes.Index(b, []byte("x-amz-checksum-crc32:"))
			b = append(append(append([]byte{}, b[:i]...), "x-amz-checksum-sha256:AAAA\n"...), b[i:]...)
			return rewire(t, head, b)
		}, errs.Invalid, "InvalidRequest", len(body)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := newVerifier().Verify(c.req(t))
			var n int64
			if err == nil {
				n, err = io.Copy(io.Discard, res.Body)
			}
			wantCode(t, err, c.kind, c.code)
			if n > int64(c.maxRead) {
				t.Fatalf("%d payload bytes came out before the error, want at most %d", n, c.maxRead)
			}
		})
	}
	t.Run("skewed seed", func(t *testing.T) {
		r := toServer(t, minioStream(t, "/bucket/k", body, nil, time.Now().Add(-time.Hour)))
		_, err := newVerifier().Verify(r)
		wantCode(t, err, errs.Permission, "RequestTimeTooSkewed")
	})
	t.Run("wrong secret", func(t *testing.T) {
		req := newReq(t, http.MethodPut, "/bucket/k", nil)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req = signer.StreamingSignV4(req, testAK, "wrong", "", testRegion, int64(len(body)), time.Now(), shaHasher{sha256.New()})
		_, err := newVerifier().Verify(toServer(t, req))
		wantCode(t, err, errs.Permission, "SignatureDoesNotMatch")
	})
}

func TestStreamingUnsignedTrailer(t *testing.T) {
	v := newVerifier()
	for _, n := range []int{1, 64 << 10, 64<<10 + 1, 3<<20 + 77} {
		t.Run("size "+strconv.Itoa(n), func(t *testing.T) {
			body := randBytes(n, int64(n)+1)
			crc := crc32b64(body)
			r := toServer(t, minioUnsignedTrailer(t, "/bucket/with%20space", body, http.Header{"x-amz-checksum-crc32": {crc}}))
			if r.Header.Get("X-Amz-Content-Sha256") != streamingUnsignedTrailer {
				t.Fatalf("x-amz-content-sha256 = %q", r.Header.Get("X-Amz-Content-Sha256"))
			}
			res, data, err := verifyAll(v, r)
			wantOK(t, res, data, err, body)
			if res.DecodedLength != int64(n) {
				t.Fatalf("DecodedLength = %d", res.DecodedLength)
			}
			if got := res.Trailer().Get("X-Amz-Checksum-Crc32"); got != crc {
				t.Fatalf("trailer crc32 = %q, want %q", got, crc)
			}
		})
	}
	t.Run("anonymous", func(t *testing.T) {
		body := []byte("anonymous aws-chunked")
		req := newReq(t, http.MethodPut, "/bucket/k", body)
		req.Header.Set("X-Amz-Content-Sha256", streamingUnsignedTrailer)
		req = signer.UnsignedTrailer(*req, http.Header{"x-amz-checksum-crc32": {crc32b64(body)}})
		res, data, err := verifyAll(v, toServer(t, req))
		if err != nil || !res.Anonymous || !bytes.Equal(data, body) {
			t.Fatalf("res %+v data %q err %v", res, data, err)
		}
		if res.Trailer().Get("x-amz-checksum-crc32") != crc32b64(body) {
			t.Fatalf("trailer %v", res.Trailer())
		}
	})
}

// TestChunkedFraming drives the decoder with hand-written aws-chunked bodies
// in both clients' dialects and with broken framing.
func TestChunkedFraming(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		declLen  int64
		declared []string
		out      string
		trailer  map[string]string
		code     string
	}{
		{name: "sdk dialect", in: "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n",
			declLen: 11, out: "hello world", trailer: map[string]string{"X-Amz-Checksum-Crc32": "DUoRhQ=="}},
		{name: "minio dialect", in: "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:abc=\n\r\n\r\n",
			declLen: 5, out: "hello", trailer: map[string]string{"X-Amz-Checksum-Crc32": "abc="}},
		{name: "two trailers", in: "3\r\nabc\r\n0\r\nx-amz-checksum-crc32: a \r\nx-amz-checksum-sha256:b\r\n\r\n",
			declLen: -1, declared: []string{"x-amz-checksum-crc32", "x-amz-checksum-sha256"}, out: "abc",
			trailer: map[string]string{"X-Amz-Checksum-Crc32": "a", "X-Amz-Checksum-Sha256": "b"}},
		{name: "no trailer", in: "5\r\nhello\r\n0\r\n\r\n", declLen: 5, out: "hello"},
		{name: "no final blank line", in: "5\r\nhello\r\n0\r\n", declLen: -1, out: "hello"},
		{name: "uppercase hex and leading zeros", in: "000A\r\n0123456789\r\n0\r\n\r\n", declLen: 10, out: "0123456789"},
		{name: "empty payload", in: "0\r\n\r\n", declLen: 0, out: ""},
		{name: "decoded length too small", in: "5\r\nhello\r\n0\r\n\r\n", declLen: 4, code: "IncompleteBody"},
		{name: "decoded length too large", in: "5\r\nhello\r\n0\r\n\r\n", declLen: 6, code: "IncompleteBody"},
		{name: "bad hex", in: "zz\r\nhello\r\n0\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "0x prefix", in: "0x5\r\nhello\r\n0\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "negative", in: "-5\r\nhello\r\n0\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "empty size", in: "\r\nhello\r\n0\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "chunk over 16 MiB", in: "1000001\r\nhello", declLen: -1, code: "InvalidRequest"},
		{name: "huge size", in: "fffffffffffffffff\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "data longer than size", in: "4\r\nhello\r\n0\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "data shorter than size", in: "6\r\nhello\r\n0\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "eof inside chunk", in: "5\r\nhel", declLen: -1, code: "IncompleteBody"},
		{name: "eof after data", in: "5\r\nhello", declLen: -1, code: "IncompleteBody"},
		{name: "eof before final chunk", in: "5\r\nhello\r\n", declLen: -1, code: "IncompleteBody"},
		{name: "eof inside header", in: "5\r\nhello\r\n0", declLen: -1, code: "IncompleteBody"},
		{name: "empty body", in: "", declLen: -1, code: "IncompleteBody"},
		{name: "undeclared trailer", in: "0\r\nx-amz-meta-evil:1\r\n\r\n", declLen: -1,
			declared: []string{"x-amz-checksum-crc32"}, code: "InvalidRequest"},
		{name: "duplicate trailer", in: "0\r\nx-amz-checksum-crc32:a\r\nx-amz-checksum-crc32:b\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "malformed trailer", in: "0\r\nno colon here\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "bad trailer name", in: "0\r\nbad name:v\r\n\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "trailer section too large", in: "0\r\n" + strings.Repeat("x-amz-a:"+strings.Repeat("v", 1000)+"\r\n", 1) +
			strings.Repeat("\r\n", maxTrailerBytes/2), declLen: -1, code: "InvalidRequest"},
		{name: "line too long", in: strings.Repeat("0", maxLine+10) + "\r\n", declLen: -1, code: "InvalidRequest"},
		{name: "too many trailers", in: "0\r\n" + func() string {
			var b strings.Builder
			for i := 0; i <= maxTrailers; i++ {
				b.WriteString("x-amz-t" + strconv.Itoa(i) + ":v\r\n")
			}
			return b.String()
		}() + "\r\n", declLen: -1, code: "InvalidRequest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newChunkDecoder(strings.NewReader(c.in), modeUnsignedTrailer, nil, c.declLen, c.declared)
			out, err := io.ReadAll(d)
			if c.code != "" {
				wantCode(t, err, errs.Invalid, c.code)
				if _, again := d.Read(make([]byte, 10)); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.out {
				t.Fatalf("out = %q, want %q", out, c.out)
			}
			tr := d.Trailer()
			if len(tr) != len(c.trailer) {
				t.Fatalf("trailer = %v, want %v", tr, c.trailer)
			}
			for k, v := range c.trailer {
				if tr.Get(k) != v {
					t.Fatalf("trailer %s = %q, want %q", k, tr.Get(k), v)
				}
			}
		})
	}
}

// chunkGen produces an unsigned aws-chunked stream of n chunks of size bytes
// lazily, so a test can decode far more data than it holds.
type chunkGen struct {
	n, size int
	pending []byte
	data    []byte
}

func (g *chunkGen) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		switch {
		case g.n > 0:
			g.pending = append(append([]byte(strconv.FormatInt(int64(g.size), 16)+"\r\n"), g.data...), "\r\n"...)
			g.n--
		case g.n == 0:
			g.pending = []byte("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
			g.n--
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

// TestChunkedBoundedMemory decodes 64 MiB in 1 MiB chunks and checks that
// the decoder allocates nothing in proportion to the data.
func TestChunkedBoundedMemory(t *testing.T) {
	const chunks, size = 64, 1 << 20
	gen := &chunkGen{n: chunks, size: size, data: randBytes(size, 5)}
	// The generator's own per-chunk allocations are measured separately.
	var ms0, ms1, ms2 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	probe := &chunkGen{n: chunks, size: size, data: gen.data}
	if _, err := io.Copy(io.Discard, probe); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms1)
	genCost := ms1.TotalAlloc - ms0.TotalAlloc

	d := newChunkDecoder(gen, modeUnsignedTrailer, nil, chunks*size, nil)
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{d}, make([]byte, 32<<10))
	runtime.ReadMemStats(&ms2)
	if err != nil || n != chunks*size {
		t.Fatalf("decoded %d bytes, err %v", n, err)
	}
	used := int64(ms2.TotalAlloc-ms1.TotalAlloc) - int64(genCost)
	if used > 1<<20 {
		t.Fatalf("decoder allocated about %d bytes for %d MiB of payload", used, chunks*size>>20)
	}
	t.Logf("decoder allocated about %d bytes for %d MiB", used, chunks*size>>20)
}

func BenchmarkStreamingSigned(b *testing.B) {
	body := randBytes(8<<20, 9)
	wire := wireOf(b, minioStream(b, "/bucket/bench", body, nil, time.Now()))
	v := newVerifier()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := v.Verify(parseWire(b, wire))
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, res.Body); err != nil || n != int64(len(body)) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkHexPayload(b *testing.B) {
	body := randBytes(8<<20, 10)
	req := newReq(b, http.MethodPut, "/bucket/bench", body)
	wire := wireOf(b, sdkSign(b, req, body, "", time.Now()))
	v := newVerifier()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := v.Verify(parseWire(b, wire))
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, res.Body); err != nil || n != int64(len(body)) {
			b.Fatal(n, err)
		}
	}
}
