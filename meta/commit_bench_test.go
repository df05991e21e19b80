package meta

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCommitConcurrent: b.N one-key commits from 32 concurrent
// writers to one branch of a 10k-key repo on Badger, each its own durable
// commit (group commit shares the syncs). It reports the process CPU per
// commit (the committer's work, the KV's and the fsyncs' system time) and
// how many commits one metadata sync covered.
func BenchmarkCommitConcurrent(b *testing.B) {
	ctx := context.Background()
	var syncs atomic.Int64
	s, err := Open(b.TempDir(), Options{OnSync: func() { syncs.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n, writers = 10000, 32
	seedRepo(b, s, "bench", n)
	var next atomic.Int64
	s0, c0 := syncs.Load(), cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if _, err := s.Write(ctx, WriteRequest{Repo: "bench", Branch: "main", Changes: []Change{{Key: fmt.Sprintf("data/%08d.bin", (i*7919)%n), Entry: &Entry{Content: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 4096, ETag: fmt.Sprint(i)}}}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/commit")
	b.ReportMetric(float64(b.N)/float64(max(syncs.Load()-s0, 1)), "commits/sync")
}
