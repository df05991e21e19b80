package bench

// Multipart upload benchmark (issue 3). Every identifier of this file
// starts with "mp": the rest of package bench belongs to other work.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

const (
	mpDefaultSize = 5 << 30 // TUSK_BENCH_MP_BYTES overrides (for quick runs)
	mpPartSize    = 16 << 20
	mpConcurrency = 4
	mpRSSGoal     = 64 << 20
)

// mpSize is the object size: 5 GiB unless TUSK_BENCH_MP_BYTES says.
func mpSize(b *testing.B) int64 {
	if v := os.Getenv("TUSK_BENCH_MP_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < mpPartSize {
			b.Fatalf("TUSK_BENCH_MP_BYTES=%q: want a size of at least %d", v, mpPartSize)
		}
		return n
	}
	return mpDefaultSize
}

// mpBuild builds the tusk binary for this run.
func mpBuild(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "tusk")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tusk-data/tusk/cmd/tusk")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build tusk: %v\n%s", err, out)
	}
	return bin
}

// mpServer is `tusk serve` running as a subprocess.
type mpServer struct {
	cmd  *exec.Cmd
	url  string
	data string
	done chan struct{}
}

func mpStart(b *testing.B, bin string) *mpServer {
	return mpStartIn(b, bin, filepath.Join(b.TempDir(), "data"))
}

// mpStartIn starts `tusk serve` on data (an existing data directory, or
// one it creates).
func mpStartIn(b *testing.B, bin, data string) *mpServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(b.TempDir(), "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", data, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "TUSK_ACCESS_KEY="+gatewaytest.AccessKey, "TUSK_SECRET_KEY="+gatewaytest.SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &mpServer{cmd: cmd, url: "http://" + addr, data: data, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(s.done) }()
	b.Cleanup(s.stop)
	// The server process tells of being ready only by answering: poll it.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-s.done:
			b.Fatalf("tusk serve exited at start-up; see %s", logf.Name())
		default:
		}
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
	}
	b.Fatal("tusk serve did not become healthy in 30s")
	return nil
}

func (s *mpServer) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// mpStatus reads VmRSS and VmHWM (bytes) of pid.
func mpStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, sc.Err()
}

// mpSampler samples a process's VmRSS until stopped and keeps the maximum.
type mpSampler struct {
	max  atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func mpSample(pid int) *mpSampler {
	s := &mpSampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := mpStatus(pid); err == nil && rss > s.max.Load() {
				s.max.Store(rss)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *mpSampler) end() int64 { close(s.stop); s.wg.Wait(); return s.max.Load() }

// mpParts hands out the parts of the object: a random 16 MiB base, stamped
// with the run and part number every MiB so that no part deduplicates
// against another.
type mpParts struct {
	base []byte
	pool sync.Pool
}

func mpNewParts() *mpParts {
	p := &mpParts{base: make([]byte, mpPartSize)}
	rand.NewChaCha8([32]byte{'m', 'p', 'b', 'e', 'n', 'c', 'h'}).Read(p.base)
	p.pool.New = func() any { b := make([]byte, mpPartSize); return &b }
	return p
}

// part fills a pooled buffer with part n (1-based) of an object of size.
func (p *mpParts) part(run, n int, size int64) *[]byte {
	bp := p.pool.Get().(*[]byte)
	l := min(int64(mpPartSize), size-int64(n-1)*mpPartSize)
	*bp = (*bp)[:l]
	copy(*bp, p.base)
	for off := 0; off+16 <= len(*bp); off += 1 << 20 {
		copy((*bp)[off:], fmt.Sprintf("%06d/%09d", run, n))
	}
	return bp
}

func mpCount(size int64) int { return int((size + mpPartSize - 1) / mpPartSize) }

// mpParallel runs fn for parts 1..n on mpConcurrency workers; the first
// error stops it.
func mpParallel(n int, fn func(part int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < mpConcurrency; w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// BenchmarkMpUpload5GiB: a 5 GiB multipart upload (16 MiB parts, 4 in
// parallel, aws-sdk-go-v2 with UNSIGNED-PAYLOAD and no checksum so the
// client stays cheap on this 2-core machine) through `tusk serve` run as a
// subprocess, whose RSS is sampled from /proc: the rise of its peak above
// its idle RSS is the figure to keep under 64 MiB. Next to it, the same
// parts written with blob.Store.Put over blob/disk directly and composed
// with blob.Store.Compose, in the same run on the same file system.
func BenchmarkMpUpload5GiB(b *testing.B) {
	size := mpSize(b)
	bin := mpBuild(b)
	parts := mpNewParts()
	nparts := mpCount(size)
	ctx := context.Background()
	for run := 0; run < b.N; run++ {
		b.StopTimer()
		srv := mpStart(b, bin)
		c := client(srv.url)
		bucket := fmt.Sprintf("mpbench%d", run)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			b.Fatal(err)
		}
		pid := srv.cmd.Process.Pid
		time.Sleep(2 * time.Second) // let start-up garbage be collected
		idle, _, err := mpStatus(pid)
		if err != nil {
			b.Fatal(err)
		}
		// Reset VmHWM to the current RSS (Linux clear_refs "5").
		hwmReset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
		sampler := mpSample(pid)
		unsigned := s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		noSum := func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired }

		b.StartTimer()
		t0 := time.Now()
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("big")}, noSum)
		if err != nil {
			b.Fatal(err)
		}
		done := make([]types.CompletedPart, nparts)
		err = mpParallel(nparts, func(n int) error {
			bp := parts.part(run, n, size)
			defer parts.pool.Put(bp)
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("big"), UploadId: cr.UploadId,
				PartNumber: aws.Int32(int32(n)), Body: onlyReader{bytes.NewReader(*bp)}, ContentLength: aws.Int64(int64(len(*bp)))}, unsigned, noSum)
			if err != nil {
				return fmt.Errorf("UploadPart %d: %w", n, err)
			}
			done[n-1] = types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: out.ETag}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		tParts := time.Since(t0)
		t1 := time.Now()
		res, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("big"),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}, noSum)
		if err != nil {
			b.Fatal(err)
		}
		tComplete := time.Since(t1)
		el := time.Since(t0)
		b.StopTimer()
		peakSampled := sampler.end()
		_, hwm, err := mpStatus(pid)
		if err != nil {
			b.Fatal(err)
		}
		peak := peakSampled
		if hwmReset && hwm > peak {
			peak = hwm
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("big"), PartNumber: aws.Int32(1)})
		if err != nil || aws.ToInt32(h.PartsCount) != int32(nparts) || !strings.HasSuffix(aws.ToString(res.ETag), fmt.Sprintf("-%d\"", nparts)) {
			b.Fatalf("uploaded object: %+v %v (ETag %s)", h, err, aws.ToString(res.ETag))
		}
		srv.stop()
		os.RemoveAll(srv.data)

		// The backing store directly: the same parts through blob.Store.
		d, err := disk.Open(filepath.Join(b.TempDir(), "direct"), disk.Options{})
		if err != nil {
			b.Fatal(err)
		}
		direct := blob.New(d)
		hashes := make([]string, nparts)
		sizes := make([]int64, nparts)
		runtime.GC()
		t0 = time.Now()
		err = mpParallel(nparts, func(n int) error {
			bp := parts.part(run+1000, n, size)
			defer parts.pool.Put(bp)
			info, err := direct.Put(ctx, bytes.NewReader(*bp), blob.PutOptions{Size: int64(len(*bp))})
			hashes[n-1], sizes[n-1] = info.Hash, info.Size
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		dParts := time.Since(t0)
		t1 = time.Now()
		if _, err := direct.Compose(ctx, hashes, sizes); err != nil {
			b.Fatal(err)
		}
		dCompose := time.Since(t1)
		dEl := time.Since(t0)
		os.RemoveAll(d.Root())

		gib := float64(size) / (1 << 30)
		how := fmt.Sprintf("%.2f GiB, %d parts of 16 MiB, %d in parallel; aws-sdk-go-v2 UNSIGNED-PAYLOAD, no checksum; tusk serve subprocess, disk backend",
			gib, nparts, mpConcurrency)
		dhow := fmt.Sprintf("same parts: blob.Store.Put x%d in parallel + blob.Store.Compose over blob/disk, same file system", mpConcurrency)
		record(b, "gateway multipart upload", mbps64(size, el), "MB/s", how+" (create + parts + complete)")
		record(b, "gateway parts only", mbps64(size, tParts), "MB/s", how)
		record(b, "gateway complete (compose + commit)", ms(tComplete), "ms", "CompleteMultipartUpload latency")
		record(b, "direct blob.Store upload", mbps64(size, dEl), "MB/s", dhow)
		record(b, "direct parts only", mbps64(size, dParts), "MB/s", dhow)
		record(b, "direct compose", ms(dCompose), "ms", "blob.Store.Compose over blob/disk")
		record(b, "upload ratio gateway/direct", dEl.Seconds()/el.Seconds(), "x", "")
		record(b, "server idle RSS", float64(idle)/(1<<20), "MiB", "VmRSS after start-up and CreateBucket")
		record(b, "server peak RSS rise", float64(peak-idle)/(1<<20), "MiB",
			fmt.Sprintf("max(VmRSS sampled every 20 ms, VmHWM after clear_refs=%v) - idle; goal < %d MiB", hwmReset, mpRSSGoal>>20))
		if peak-idle >= mpRSSGoal {
			b.Errorf("server peak RSS rose %.1f MiB above idle, goal < %d MiB", float64(peak-idle)/(1<<20), mpRSSGoal>>20)
		}
	}
}

func mbps64(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }
