package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	minio "github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tusk-data/tusk/internal/errs"
)

// echoServer is a stand-in S3 endpoint: it verifies every request, reads
// the payload through Result.Body and records what it saw.
type echoServer struct {
	v    *Verifier
	mu   sync.Mutex
	seen map[string]seenReq // by decoded path
}

type seenReq struct {
	mode       string // x-amz-content-sha256 as sent
	sum        string // SHA-256 of the decoded payload
	n          int64
	decodedLen int64
	trailer    http.Header
	header     http.Header
	user       string
}

func newEcho() *echoServer {
	return &echoServer{v: newVerifier(), seen: map[string]seenReq{}}
}

func (s *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, err := s.v.Verify(r)
	if err == nil {
		h := sha256.New()
		var n int64
		if n, err = io.Copy(h, res.Body); err == nil {
			sum := hex.EncodeToString(h.Sum(nil))
			s.mu.Lock()
			s.seen[r.URL.Path] = seenReq{
				mode: r.Header.Get("X-Amz-Content-Sha256"), sum: sum, n: n,
				decodedLen: res.DecodedLength, trailer: res.Trailer(), header: r.Header.Clone(), user: res.User,
			}
			s.mu.Unlock()
			w.Header().Set("ETag", `"`+sum[:32]+`"`)
			w.Header().Set("X-Tusk-Body-Sha256", sum)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	status := http.StatusInternalServerError
	switch errs.KindOf(err) {
	case errs.Permission, errs.NotExist:
		status = http.StatusForbidden
	case errs.Invalid:
		status = http.StatusBadRequest
	case errs.NotImplemented:
		status = http.StatusNotImplemented
	}
	var msg bytes.Buffer
	_ = xml.EscapeText(&msg, []byte(err.Error()))
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`,
		codeOf(err), msg.String())
}

func (s *echoServer) get(t *testing.T, path string) seenReq {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	got, ok := s.seen[path]
	if !ok {
		t.Fatalf("server saw no successful request for %q (saw %d others)", path, len(s.seen))
	}
	return got
}

// modes returns the distinct x-amz-content-sha256 values seen, hex hashes
// shown as "<sha256>".
func (s *echoServer) modes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[string]bool{}
	for _, r := range s.seen {
		m := r.mode
		if len(m) == 64 && isHex(m) {
			m = "<sha256>"
		}
		set[m] = true
	}
	var out []string
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func sdkClient(srv *httptest.Server, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(srv.URL),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(testAK, secret, ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig gives: CRC32 on every PutObject.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	})
}

// onlyReader hides Seek and everything else a body might offer.
type onlyReader struct{ io.Reader }

func TestSDKClientEndToEnd(t *testing.T) {
	body := randBytes(5<<20+333, 42)
	want := sha256Hex(body)
	crc := crc32b64(body)
	key := "dir/with space+plus=ünï//x/../y.bin"
	path := "/bucket/" + key

	cases := []struct {
		name     string
		tls      bool
		body     func() io.Reader
		length   *int64
		mode     string
		trailing bool
	}{
		// Over plain HTTP the SDK signs the real SHA-256 and sends the
		// CRC32 as a header (it needs a seekable body for that).
		{"http seekable", false, func() io.Reader { return bytes.NewReader(body) }, nil, sha256Hex(body), false},
		// Over TLS it streams aws-chunked with the CRC32 as a trailer.
		{"tls seekable", true, func() io.Reader { return bytes.NewReader(body) }, nil, streamingUnsignedTrailer, true},
		{"tls unseekable", true, func() io.Reader { return onlyReader{bytes.NewReader(body)} }, aws.Int64(int64(len(body))), streamingUnsignedTrailer, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			echo := newEcho()
			var srv *httptest.Server
			if c.tls {
				srv = httptest.NewTLSServer(echo)
			} else {
				srv = httptest.NewServer(echo)
			}
			defer srv.Close()
			cli := sdkClient(srv, testSK)
			out, err := cli.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String(key), Body: c.body(), ContentLength: c.length,
				Metadata: map[string]string{"Note": "  spaced   out  "},
			})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if out.ETag == nil || *out.ETag != `"`+want[:32]+`"` {
				t.Fatalf("ETag = %v", out.ETag)
			}
			got := echo.get(t, path)
			if got.sum != want || got.n != int64(len(body)) || got.decodedLen != int64(len(body)) || got.user != testUser {
				t.Fatalf("server saw %+v", got)
			}
			if got.mode != c.mode {
				t.Fatalf("x-amz-content-sha256 = %q, want %q", got.mode, c.mode)
			}
			if c.trailing {
				if g := got.trailer.Get("X-Amz-Checksum-Crc32"); g != crc {
					t.Fatalf("trailer crc32 = %q, want %q (trailer %v)", g, crc, got.trailer)
				}
			} else if g := got.header.Get("X-Amz-Checksum-Crc32"); g != crc {
				t.Fatalf("header crc32 = %q, want %q", g, crc)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		srv := httptest.NewServer(newEcho())
		defer srv.Close()
		_, err := sdkClient(srv, "not-the-secret").PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String("bucket"), Key: aws.String("k"), Body: bytes.NewReader([]byte("x")),
		})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SignatureDoesNotMatch" {
			t.Fatalf("want SignatureDoesNotMatch, got %v", err)
		}
	})

	t.Run("presigned GET and PUT", func(t *testing.T) {
		echo := newEcho()
		srv := httptest.NewServer(echo)
		defer srv.Close()
		pc := s3.NewPresignClient(sdkClient(srv, testSK))
		get, err := pc.PresignGetObject(context.Background(), &s3.GetObjectInput{
			Bucket: aws.String("bucket"), Key: aws.String(key), ResponseContentType: aws.String("text/plain; x=y"),
		})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Get(get.URL)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("presigned GET: %s %s", resp.Status, msg)
		}
		if u, _ := url.Parse(get.URL); u.Query().Get("X-Amz-Signature") == "" {
			t.Fatalf("not a presigned URL: %s", get.URL)
		}

		put, err := pc.PresignPutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String("bucket"), Key: aws.String("presigned put"),
		})
		if err != nil {
			t.Fatal(err)
		}
		small := []byte("through a presigned PUT")
		req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader(small))
		for k, v := range put.SignedHeader {
			if k != "Host" {
				req.Header[k] = v
			}
		}
		resp, err = srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("presigned PUT: %s %s", resp.Status, msg)
		}
		if got := echo.get(t, "/bucket/presigned put"); got.sum != sha256Hex(small) {
			t.Fatalf("presigned PUT body hash %s", got.sum)
		}
	})
}

func TestMinioClientEndToEnd(t *testing.T) {
	body := randBytes(5<<20+777, 43)
	want := sha256Hex(body)
	key := "dir/with space+plus=ünï/y.bin"
	cases := []struct {
		name     string
		tls      bool
		checksum minio.ChecksumType
		mode     string
	}{
		// Plain HTTP: minio-go signs every 64 KiB chunk.
		{"http streaming signed", false, minio.ChecksumNone, streamingPayload},
		// With a checksum asked for, the checksum goes in a signed trailer.
		{"http streaming signed trailer", false, minio.ChecksumCRC32, streamingPayloadTrailer},
		// TLS: unsigned aws-chunked with the checksum in a trailer.
		{"tls unsigned trailer", true, minio.ChecksumCRC32, streamingUnsignedTrailer},
		// TLS without a checksum: a plain unsigned payload.
		{"tls unsigned", true, minio.ChecksumNone, unsignedPayload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			echo := newEcho()
			var srv *httptest.Server
			if c.tls {
				srv = httptest.NewTLSServer(echo)
			} else {
				srv = httptest.NewServer(echo)
			}
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			cli, err := minio.New(u.Host, &minio.Options{
				Creds:           miniocreds.NewStaticV4(testAK, testSK, ""),
				Secure:          c.tls,
				Transport:       srv.Client().Transport,
				Region:          testRegion,
				BucketLookup:    minio.BucketLookupPath,
				TrailingHeaders: true,
				MaxRetries:      1,
			})
			if err != nil {
				t.Fatal(err)
			}
			info, err := cli.PutObject(context.Background(), "bucket", key, bytes.NewReader(body), int64(len(body)),
				minio.PutObjectOptions{ContentType: "application/octet-stream", UserMetadata: map[string]string{"Note": "hi"},
					Checksum: c.checksum})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if info.ETag != want[:32] {
				t.Fatalf("ETag = %q", info.ETag)
			}
			got := echo.get(t, "/bucket/"+key)
			if got.sum != want || got.n != int64(len(body)) || got.user != testUser {
				t.Fatalf("server saw %+v", got)
			}
			if got.mode != c.mode {
				t.Fatalf("x-amz-content-sha256 = %q, want %q", got.mode, c.mode)
			}
			if c.checksum == minio.ChecksumCRC32 {
				if g := got.trailer.Get("X-Amz-Checksum-Crc32"); g != crc32b64(body) {
					t.Fatalf("trailer crc32 = %q, want %q (trailer %v)", g, crc32b64(body), got.trailer)
				}
			}
			t.Logf("mode %s, decoded length %d, trailer %v", got.mode, got.decodedLen, got.trailer)
		})
	}
}
