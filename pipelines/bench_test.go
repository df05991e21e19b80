package pipelines_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
)

// BenchmarkJob10kDatums runs a job of 10,000 tiny datums (glob /*, one
// small file each) through the local runner (`tusk worker` processes,
// parallelism 4) and reports datums/s, then changes one input and reports
// what the next job (1 processed, 9,999 skipped) costs, end to end.
//
//   - no-outputs: the command is `true` (the datum machinery alone:
//     staging through S3, the command, results, provenance bookkeeping);
//   - one-output-each: the command copies its file to out/, so the job's
//     output commit changes one key per datum (10,000 keys in one commit:
//     meta writes such a commit's tree nodes over several Badger
//     transactions).
//
// TUSK_BENCH_DATUMS and TUSK_BENCH_OUTPUT_DATUMS set the counts.
//
//	go test -run '^$' -bench Job10k -benchtime 1x ./pipelines/
func BenchmarkJob10kDatums(b *testing.B) {
	n, nOut := 10000, 10000
	if v, err := strconv.Atoi(os.Getenv("TUSK_BENCH_DATUMS")); err == nil {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("TUSK_BENCH_OUTPUT_DATUMS")); err == nil {
		nOut = v
	}
	b.Run("no-outputs", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			benchJob(b, n, `["true"]`)
		}
	})
	b.Run("one-output-each", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			benchJob(b, nOut, `[cp, -R, tiny/., out/]`)
		}
	})
}

func benchJob(b *testing.B, n int, cmd string) {
	b.StopTimer()
	cfg := gateway.Config{GCInterval: -1, Pipelines: gateway.PipelineConfig{Runner: testLocal(), WorkDir: b.TempDir()}}
	if os.Getenv("TUSK_BENCH_LOG") != "" {
		cfg.Log = zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	}
	srv := gatewaytest.Start(b, cfg)
	ctx := context.Background()
	if _, err := srv.Meta.CreateRepo(ctx, "tiny", "bench"); err != nil {
		b.Fatal(err)
	}
	// n keys (the blobs through the blob store, as a PUT would).
	var cs []meta.Change
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("datum %d\n", i)
		info, err := srv.Blobs.Put(ctx, strings.NewReader(body), blob.PutOptions{Size: int64(len(body))})
		if err != nil {
			b.Fatal(err)
		}
		cs = append(cs, meta.Change{Key: fmt.Sprintf("d%05d.txt", i),
			Entry: &meta.Entry{Content: info.Hash, Size: info.Size, ETag: hex.EncodeToString(info.MD5)}})
	}
	for len(cs) > 0 { // commits of 2000 keys (one transaction each)
		k := min(len(cs), 2000)
		if _, err := srv.Meta.Write(ctx, meta.WriteRequest{Repo: "tiny", Branch: "main", Author: "bench", Changes: cs[:k]}); err != nil {
			b.Fatal(err)
		}
		cs = cs[k:]
	}
	spec, err := pipelines.Parse([]byte(`name: tinyout
input: {pfs: {repo: tiny, glob: "/*"}}
transform: {cmd: ` + cmd + `}
parallelism: 4
`))
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	start := time.Now()
	if _, err := srv.Pipelines.Create(ctx, spec, pipelines.CreateOptions{User: "bench"}); err != nil {
		b.Fatal(err)
	}
	j := waitJob(b, srv)
	took := time.Since(start)
	b.StopTimer()
	if j.State != pipelines.JobSuccess || j.Stats.Processed != n {
		b.Fatalf("job %s: %s %+v", j.ID, j.Reason, j.Stats)
	}
	b.ReportMetric(float64(n)/took.Seconds(), "datums/s")
	b.Logf("%d datums processed in %s: %.0f datums/s", n, took.Round(time.Millisecond), float64(n)/took.Seconds())

	// One input changes: the job processes 1 datum and skips the others.
	body := "changed\n"
	info, err := srv.Blobs.Put(ctx, strings.NewReader(body), blob.PutOptions{Size: int64(len(body))})
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	if _, err := srv.Meta.Write(ctx, meta.WriteRequest{Repo: "tiny", Branch: "main", Author: "bench",
		Changes: []meta.Change{{Key: "d00042.txt", Entry: &meta.Entry{Content: info.Hash, Size: info.Size, ETag: hex.EncodeToString(info.MD5)}}}}); err != nil {
		b.Fatal(err)
	}
	j2 := waitJob(b, srv)
	skip := time.Since(start)
	if j2.ID == j.ID || j2.State != pipelines.JobSuccess || j2.Stats.Processed != 1 || j2.Stats.Skipped != n-1 {
		b.Fatalf("job %s: %s %+v", j2.ID, j2.Reason, j2.Stats)
	}
	b.ReportMetric(float64(skip.Microseconds())/1000, "ms/1-changed-job")
	b.Logf("1 changed of %d: the job took %s end to end (%s from start to output commit)", n,
		skip.Round(time.Millisecond), j2.Finished.Sub(j2.Started).Round(time.Millisecond))
	srv.Stop()
}

func waitJob(b *testing.B, srv *gatewaytest.Server) *pipelines.Job {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := srv.Pipelines.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	jobs, err := srv.Pipelines.ListJobs(ctx, "tinyout", 1)
	if err != nil || len(jobs) == 0 {
		b.Fatal("no job", err)
	}
	return jobs[0]
}
