package large

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

const (
	bigSize   = 300 << 20
	heapLimit = 64 << 20 // allowed growth of HeapInuse over the baseline
)

// gen is a seekable stream of pseudo-random bytes: AES-CTR keystream, so
// any offset can be regenerated without keeping anything in memory.
type gen struct {
	block cipher.Block
	off   int64
	size  int64
}

func newGen(size int64) *gen {
	b, err := aes.NewCipher([]byte("tusk-large-test!"))
	if err != nil {
		panic(err)
	}
	return &gen{block: b, size: size}
}

// fill writes the stream's bytes at [off, off+len(p)) into p.
func (g *gen) fill(p []byte, off int64) {
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/16))
	ctr := cipher.NewCTR(g.block, iv[:])
	if r := off % 16; r > 0 {
		var skip [16]byte
		ctr.XORKeyStream(skip[:r], skip[:r])
	}
	clear(p)
	ctr.XORKeyStream(p, p)
}

func (g *gen) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), g.size-g.off))
	g.fill(p[:n], g.off)
	g.off += int64(n)
	return n, nil
}

// onlyReader hides everything but Read (no Seek, no WriteTo, no Len), so
// neither the SDK nor net/http can buffer or rewind the body.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// heapWatch samples the Go heap until stopped and reports the peak.
type heapWatch struct {
	base, peak uint64
	stop       chan struct{}
	wg         sync.WaitGroup
}

func watchHeap() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapWatch{base: ms.HeapInuse, peak: ms.HeapInuse, stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tk.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				h.peak = max(h.peak, ms.HeapInuse)
			}
		}
	}()
	return h
}

// done stops sampling and returns the peak growth over the baseline.
func (h *heapWatch) done() (growth, base, peak uint64) {
	close(h.stop)
	h.wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapInuse)
	return h.peak - h.base, h.base, h.peak
}

// putSpy records how PUT requests went on the wire.
type putSpy struct {
	mu   sync.Mutex
	puts []string // "x-amz-content-sha256 content-length transfer-encoding"
}

func (s *putSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		s.mu.Lock()
		s.puts = append(s.puts, fmt.Sprintf("%s %d %v", r.Header.Get("X-Amz-Content-Sha256"), r.ContentLength, r.TransferEncoding))
		s.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func client(url string, spy *putSpy) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(gatewaytest.AccessKey, gatewaytest.SecretKey, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 10 * time.Minute, Transport: spy},
		// No request checksum: a non-seekable body over plain HTTP cannot
		// carry one up front, and a trailer would need aws-chunked framing.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

const mib = 1 << 20

// TestLargeObjectStreams PUTs 300 MiB in one request (UNSIGNED-PAYLOAD, a
// non-seekable body of known length), GETs it back whole and by a range in
// the middle, and checks that the Go heap of the process (client and
// gateway together) grows by less than 64 MiB while it does so.
func TestLargeObjectStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 300 MiB")
	}
	srv := gatewaytest.Start(t, gateway.Config{})
	spy := &putSpy{}
	c := client(srv.URL, spy)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const bucket, key = "large", "big/object.bin"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}

	// PUT: the body is generated on the fly and hashed as it is sent.
	hs, hm := sha256.New(), md5.New()
	body := onlyReader{io.TeeReader(newGen(bigSize), io.MultiWriter(hs, hm))}
	hw := watchHeap()
	start := time.Now()
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: body, ContentLength: aws.Int64(bigSize)},
		s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	putDur := time.Since(start)
	growth, base, peak := hw.done()
	if err != nil {
		t.Fatalf("PutObject 300 MiB: %v", err)
	}
	wantSHA, wantMD5 := hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hm.Sum(nil))
	t.Logf("PUT 300 MiB in %v (%.0f MB/s); heap in use: base %.1f MiB, peak %.1f MiB, growth %.1f MiB",
		putDur.Round(time.Millisecond), float64(bigSize)/1e6/putDur.Seconds(), mb(base), mb(peak), mb(growth))
	if growth >= heapLimit {
		t.Errorf("PUT of 300 MiB grew the heap by %.1f MiB (limit %d MiB): the body is being buffered", mb(growth), heapLimit/mib)
	}
	spy.mu.Lock()
	if want := fmt.Sprintf("UNSIGNED-PAYLOAD %d []", bigSize); len(spy.puts) != 2 || spy.puts[1] != want {
		t.Errorf("PUT requests on the wire: %q, want the bucket's and one %q", spy.puts, want)
	}
	spy.mu.Unlock()
	version := aws.ToString(out.VersionId)
	if version == "" {
		t.Errorf("PutObject answered without x-amz-version-id")
	}
	if e := strings.Trim(aws.ToString(out.ETag), `"`); e != wantMD5 {
		t.Errorf("PutObject ETag %s, want MD5 %s", e, wantMD5)
	}

	// GET at the version, streamed through SHA-256.
	hw = watchHeap()
	start = time.Now()
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	gs := sha256.New()
	n, err := io.Copy(gs, g.Body)
	g.Body.Close()
	getDur := time.Since(start)
	growth, base, peak = hw.done()
	if err != nil {
		t.Fatalf("reading GetObject body: %v (after %d bytes)", err, n)
	}
	t.Logf("GET 300 MiB in %v (%.0f MB/s); heap in use: base %.1f MiB, peak %.1f MiB, growth %.1f MiB",
		getDur.Round(time.Millisecond), float64(n)/1e6/getDur.Seconds(), mb(base), mb(peak), mb(growth))
	if n != bigSize {
		t.Errorf("GetObject returned %d bytes, want %d", n, bigSize)
	}
	if got := hex.EncodeToString(gs.Sum(nil)); got != wantSHA {
		t.Errorf("GetObject body SHA-256 %s, want %s", got, wantSHA)
	}
	if aws.ToInt64(g.ContentLength) != bigSize {
		t.Errorf("GetObject Content-Length %d, want %d", aws.ToInt64(g.ContentLength), bigSize)
	}
	if growth >= heapLimit {
		t.Errorf("GET of 300 MiB grew the heap by %.1f MiB (limit %d MiB)", mb(growth), heapLimit/mib)
	}

	// Range GET in the middle, across an AES block and a 1 MiB boundary.
	const rStart, rLen = 150*mib - 12345, mib + 777
	rg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", rStart, rStart+rLen-1))})
	if err != nil {
		t.Fatalf("GetObject Range: %v", err)
	}
	got, err := io.ReadAll(rg.Body)
	rg.Body.Close()
	if err != nil {
		t.Fatalf("reading range: %v", err)
	}
	want := make([]byte, rLen)
	newGen(bigSize).fill(want, rStart)
	if len(got) != rLen {
		t.Errorf("range GET returned %d bytes, want %d", len(got), rLen)
	} else if string(got) != string(want) {
		i := 0
		for i < rLen && got[i] == want[i] {
			i++
		}
		t.Errorf("range GET bytes differ from the object at offset %d of the range", i)
	}
	if cr, wantCR := aws.ToString(rg.ContentRange), fmt.Sprintf("bytes %d-%d/%d", rStart, rStart+rLen-1, bigSize); cr != wantCR {
		t.Errorf("Content-Range %q, want %q", cr, wantCR)
	}
	if aws.ToInt64(rg.ContentLength) != rLen {
		t.Errorf("range Content-Length %d, want %d", aws.ToInt64(rg.ContentLength), rLen)
	}
}

func mb(b uint64) float64 { return float64(b) / mib }
