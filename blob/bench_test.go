package blob_test

import (
	"context"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
)

const benchSize = 64 << 20

// counterReader streams n bytes that differ from one run to the next (an
// 8-byte run counter every 4 KiB), so that Store.Put never deduplicates,
// cheaply enough not to dominate the measurement.
type counterReader struct {
	left int64
	run  uint64
	pos  int64
}

func (r *counterReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	clear(p)
	for i := (4096 - r.pos%4096) % 4096; i+8 <= int64(len(p)); i += 4096 {
		binary.LittleEndian.PutUint64(p[i:], r.run)
	}
	r.pos += int64(len(p))
	r.left -= int64(len(p))
	return len(p), nil
}

func openDisk(b *testing.B) *disk.Driver {
	d, err := disk.Open(b.TempDir(), disk.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkStorePut64MiB measures Store.Put of a 64 MiB stream of unknown
// size over the disk driver: write, fsync, MD5 and SHA-256, move.
func BenchmarkStorePut64MiB(b *testing.B) {
	s := blob.New(openDisk(b))
	ctx := context.Background()
	b.SetBytes(benchSize)
	run := uint64(0)
	for b.Loop() {
		run++
		info, err := s.Put(ctx, &counterReader{left: benchSize, run: run}, blob.PutOptions{Size: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(ctx, info.Hash); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDiskPut64MiB is the same stream written by the disk driver
// alone, without hashing: the floor BenchmarkStorePut64MiB is compared to.
func BenchmarkDiskPut64MiB(b *testing.B) {
	d := openDisk(b)
	ctx := context.Background()
	b.SetBytes(benchSize)
	run := uint64(0)
	for b.Loop() {
		run++
		if err := d.Put(ctx, "bench", &counterReader{left: benchSize, run: run}, -1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiskGet64MiB measures reading a 64 MiB key back through the disk
// driver (from the page cache, after the first iteration).
func BenchmarkDiskGet64MiB(b *testing.B) {
	d := openDisk(b)
	ctx := context.Background()
	if err := d.Put(ctx, "bench", &counterReader{left: benchSize}, benchSize); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		rc, err := d.Get(ctx, "bench", 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != benchSize {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
}

// BenchmarkStorePut4KiB measures one Store.Put of a distinct 4 KiB body
// at a time over the disk driver (file and directory entries fsynced): the
// blob part of a 1-client small PUT's latency.
func BenchmarkStorePut4KiB(b *testing.B) {
	s := blob.New(openDisk(b))
	ctx := context.Background()
	run := uint64(0)
	c0 := cpuTime()
	for b.Loop() {
		run++
		if _, err := s.Put(ctx, &counterReader{left: 4 << 10, run: run}, blob.PutOptions{Size: 4 << 10}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/put")
}

// BenchmarkStorePut4KiB32Writers measures Store.Put of b.N distinct 4 KiB
// bodies from 32 concurrent writers over the disk driver (each durable:
// file and directory entries fsynced), and reports the process CPU and the
// directory fsyncs per Put.
func BenchmarkStorePut4KiB32Writers(b *testing.B) {
	var dirSyncs atomic.Int64
	d, err := disk.Open(b.TempDir(), disk.Options{OnSync: func(_ string, dir bool) {
		if dir {
			dirSyncs.Add(1)
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	s := blob.New(d)
	ctx := context.Background()
	var next atomic.Int64
	c0, s0 := cpuTime(), dirSyncs.Load()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if _, err := s.Put(ctx, &counterReader{left: 4 << 10, run: uint64(i)}, blob.PutOptions{Size: 4 << 10}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/put")
	b.ReportMetric(float64(dirSyncs.Load()-s0)/float64(b.N), "dir-fsyncs/put")
}

// cpuTime is the CPU (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
