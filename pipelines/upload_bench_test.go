package pipelines_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
)

// BenchmarkUpload compares a job whose one datum writes a tree of files
// with `tusk put` of the same tree to the same gateway, in the same run,
// and prints the ratio (the goal: at most 2x). It also reports the
// rise of this process's RSS (the in-process gateway; workers are other
// processes) over its idle value while the job runs (goal: 64 MiB at most,
// whatever the output size).
//
//   - 10k-small: 10,000 files of 100 bytes (TUSK_BENCH_UPLOAD_FILES);
//   - big+5k: one file of 512 MiB (TUSK_BENCH_UPLOAD_BIG_MIB) and 5,000
//     small files.
//
// `tusk put` is bin/tusk (make bench builds it), or one built here.
//
// The gateway gets serve's default soft memory limit (192 MiB) unless
// GOMEMLIMIT is set. TUSK_BENCH_TRACE prints the memory samples (RSS split
// into anonymous and file-backed pages, and the Go runtime's share).
//
//	go test -run '^$' -bench Upload -benchtime 1x ./pipelines/
func BenchmarkUpload(b *testing.B) {
	n, big := 10000, 512
	if v, err := strconv.Atoi(os.Getenv("TUSK_BENCH_UPLOAD_FILES")); err == nil {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("TUSK_BENCH_UPLOAD_BIG_MIB")); err == nil {
		big = v
	}
	tusk := tuskBinary(b)
	if os.Getenv("GOMEMLIMIT") == "" {
		// The gateway runs in this process: give it serve's default soft
		// memory limit (cmd/tusk/memlimit.go), as `tusk serve` has.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(192 << 20))
	}
	b.Run("10k-small", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			benchUpload(b, tusk, n, 0)
		}
	})
	b.Run("big+5k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			benchUpload(b, tusk, n/2, int64(big)<<20)
		}
	})
}

// tuskBinary returns bin/tusk, building one when it is missing.
func tuskBinary(b *testing.B) string {
	if p, err := filepath.Abs("../bin/tusk"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(b.TempDir(), "tusk")
	out, err := exec.Command("go", "build", "-o", p, "github.com/tusk-data/tusk/cmd/tusk").CombinedOutput()
	if err != nil {
		b.Fatalf("building tusk: %v\n%s", err, out)
	}
	return p
}

// makeTree writes n files of 100 bytes (in directories of 500) and, when
// big > 0, one file of big bytes under dir.
func makeTree(b *testing.B, dir string, n int, big int64) {
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/500))
		if i%500 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		body := bytes.Repeat([]byte{byte('a' + i%26)}, 99)
		body = append(body, '\n')
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d.txt", i)), body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if big > 0 {
		f, err := os.Create(filepath.Join(dir, "big.bin"))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		chunk := make([]byte, 1<<20)
		for off := int64(0); off < big; off += int64(len(chunk)) {
			for i := range chunk {
				chunk[i] = byte(off>>20) ^ byte(i*7)
			}
			if _, err := w.Write(chunk[:min(int64(len(chunk)), big-off)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchUpload(b *testing.B, tusk string, n int, big int64) {
	b.StopTimer()
	tree := filepath.Join(b.TempDir(), "tree")
	makeTree(b, tree, n, big)
	files := n
	if big > 0 {
		files++
	}
	cfg := gateway.Config{GCInterval: -1, Pipelines: gateway.PipelineConfig{Runner: testLocal(), WorkDir: b.TempDir()}}
	srv := gatewaytest.Start(b, cfg)
	ctx := context.Background()
	for _, r := range []string{"putrepo", "trig"} {
		if _, err := srv.Meta.CreateRepo(ctx, r, "bench"); err != nil {
			b.Fatal(err)
		}
	}

	// tusk put of the tree.
	put := exec.Command(tusk, "--endpoint", srv.URL, "put", tree, "putrepo@main:")
	put.Env = append(os.Environ(), "TUSK_ACCESS_KEY="+gatewaytest.AccessKey, "TUSK_SECRET_KEY="+gatewaytest.SecretKey,
		"XDG_CONFIG_HOME="+b.TempDir())
	putMem := sampleMem("put")
	start := time.Now()
	if out, err := put.CombinedOutput(); err != nil {
		b.Fatalf("tusk put: %v\n%s", err, out)
	}
	putTook := time.Since(start)
	putRise := putMem()

	// A pipeline whose one datum copies the tree to out/.
	spec, err := pipelines.Parse([]byte(`name: upout
input: {pfs: {repo: trig, glob: "/"}}
transform: {cmd: [cp, -R, ` + strconv.Quote(tree+"/.") + `, out/]}
`))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Pipelines.Create(ctx, spec, pipelines.CreateOptions{User: "bench"}); err != nil {
		b.Fatal(err)
	}
	if err := srv.Pipelines.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	jobMem := sampleMem("job")
	b.StartTimer()
	start = time.Now()
	info, err := srv.Blobs.Put(ctx, strings.NewReader("go\n"), blob.PutOptions{Size: 3})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Meta.Write(ctx, meta.WriteRequest{Repo: "trig", Branch: "main", Author: "bench",
		Changes: []meta.Change{{Key: "go", Entry: &meta.Entry{Content: info.Hash, Size: info.Size, ETag: hex.EncodeToString(info.MD5)}}}}); err != nil {
		b.Fatal(err)
	}
	if err := srv.Pipelines.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	jobTook := time.Since(start)
	b.StopTimer()
	jobRise := jobMem()
	jobs, err := srv.Pipelines.ListJobs(ctx, "upout", 1)
	if err != nil || len(jobs) == 0 {
		b.Fatal("no job", err)
	}
	if j := jobs[0]; j.State != pipelines.JobSuccess || j.Stats.Outputs != files {
		b.Fatalf("job %s: %s %s %+v %+v", j.ID, j.State, j.Reason, j.Stats, j.FailedDatums)
	}
	ratio := jobTook.Seconds() / putTook.Seconds()
	b.ReportMetric(putTook.Seconds(), "s/put")
	b.ReportMetric(jobTook.Seconds(), "s/job")
	b.ReportMetric(ratio, "job/put")
	b.ReportMetric(float64(jobRise.rss)/(1<<20), "MiB-RSS-rise")
	b.ReportMetric(float64(jobRise.live)/(1<<20), "MiB-live-heap-rise")
	b.Logf("%d files (%d MiB): tusk put %s, job %s: ratio %.2f (goal <= 2)", files, (int64(n)*100+big)>>20,
		putTook.Round(time.Millisecond), jobTook.Round(time.Millisecond), ratio)
	b.Logf("gateway memory over idle during tusk put: %s; during the job: %s (goal: RSS +64 MiB at most)", putRise, jobRise)
	srv.Stop()
}

// memRise is how far this process's memory rose over its idle value.
type memRise struct {
	idle, rss, live, heap int64 // idle RSS; peak rises of RSS and live heap; peak heap in use
	// anon, file: peak rises of anonymous and file-backed RSS (RssAnon,
	// RssFile: Badger's mmapped tables and value log count in the latter).
	anon, file int64
	// goRSS: peak rise of the Go runtime's resident memory (heap spans in
	// use or not yet returned, stacks, runtime structures: Sys minus
	// HeapReleased), the part of RssAnon that is Go's.
	goRSS int64
}

func (m memRise) String() string {
	return fmt.Sprintf("RSS +%d MiB (idle %d MiB; anon +%d, file +%d, Go runtime +%d), live heap +%d MiB, heap in use at most %d MiB",
		m.rss>>20, m.idle>>20, m.anon>>20, m.file>>20, m.goRSS>>20, m.live>>20, m.heap>>20)
}

// sampleMem frees what it can, takes the idle values and samples RSS and
// the heap every 100 ms until the returned func is called, which returns
// the peaks. TUSK_BENCH_TRACE prints every sample; TUSK_BENCH_HEAPPROFILE
// keeps a heap profile taken at the peak of heap in use, in
// <dir of the path>/<phase>-<base of the path>.
func sampleMem(phase string) func() memRise {
	debug.FreeOSMemory()
	idle, idleLive := rssBytes(), liveHeap()
	idleAnon, idleFile := procStatus("RssAnon:"), procStatus("RssFile:")
	idleGo := goResident()
	var m memRise
	m.idle = idle
	stop := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			rss, live := rssBytes(), liveHeap()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			anon, file := procStatus("RssAnon:"), procStatus("RssFile:")
			goRes := int64(ms.Sys - ms.HeapReleased)
			m.rss, m.live = max(m.rss, rss-idle), max(m.live, live-idleLive)
			m.anon, m.file, m.goRSS = max(m.anon, anon-idleAnon), max(m.file, file-idleFile), max(m.goRSS, goRes-idleGo)
			if os.Getenv("TUSK_BENCH_TRACE") != "" {
				fmt.Fprintf(os.Stderr, "%s %6.1fs rss %4d MiB (anon %4d file %4d go %4d) heap %4d MiB live %4d MiB\n", phase, time.Since(start).Seconds(),
					rss>>20, anon>>20, file>>20, goRes>>20, ms.HeapInuse>>20, live>>20)
			}
			if h := int64(ms.HeapInuse); h > m.heap {
				m.heap = h
				if p := os.Getenv("TUSK_BENCH_HEAPPROFILE"); p != "" {
					if f, err := os.Create(filepath.Join(filepath.Dir(p), phase+"-"+filepath.Base(p))); err == nil {
						pprof.Lookup("heap").WriteTo(f, 0)
						f.Close()
					}
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() memRise {
		close(stop)
		<-done
		return m
	}
}

// liveHeap is the Go heap the last GC found live.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// rssBytes is this process's resident set size (0 where /proc is absent).
func rssBytes() int64 { return procStatus("VmRSS:") }

// procStatus is the value of a kB field of /proc/self/status (VmRSS:,
// RssAnon:, RssFile:), in bytes; 0 where /proc is absent.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// goResident is the Go runtime's memory not returned to the OS.
func goResident() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys - ms.HeapReleased)
}
