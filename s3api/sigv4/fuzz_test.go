package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// fuzzTime is the signing time of the signed seeds; the fuzzed decoder
// checks signatures against it.
var fuzzTime = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// signedSeed returns a minio-go signed aws-chunked body and the seed
// signature of its request.
func signedSeed(t testing.TB, body []byte, trailer http.Header) ([]byte, string) {
	t.Helper()
	req := minioStream(t, "/bucket/fuzz", body, trailer, fuzzTime)
	ah := req.Header.Get("Authorization")
	seed := ah[strings.LastIndex(ah, "Signature=")+len("Signature="):]
	data, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data, seed
}

func fuzzSigner(seed string) *streamSigner {
	return &streamSigner{
		key:     signingKey(testSK, fuzzTime.Format(scopeDateFormat), testRegion),
		amzDate: fuzzTime.Format(amzDateFormat),
		scope:   fuzzTime.Format(scopeDateFormat) + "/" + testRegion + "/s3/aws4_request",
		seed:    seed,
	}
}

// FuzzChunkedDecoder feeds arbitrary bytes to the aws-chunked decoder in each
// mode: it must never panic, never return more payload than it was given,
// keep its buffer at maxLine and its trailers under maxTrailerBytes, and fail
// only with the documented codes, stickily.
func FuzzChunkedDecoder(f *testing.F) {
	small, seed0 := signedSeed(f, []byte("hello, fuzz"), nil)
	twoChunks, seed1 := signedSeed(f, bytes.Repeat([]byte("ab"), 40<<10), nil)
	withTrailer, seed2 := signedSeed(f, []byte("trailing"), http.Header{"X-Amz-Checksum-Crc32": {crc32b64([]byte("trailing"))}})
	signers := []*streamSigner{fuzzSigner(seed0), fuzzSigner(seed1), fuzzSigner(seed2)}

	// Arguments: mode, which seed signature, read size, declared length, body.
	f.Add(uint8(modeSigned), uint8(0), uint16(4096), int64(11), small)
	f.Add(uint8(modeSigned), uint8(1), uint16(1), int64(-1), twoChunks)
	f.Add(uint8(modeSignedTrailer), uint8(2), uint16(3), int64(8), withTrailer)
	f.Add(uint8(modeUnsignedTrailer), uint8(0), uint16(5), int64(11), []byte("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"))
	f.Add(uint8(modeUnsignedTrailer), uint8(0), uint16(64), int64(-1), []byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:abc=\n\r\n\r\n"))
	f.Add(uint8(modeUnsignedTrailer), uint8(0), uint16(1), int64(0), []byte("0\r\n\r\n"))
	f.Add(uint8(modeUnsignedTrailer), uint8(0), uint16(2), int64(-1), []byte("A;ext=1\r\n0123456789\r\n0\r\n"))
	f.Add(uint8(modeSignedTrailer), uint8(0), uint16(100), int64(-1), []byte("0;chunk-signature="+strings.Repeat("a", 64)+"\r\nx:y\r\nx-amz-trailer-signature:"+strings.Repeat("b", 64)+"\r\n\r\n"))

	f.Fuzz(func(t *testing.T, mode, seedIdx uint8, readSize uint16, declLen int64, data []byte) {
		if declLen < -1 {
			declLen = -1
		}
		d := newChunkDecoder(bytes.NewReader(data), chunkMode(mode%3), signers[int(seedIdx)%len(signers)], declLen, nil)
		buf := make([]byte, 1+int(readSize))
		total := 0
		for i := 0; ; i++ {
			n, err := d.Read(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("Read returned n=%d for a %d-byte buffer", n, len(buf))
			}
			total += n
			if err == io.EOF {
				if declLen >= 0 && int64(total) != declLen {
					t.Fatalf("EOF after %d bytes, declared %d", total, declLen)
				}
				size := 0
				for k, vs := range d.Trailer() {
					for _, v := range vs {
						size += len(k) + len(v)
					}
				}
				if size > maxTrailerBytes {
					t.Fatalf("trailers hold %d bytes", size)
				}
				break
			}
			if err != nil {
				var e *errs.Error
				if !errors.As(err, &e) {
					t.Fatalf("unclassified error %T %v", err, err)
				}
				switch c := s3code.Of(err); c {
				case "IncompleteBody", "InvalidRequest", "SignatureDoesNotMatch":
				default:
					t.Fatalf("unexpected code %q: %v", c, err)
				}
				if _, again := d.Read(buf); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				break
			}
			if i > len(data)+10 {
				t.Fatalf("no progress after %d reads", i)
			}
		}
		if total > len(data) {
			t.Fatalf("decoded %d bytes from %d input bytes", total, len(data))
		}
		if d.src.Size() != maxLine {
			t.Fatalf("decoder buffer grew to %d", d.src.Size())
		}
	})
}

// TestSignedSeedsDecode checks that the signed fuzz seeds are valid streams,
// so the fuzzer starts from inputs that reach the end.
func TestSignedSeedsDecode(t *testing.T) {
	body := bytes.Repeat([]byte("ab"), 40<<10)
	data, seed := signedSeed(t, body, nil)
	out, err := io.ReadAll(newChunkDecoder(bytes.NewReader(data), modeSigned, fuzzSigner(seed), int64(len(body)), nil))
	if err != nil || !bytes.Equal(out, body) {
		t.Fatalf("decode: %d bytes, %v", len(out), err)
	}
	tr := []byte("trailing")
	data, seed = signedSeed(t, tr, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(tr)}})
	d := newChunkDecoder(bytes.NewReader(data), modeSignedTrailer, fuzzSigner(seed), int64(len(tr)), nil)
	out, err = io.ReadAll(d)
	if err != nil || !bytes.Equal(out, tr) || d.Trailer().Get("x-amz-checksum-crc32") != crc32b64(tr) {
		t.Fatalf("decode trailer stream: %q, %v, %v", out, err, d.Trailer())
	}
}
