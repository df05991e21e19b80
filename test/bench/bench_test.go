package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

const (
	smallSize       = 4 << 10
	concurrentPuts  = 5000
	concurrentConns = 32
	serialPuts      = 1000
	largeSize       = 64 << 20
	largeReps       = 3 // the 64 MiB figures are the median of this many runs
)

// row is one line of the final table.
type row struct {
	bench, metric string
	value         float64
	unit, how     string
}

var table struct {
	mu   sync.Mutex
	rows []row
}

// record reports a metric to the benchmark (under the unit "metric-unit",
// spaces as dashes, so that metrics of one unit do not replace each other)
// and keeps it for the table (replacing what an earlier run of the same
// benchmark recorded).
func record(b *testing.B, metric string, value float64, unit, how string) {
	b.ReportMetric(value, strings.ReplaceAll(metric+"-"+unit, " ", "-"))
	table.mu.Lock()
	defer table.mu.Unlock()
	r := row{b.Name(), metric, value, unit, how}
	for i := range table.rows {
		if table.rows[i].bench == r.bench && table.rows[i].metric == metric {
			table.rows[i] = r
			return
		}
	}
	table.rows = append(table.rows, r)
}

func TestMain(m *testing.M) {
	code := m.Run()
	table.mu.Lock()
	if len(table.rows) > 0 {
		var sb strings.Builder
		sb.WriteString("\n| benchmark | metric | value | unit | how |\n|---|---|---:|---|---|\n")
		for _, r := range table.rows {
			fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s |\n", r.bench, r.metric, format(r.value), r.unit, r.how)
		}
		fmt.Print(sb.String())
	}
	sidePrint(table.rows)
	table.mu.Unlock()
	os.Exit(code)
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// server starts an in-process gateway with a bucket and counts its
// metadata syncs.
func server(b *testing.B, bucket string) (*gatewaytest.Server, *s3.Client, *atomic.Int64) {
	syncs := &atomic.Int64{}
	srv := gatewaytest.Start(b, gateway.Config{OnMetaSync: func() { syncs.Add(1) }})
	c := client(srv.URL)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	return srv, c, syncs
}

// client is an aws-sdk-go-v2 client with SDK defaults for signing (the
// payload's real SHA-256 for seekable bodies) and checksums (CRC32 header),
// and a connection pool large enough for every concurrent client.
func client(url string) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(gatewaytest.AccessKey, gatewaytest.SecretKey, ""),
		RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
			MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}},
	})
}

// smallBodies returns n distinct random 4 KiB bodies.
func smallBodies(n int) [][]byte {
	rng := rand.NewChaCha8([32]byte{'t', 'u', 's', 'k'})
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, smallSize)
		rng.Read(out[i])
	}
	return out
}

func put(ctx context.Context, c *s3.Client, bucket, key string, body []byte) error {
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err == nil && aws.ToString(out.VersionId) == "" {
		err = fmt.Errorf("no version id")
	}
	return err
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkPut4KiB32Clients: 5000 PutObjects of 4 KiB from 32 concurrent
// clients to one branch; each is its own commit (group commit shares
// syncs).
func BenchmarkPut4KiB32Clients(b *testing.B) {
	const bucket = "bench-concurrent"
	_, c, syncs := server(b, bucket)
	ctx := context.Background()
	bodies := smallBodies(concurrentPuts)
	for run := 0; run < b.N; run++ {
		s0 := syncs.Load()
		b.ResetTimer()
		el, lat, err := parallel(concurrentPuts, concurrentConns, func(i int) error {
			return put(ctx, c, bucket, fmt.Sprintf("run%d/%05d", run, i), bodies[i])
		})
		b.StopTimer()
		if err != nil {
			b.Fatalf("PutObject: %v", err)
		}
		n := syncs.Load() - s0
		how := fmt.Sprintf("%d PUTs, 32 clients, SigV4 signed payload + CRC32", concurrentPuts)
		record(b, "throughput", concurrentPuts/el.Seconds(), "puts/s", how)
		record(b, "latency p50", ms(percentile(lat, 0.50)), "ms", how)
		record(b, "latency p99", ms(percentile(lat, 0.99)), "ms", how)
		record(b, "commits per metadata sync", float64(concurrentPuts)/float64(max(n, 1)), "commits/sync", fmt.Sprintf("%d syncs for %d commits", n, concurrentPuts))
	}
}

// BenchmarkPut4KiB1Client: 1000 PutObjects of 4 KiB one after the other:
// the latency of one durable commit.
func BenchmarkPut4KiB1Client(b *testing.B) {
	const bucket = "bench-serial"
	_, c, _ := server(b, bucket)
	ctx := context.Background()
	bodies := smallBodies(serialPuts)
	for run := 0; run < b.N; run++ {
		lat := make([]time.Duration, serialPuts)
		b.ResetTimer()
		start := time.Now()
		for i := range serialPuts {
			t0 := time.Now()
			if err := put(ctx, c, bucket, fmt.Sprintf("run%d/%05d", run, i), bodies[i]); err != nil {
				b.Fatalf("PutObject: %v", err)
			}
			lat[i] = time.Since(t0)
		}
		el := time.Since(start)
		b.StopTimer()
		how := fmt.Sprintf("%d PUTs, 1 client, SigV4 signed payload + CRC32", serialPuts)
		record(b, "latency p50", ms(percentile(lat, 0.50)), "ms", how)
		record(b, "latency p99", ms(percentile(lat, 0.99)), "ms", how)
		record(b, "throughput", serialPuts/el.Seconds(), "puts/s", how)
	}
}

// onlyReader hides Seek so the SDK streams the body (UNSIGNED-PAYLOAD).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// stamp makes buf's content unique to run (8 bytes every MiB), so that no
// PUT is deduplicated against an earlier one.
func stamp(buf []byte, run int) {
	for off := 0; off+8 <= len(buf); off += 1 << 20 {
		copy(buf[off:], fmt.Sprintf("%08d", run))
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func mbps(n int, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// BenchmarkLarge64MiB: a 64 MiB PutObject and GetObject through the
// gateway (UNSIGNED-PAYLOAD, streamed body), next to the same 64 MiB
// written with blob.Store.Put and read with blob.Store.Open over the disk
// driver directly, in the same run on the same file system.
func BenchmarkLarge64MiB(b *testing.B) {
	const bucket = "bench-large"
	_, c, _ := server(b, bucket)
	ctx := context.Background()
	buf := make([]byte, largeSize)
	rand.NewChaCha8([32]byte{'b', 'i', 'g'}).Read(buf)

	d, err := disk.Open(filepath.Join(b.TempDir(), "blobs"), disk.Options{})
	if err != nil {
		b.Fatal(err)
	}
	direct := blob.New(d)

	for run := 0; run < b.N; run++ {
		b.ResetTimer()
		var gwPut, gwGet, dPut, dGet []float64
		for rep := 0; rep < largeReps; rep++ {
			// Gateway.
			stamp(buf, 2*(run*largeReps+rep))
			key := fmt.Sprintf("run%d/big-%d", run, rep)
			t0 := time.Now()
			out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				Body: onlyReader{bytes.NewReader(buf)}, ContentLength: aws.Int64(largeSize)},
				s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware),
				func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
			if err != nil {
				b.Fatalf("PutObject 64 MiB: %v", err)
			}
			gwPut = append(gwPut, mbps(largeSize, time.Since(t0)))
			t0 = time.Now()
			g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: out.VersionId})
			if err != nil {
				b.Fatalf("GetObject 64 MiB: %v", err)
			}
			n, err := io.Copy(io.Discard, g.Body)
			g.Body.Close()
			if err != nil || n != largeSize {
				b.Fatalf("GetObject 64 MiB: %d bytes, %v", n, err)
			}
			gwGet = append(gwGet, mbps(largeSize, time.Since(t0)))

			// Disk driver directly, through blob.Store (same hashing).
			stamp(buf, 2*(run*largeReps+rep)+1)
			t0 = time.Now()
			info, err := direct.Put(ctx, bytes.NewReader(buf), blob.PutOptions{Size: largeSize})
			if err != nil {
				b.Fatalf("blob.Store.Put 64 MiB: %v", err)
			}
			dPut = append(dPut, mbps(largeSize, time.Since(t0)))
			t0 = time.Now()
			rc, err := direct.Open(ctx, info.Hash, 0, -1)
			if err != nil {
				b.Fatal(err)
			}
			n, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != largeSize {
				b.Fatalf("blob.Store.Open 64 MiB: %d bytes, %v", n, err)
			}
			dGet = append(dGet, mbps(largeSize, time.Since(t0)))
		}
		b.StopTimer()
		how := fmt.Sprintf("median of %d; gateway: aws-sdk-go-v2 PutObject UNSIGNED-PAYLOAD, no checksum, streamed; GET at version", largeReps)
		direct := fmt.Sprintf("median of %d; blob.Store.Put/Open over blob/disk, same run, same file system", largeReps)
		record(b, "gateway PUT", median(gwPut), "MB/s", how)
		record(b, "direct disk Put", median(dPut), "MB/s", direct)
		record(b, "PUT ratio gateway/direct", median(gwPut)/median(dPut), "x", "")
		record(b, "gateway GET", median(gwGet), "MB/s", how)
		record(b, "direct disk Get", median(dGet), "MB/s", direct)
		record(b, "GET ratio gateway/direct", median(gwGet)/median(dGet), "x", "")
	}
}
