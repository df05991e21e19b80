package bench

// Side-by-side benchmark (issue 12): the same load generator against a Tusk
// gateway and against versitygw in one `go test -bench` run, one table with
// the ratio per row, also written as JSON. Every identifier of this file
// starts with "side".

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

const (
	sideSmallPuts = 5000 // PUT 4 KiB x32, then GET them back x32
	sideGetRounds = 2    // each of the sideSmallPuts objects is read this many times
	sideSerial    = 1000 // PUT 4 KiB, 1 client
	sideBigSize   = 256 << 20
	sideBigReps   = 3 // the 256 MiB figures are the median of this many
)

// sideRow is one line of the side-by-side table.
type sideRow struct {
	Metric    string  `json:"metric"`
	Unit      string  `json:"unit"`
	Better    string  `json:"better"` // "higher" or "lower"
	Tusk      float64 `json:"tusk"`
	Versitygw float64 `json:"versitygw"`
	Ratio     float64 `json:"ratio"` // Tusk / versitygw
	Goal      string  `json:"goal,omitempty"`
	Met       *bool   `json:"goal_met,omitempty"`
	How       string  `json:"how"`
}

var sideResult struct {
	mu    sync.Mutex
	rows  []sideRow
	notes []string
}

// sideFigures are one target's numbers.
type sideFigures struct {
	putRate, putP50, putP99 float64 // PUT 4 KiB x32
	putCPU                  float64 // server CPU ms per PUT of the x32 phase
	serialP50, serialP99    float64 // PUT 4 KiB x1
	getRate                 float64 // GET 4 KiB x32
	bigPut, bigGet          float64 // 256 MiB, MB/s
}

// sideVersioned: TUSK_BENCH_VGW_VERSIONING=1 runs versitygw with a
// versioning directory and versioning enabled on the bucket (default: its
// plain posix defaults, unversioned).
func sideVersioned() bool { return os.Getenv("TUSK_BENCH_VGW_VERSIONING") == "1" }

// sideVersitygw starts versitygw (scripts/install-versitygw.sh) with a posix
// backend on a fresh temporary directory (the same file system as Tusk's
// data directory) and the same root keys as the Tusk gateway. The returned
// function stops it.
func sideVersitygw(b *testing.B) (string, int, func()) {
	bin := os.Getenv("TUSK_VERSITYGW")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "tusk-test", "versitygw-v1.8.0", "versitygw")
	}
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("versitygw not found at %s (%v): run scripts/install-versitygw.sh", bin, err)
		return "", 0, nil
	}
	dir := filepath.Join(b.TempDir(), "vgw")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(b.TempDir(), "versitygw.log"))
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"--access", gatewaytest.AccessKey, "--secret", gatewaytest.SecretKey,
		"--port", addr, "--quiet", "posix"}
	if sideVersioned() {
		vdir := filepath.Join(b.TempDir(), "vgw-versions")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			b.Fatal(err)
		}
		args = append(args, "--versioning-dir", vdir)
	}
	cmd := exec.Command(bin, append(args, dir)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	stop := func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	b.Cleanup(stop)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			b.Fatalf("versitygw exited at start-up; see %s", logf.Name())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			return "http://" + addr, cmd.Process.Pid, stop
		}
	}
	b.Fatalf("versitygw did not start on %s", addr)
	return "", 0, nil
}

// sidePut is one 4 KiB PutObject (SDK defaults: signed payload + CRC32);
// a versioning target must return a version id.
func sidePut(ctx context.Context, c *s3.Client, bucket, key string, body []byte, versioned bool) error {
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err == nil && versioned && aws.ToString(out.VersionId) == "" {
		err = errors.New("no version id")
	}
	return err
}

// parallel runs op(i) for i in [0, n) on conns workers and returns the
// wall time and each op's latency.
func parallel(n, conns int, op func(i int) error) (time.Duration, []time.Duration, error) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var first error
	var once sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					once.Do(func() { first = err })
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat, first
}

// sideRun runs the whole workload against one S3 endpoint.
func sideRun(b *testing.B, name, url string, pid int, versioned bool, small [][]byte, big []byte, stampBase int) sideFigures {
	ctx := context.Background()
	c := client(url)
	bucket := "side-bench"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatalf("%s: CreateBucket: %v", name, err)
	}
	if name == "versitygw" && versioned {
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			b.Fatalf("%s: PutBucketVersioning: %v", name, err)
		}
	}
	var f sideFigures

	// PUT 4 KiB x32.
	key := func(i int) string { return fmt.Sprintf("small/%05d", i) }
	cpu0 := sideCPU(b, pid)
	el, lat, err := parallel(sideSmallPuts, concurrentConns, func(i int) error {
		return sidePut(ctx, c, bucket, key(i), small[i], versioned)
	})
	if err != nil {
		b.Fatalf("%s: PUT 4 KiB x32: %v", name, err)
	}
	f.putCPU = float64(sideCPU(b, pid)-cpu0) / float64(time.Millisecond) / sideSmallPuts
	f.putRate = sideSmallPuts / el.Seconds()
	f.putP50, f.putP99 = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99))

	// PUT 4 KiB, 1 client (bodies not used by the x32 phase).
	el, lat, err = parallel(sideSerial, 1, func(i int) error {
		return sidePut(ctx, c, bucket, fmt.Sprintf("serial/%05d", i), small[sideSmallPuts+i], versioned)
	})
	if err != nil {
		b.Fatalf("%s: PUT 4 KiB x1: %v", name, err)
	}
	_ = el
	f.serialP50, f.serialP99 = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99))

	// GET 4 KiB x32: the x32 phase's objects (latest version), each
	// sideGetRounds times, bodies checked.
	n := sideSmallPuts * sideGetRounds
	el, _, err = parallel(n, concurrentConns, func(i int) error {
		i %= sideSmallPuts
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i))})
		if err != nil {
			return err
		}
		defer g.Body.Close()
		got, err := io.ReadAll(g.Body)
		if err == nil && !bytes.Equal(got, small[i]) {
			err = fmt.Errorf("GET %s: wrong body (%d bytes)", key(i), len(got))
		}
		return err
	})
	if err != nil {
		b.Fatalf("%s: GET 4 KiB x32: %v", name, err)
	}
	f.getRate = float64(n) / el.Seconds()

	// 256 MiB PUT (UNSIGNED-PAYLOAD, streamed, no checksum) and GET.
	var puts, gets []float64
	for rep := range sideBigReps {
		stamp(big, stampBase+rep)
		k := fmt.Sprintf("big/%d", rep)
		t0 := time.Now()
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k),
			Body: onlyReader{bytes.NewReader(big)}, ContentLength: aws.Int64(sideBigSize)},
			s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware),
			func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
		if err != nil {
			b.Fatalf("%s: PutObject 256 MiB: %v", name, err)
		}
		puts = append(puts, mbps(sideBigSize, time.Since(t0)))
		t0 = time.Now()
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			b.Fatalf("%s: GetObject 256 MiB: %v", name, err)
		}
		n, err := io.Copy(io.Discard, g.Body)
		g.Body.Close()
		if err != nil || n != sideBigSize {
			b.Fatalf("%s: GetObject 256 MiB: %d bytes, %v", name, n, err)
		}
		gets = append(gets, mbps(sideBigSize, time.Since(t0)))
	}
	f.bigPut, f.bigGet = median(puts), median(gets)
	return f
}

// BenchmarkSideBySide: Tusk (`tusk serve`, built for this run, as a
// subprocess) and versitygw (posix backend) as a subprocess, one after the
// other, each on a fresh directory under the same temporary directory, with
// the same load generator: same SigV4 client, same object sizes and bodies
// (every PUT's bytes unique within a target), same concurrency. Reports,
// does not assert: the goals are in the table's goal column.
func BenchmarkSideBySide(b *testing.B) {
	bin := mpBuild(b)
	small := smallBodies(sideSmallPuts + sideSerial)
	big := make([]byte, sideBigSize)
	rand.NewChaCha8([32]byte{'s', 'i', 'd', 'e'}).Read(big)
	for run := 0; run < b.N; run++ {
		b.ResetTimer()
		// Tusk first, stopped before versitygw starts, so that neither's
		// background work overlaps the other's measurements.
		srv := mpStart(b, bin)
		tusk := sideRun(b, "tusk", srv.url, srv.cmd.Process.Pid, true, small, big, 1000*run)
		srv.stop()
		url, vpid, stop := sideVersitygw(b)
		vgw := sideRun(b, "versitygw", url, vpid, sideVersioned(), small, big, 1000*run+500)
		stop()
		b.StopTimer()
		sideReport(b, tusk, vgw)
	}
}

func sideReport(b *testing.B, t, v sideFigures) {
	const small = "5000 PUTs of 4 KiB (distinct bodies), 32 clients, SigV4 signed payload + CRC32"
	const serial = "1000 PUTs of 4 KiB, 1 client, SigV4 signed payload + CRC32"
	get := fmt.Sprintf("%d GETs of the x32 phase's 4 KiB objects (latest), 32 clients, bodies checked", sideSmallPuts*sideGetRounds)
	big := fmt.Sprintf("median of %d; 256 MiB, 1 client, UNSIGNED-PAYLOAD, streamed, no checksum", sideBigReps)
	ratioGoal := func(r float64, goal float64) (string, *bool) {
		ok := r >= goal
		return fmt.Sprintf(">= %.1fx versitygw", goal), &ok
	}
	var rows []sideRow
	add := func(metric, unit, better string, tv, vv float64, goal string, met *bool, how string) {
		rows = append(rows, sideRow{Metric: metric, Unit: unit, Better: better, Tusk: tv, Versitygw: vv,
			Ratio: tv / vv, Goal: goal, Met: met, How: how})
	}
	g, m := ratioGoal(t.putRate/v.putRate, 1.0)
	add("PUT 4 KiB x32 rate", "puts/s", "higher", t.putRate, v.putRate, g, m, small)
	add("PUT 4 KiB x32 p50", "ms", "lower", t.putP50, v.putP50, "", nil, small)
	add("PUT 4 KiB x32 p99", "ms", "lower", t.putP99, v.putP99, "", nil, small)
	cpuOK := t.putCPU <= 0.5
	add("server CPU per PUT x32", "ms", "lower", t.putCPU, v.putCPU, "Tusk <= 0.5 ms", &cpuOK,
		"user + system CPU of the server process over the x32 phase (/proc/PID/stat), divided by its PUTs")
	ok := t.serialP50 <= 1.5
	add("PUT 4 KiB x1 p50", "ms", "lower", t.serialP50, v.serialP50, "Tusk <= 1.5 ms", &ok, serial)
	add("PUT 4 KiB x1 p99", "ms", "lower", t.serialP99, v.serialP99, "", nil, serial)
	g, m = ratioGoal(t.getRate/v.getRate, 2.0)
	add("GET 4 KiB x32 rate", "gets/s", "higher", t.getRate, v.getRate, g, m, get)
	g, m = ratioGoal(t.bigPut/v.bigPut, 1.0)
	add("PUT 256 MiB", "MB/s", "higher", t.bigPut, v.bigPut, g, m, big)
	g, m = ratioGoal(t.bigGet/v.bigGet, 1.5)
	add("GET 256 MiB", "MB/s", "higher", t.bigGet, v.bigGet, g, m, big)

	for _, r := range rows {
		b.ReportMetric(r.Tusk, strings.ReplaceAll("tusk "+r.Metric+"-"+r.Unit, " ", "-"))
		b.ReportMetric(r.Versitygw, strings.ReplaceAll("vgw "+r.Metric+"-"+r.Unit, " ", "-"))
	}
	sideResult.mu.Lock()
	defer sideResult.mu.Unlock()
	sideResult.rows = rows
	vmode := "its defaults: no --versioning-dir, so unversioned (TUSK_BENCH_VGW_VERSIONING=1 enables versioning)"
	if sideVersioned() {
		vmode = "--versioning-dir and bucket versioning enabled (TUSK_BENCH_VGW_VERSIONING=1)"
	}
	sideResult.notes = []string{
		"ratio = Tusk / versitygw; for the ms rows lower is better, so a ratio below 1 favours Tusk",
		"Tusk: `tusk serve` subprocess (every PUT a versioned, durable commit); versitygw v1.8.0: `versitygw posix` subprocess, " + vmode,
		"versitygw posix does not fsync/fdatasync on PutObject (O_TMPFILE + linkat; seen with strace on v1.8.0): its PUT figures are not durable ones",
		"both on fresh directories under the same temporary directory (same disk), one after the other, never at once",
		fmt.Sprintf("load generator in the test process: aws-sdk-go-v2, GOMAXPROCS=%d, %d CPUs", runtime.GOMAXPROCS(0), runtime.NumCPU()),
		"goals are reported, not asserted",
	}
}

// sidePrint prints the side-by-side table (if BenchmarkSideBySide ran) and
// writes it, with the other benchmarks' rows, as JSON to $TUSK_BENCH_JSON
// or else bin/bench.json at the module root. Called by TestMain.
func sidePrint(other []row) {
	sideResult.mu.Lock()
	defer sideResult.mu.Unlock()
	if len(sideResult.rows) == 0 {
		return
	}
	var sb strings.Builder
	sb.WriteString("\n| metric | unit | Tusk | versitygw | Tusk/versitygw | better | goal | met |\n|---|---|---:|---:|---:|---|---|---|\n")
	for _, r := range sideResult.rows {
		met := ""
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "no"}[*r.Met]
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %.2fx | %s | %s | %s |\n", r.Metric, r.Unit,
			format(r.Tusk), format(r.Versitygw), r.Ratio, r.Better, r.Goal, met)
	}
	for _, n := range sideResult.notes {
		fmt.Fprintf(&sb, "\n- %s", n)
	}
	sb.WriteString("\n")

	type otherRow struct {
		Bench  string  `json:"bench"`
		Metric string  `json:"metric"`
		Value  float64 `json:"value"`
		Unit   string  `json:"unit"`
		How    string  `json:"how,omitempty"`
	}
	doc := struct {
		Time       string     `json:"time"`
		GoVersion  string     `json:"go_version"`
		CPUs       int        `json:"cpus"`
		SideBySide []sideRow  `json:"side_by_side"`
		Notes      []string   `json:"notes"`
		Other      []otherRow `json:"other,omitempty"`
	}{Time: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		SideBySide: sideResult.rows, Notes: sideResult.notes}
	for _, r := range other {
		doc.Other = append(doc.Other, otherRow{r.bench, r.metric, r.value, r.unit, r.how})
	}
	path := os.Getenv("TUSK_BENCH_JSON")
	if path == "" {
		path = filepath.Join(sideModuleRoot(), "bin", "bench.json")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the goals' ">=" readable
	enc.SetIndent("", "  ")
	err := enc.Encode(doc)
	if err == nil {
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, buf.Bytes(), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintf(&sb, "\nwriting %s: %v\n", path, err)
	} else {
		fmt.Fprintf(&sb, "\nwrote %s\n", path)
	}
	fmt.Print(sb.String())
}

// sideModuleRoot is the nearest directory above the working directory
// with a go.mod (the working directory if there is none).
func sideModuleRoot() string {
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

// sideCPU is the user + system CPU time pid has used (/proc/PID/stat,
// in clock ticks of 10 ms: USER_HZ is 100 on Linux).
func sideCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("reading the server's CPU time: %v", err)
	}
	// Fields after the command name (in parentheses, which may hold
	// spaces): state is field 3, utime 14, stime 15.
	rest := string(raw[strings.LastIndexByte(string(raw), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		b.Fatalf("short /proc/%d/stat: %q", pid, raw)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
