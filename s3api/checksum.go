package s3api

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strings"

	"github.com/minio/crc64nvme"
)

// checksumAlgos are the S3 additional checksums, by their names in
// x-amz-sdk-checksum-algorithm and Object.Checksums.
var checksumAlgos = []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

func newChecksumHash(algo string) hash.Hash {
	switch algo {
	case "CRC32":
		return crc32.NewIEEE()
	case "CRC32C":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "CRC64NVME":
		return crc64nvme.New()
	case "SHA1":
		return sha1.New()
	case "SHA256":
		return sha256.New()
	}
	return nil
}

// checksumHeader is the header carrying algo's value: x-amz-checksum-crc32.
func checksumHeader(algo string) string { return "X-Amz-Checksum-" + strings.ToLower(algo) }

func algoOfHeader(name string) (string, bool) {
	suffix, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(name)), "x-amz-checksum-")
	if !ok {
		return "", false
	}
	for _, a := range checksumAlgos {
		if strings.ToLower(a) == suffix {
			return a, true
		}
	}
	return "", false
}

// checksummer computes the additional checksum of a body while it
// streams and verifies it once the body is read: against the
// x-amz-checksum-* header sent up front, or against the trailer named by
// x-amz-trailer (read from the aws-chunked trailer after EOF), or, when
// x-amz-sdk-checksum-algorithm only announces an algorithm, it just
// computes the value to store.
type checksummer struct {
	algo     string
	h        hash.Hash
	expected string             // from the header; "" = trailer or none
	trailer  string             // header name to read from trailers
	trailers func() http.Header // the verifier's Result.Trailer
}

// newChecksummer reads the checksum headers of a write. It returns nil
// when the client asked for no checksum. Several checksum headers, an
// unknown algorithm or a value that is not base64 of the right length is
// InvalidRequest.
func newChecksummer(h http.Header, trailers func() http.Header) (*checksummer, error) {
	var c *checksummer
	for name, vals := range h {
		algo, ok := algoOfHeader(name)
		if !ok {
			continue
		}
		if c != nil {
			return nil, s3err("InvalidRequest", "expecting a single x-amz-checksum- header; multiple checksum types are not allowed")
		}
		c = &checksummer{algo: algo, expected: strings.TrimSpace(vals[0])}
		if c.expected == "" {
			return nil, s3err("InvalidRequest", "value for %s header is invalid", strings.ToLower(name))
		}
	}
	if t := strings.TrimSpace(h.Get("X-Amz-Trailer")); t != "" {
		algo, ok := algoOfHeader(t)
		if !ok || strings.Contains(t, ",") {
			return nil, s3err("InvalidRequest", "x-amz-trailer %q names no supported checksum", t)
		}
		if c != nil {
			return nil, s3err("InvalidRequest", "expecting a single x-amz-checksum- header; multiple checksum types are not allowed")
		}
		if trailers == nil {
			return nil, s3err("InvalidRequest", "x-amz-trailer needs an aws-chunked body with trailers")
		}
		c = &checksummer{algo: algo, trailer: checksumHeader(algo), trailers: trailers}
	}
	if sdk := strings.ToUpper(strings.TrimSpace(h.Get("X-Amz-Sdk-Checksum-Algorithm"))); sdk != "" {
		if newChecksumHash(sdk) == nil {
			return nil, s3err("InvalidRequest", "checksum algorithm %q is not supported", sdk)
		}
		if c == nil {
			c = &checksummer{algo: sdk}
		} else if c.algo != sdk {
			return nil, s3err("InvalidRequest", "x-amz-sdk-checksum-algorithm %s does not match the checksum sent (%s)", sdk, c.algo)
		}
	}
	if c == nil {
		return nil, nil
	}
	c.h = newChecksumHash(c.algo)
	if c.expected != "" {
		raw, err := base64.StdEncoding.DecodeString(c.expected)
		if err != nil || len(raw) != c.h.Size() {
			return nil, s3err("InvalidRequest", "value for %s header is invalid", strings.ToLower(checksumHeader(c.algo)))
		}
	}
	return c, nil
}

// wrap returns body teed into the hash.
func (c *checksummer) wrap(body io.Reader) io.Reader {
	if c == nil {
		return body
	}
	return io.TeeReader(body, c.h)
}

// finish verifies the computed value (call after EOF) and returns the
// checksums to store. A mismatch is BadDigest; a trailer announced but not
// sent is InvalidRequest.
func (c *checksummer) finish() (map[string]string, error) {
	if c == nil {
		return nil, nil
	}
	got := base64.StdEncoding.EncodeToString(c.h.Sum(nil))
	want := c.expected
	if c.trailer != "" {
		var t http.Header
		if c.trailers != nil {
			t = c.trailers()
		}
		want = strings.TrimSpace(t.Get(c.trailer))
		if want == "" {
			return nil, s3err("InvalidRequest", "the trailer %s announced in x-amz-trailer was not sent", strings.ToLower(c.trailer))
		}
	}
	if want != "" && want != got {
		return nil, s3err("BadDigest", "the %s you specified did not match the calculated checksum", strings.ToLower(checksumHeader(c.algo)))
	}
	return map[string]string{c.algo: got}, nil
}

// setChecksumHeaders sets x-amz-checksum-* and x-amz-checksum-type.
func setChecksumHeaders(h http.Header, sums map[string]string, typ string) {
	for algo, v := range sums {
		if newChecksumHash(algo) == nil || v == "" {
			continue
		}
		h.Set(checksumHeader(algo), v)
	}
	if len(sums) > 0 {
		if typ == "" {
			typ = "FULL_OBJECT"
		}
		h.Set("X-Amz-Checksum-Type", typ)
	}
}
