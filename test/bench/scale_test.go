package bench

// Scale benchmark (issue 12, `make bench-scale`). Every identifier of this
// file starts with "scale".

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/meta"
)

const (
	scaleRepo     = "scale"
	scalePuts     = 2000 // PUT-commits from 32 clients
	scaleSerial   = 300  // PUT-commits from 1 client
	scaleReads    = 5000 // HEADs and GETs, each, from 32 clients
	scaleListReps = 20
	scaleRefReps  = 10 // branch creates, diffs, merges
)

// scaleKey is the i-th bulk-loaded key: 1,000 keys per "directory".
func scaleKey(i int) string { return fmt.Sprintf("data/%04d/%08d.bin", i/1000, i) }

// scaleSizes reads TUSK_BENCH_SCALE ("1k,100k,1M"; "10M" too).
func scaleSizes(b *testing.B) []int {
	v := os.Getenv("TUSK_BENCH_SCALE")
	if v == "" {
		b.Skip("BenchmarkScale runs with make bench-scale (TUSK_BENCH_SCALE=1k,100k,1M)")
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "M"):
			mult, f = 1000000, strings.TrimSuffix(f, "M")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			b.Fatalf("TUSK_BENCH_SCALE=%q: want sizes like 1k,100k,1M", v)
		}
		out = append(out, n*mult)
	}
	return out
}

func scaleName(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// scaleFig is one measured figure at one repo size.
type scaleFig struct {
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"`
	Value  float64 `json:"value"`
	Better string  `json:"better"` // "higher", "lower" or "" (a size)
	How    string  `json:"how"`
}

var scaleResult struct {
	mu    sync.Mutex
	sizes []string
	figs  map[string][]scaleFig // by size
}

// BenchmarkScale bulk-loads a repo of N keys (1k, 100k, 1M; 10M when asked)
// through meta's import path straight into a data directory, starts `tusk
// serve` on it and measures through real HTTP: PUT-commits, HEAD and GET,
// ListObjectsV2 pages, branch create, diff and merge through the admin API,
// Badger's size on disk and the server's RSS. It prints one table (a
// column per size) and writes JSON to $TUSK_BENCH_SCALE_JSON or
// bin/bench-scale.json. Reports, does not assert.
func BenchmarkScale(b *testing.B) {
	sizes := scaleSizes(b)
	bin := mpBuild(b)
	scaleResult.figs = map[string][]scaleFig{}
	for _, n := range sizes {
		name := scaleName(n)
		b.Run(name, func(b *testing.B) {
			figs := scaleRun(b, bin, n)
			scaleResult.mu.Lock()
			scaleResult.sizes = append(scaleResult.sizes, name)
			scaleResult.figs[name] = figs
			scaleResult.mu.Unlock()
		})
	}
	scalePrint(b)
}

// scaleLoad builds the data directory: one 4 KiB blob, and repo scale with
// n keys on main naming it, as one imported commit. It returns the
// content and the load's rate.
func scaleLoad(b *testing.B, data string, n int) (body []byte, rate float64) {
	ctx := context.Background()
	body = make([]byte, smallSize)
	rand.NewChaCha8([32]byte{'s', 'c', 'a', 'l', 'e'}).Read(body)
	d, err := disk.Open(filepath.Join(data, "blobs"), disk.Options{})
	if err != nil {
		b.Fatal(err)
	}
	info, err := blob.New(d).Put(ctx, bytes.NewReader(body), blob.PutOptions{Size: int64(len(body))})
	d.Close()
	if err != nil {
		b.Fatal(err)
	}
	ms, err := meta.Open(filepath.Join(data, "meta"), meta.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ms.Close()
	if _, err := ms.CreateRepo(ctx, scaleRepo, "admin"); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	im, err := ms.StartImport(ctx, meta.ImportRequest{Repo: scaleRepo, Branch: "main", Author: "admin",
		Message: fmt.Sprintf("bulk load %d keys", n), Chunk: 8192})
	if err != nil {
		b.Fatal(err)
	}
	sum := md5.Sum(body)
	e := &meta.Entry{Content: info.Hash, Size: info.Size, ETag: hex.EncodeToString(sum[:])}
	for i := 0; i < n; i++ {
		if err := im.Add(ctx, scaleKey(i), e); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := im.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	return body, float64(n) / time.Since(t0).Seconds()
}

// scaleAdmin calls the admin API with HTTP basic auth and decodes the
// answer into out (when not nil).
func scaleAdmin(base, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		j, _ := json.Marshal(in)
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(gatewaytest.AccessKey, gatewaytest.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// scaleMedian times fn reps times and returns the median in ms.
func scaleMedian(b *testing.B, what string, reps int, fn func(i int) error) float64 {
	var v []float64
	for i := 0; i < reps; i++ {
		t0 := time.Now()
		if err := fn(i); err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		v = append(v, ms(time.Since(t0)))
	}
	return median(v)
}

func scaleDirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func scaleRun(b *testing.B, bin string, n int) []scaleFig {
	ctx := context.Background()
	data := filepath.Join(b.TempDir(), "data")
	body, loadRate := scaleLoad(b, data, n)
	var figs []scaleFig
	add := func(metric, unit, better string, v float64, how string) {
		figs = append(figs, scaleFig{metric, unit, v, better, how})
		b.ReportMetric(v, strings.ReplaceAll(metric+"-"+unit, " ", "-"))
	}
	add("bulk load", "keys/s", "higher", loadRate, "meta import path (one commit), before the server starts; not through HTTP")

	srv := mpStartIn(b, bin, data)
	pid := srv.cmd.Process.Pid
	idle, _, _ := mpStatus(pid)
	sampler := mpSample(pid)
	c := client(srv.url)
	bucket := scaleRepo
	rng := rand.New(rand.NewPCG(uint64(n), 12))

	// PUT-commits: new keys beside the loaded ones, each its own commit.
	small := smallBodies(scalePuts + scaleSerial)
	el, lat, err := parallel(scalePuts, concurrentConns, func(i int) error {
		return put(ctx, c, bucket, fmt.Sprintf("put/%06d", i), small[i])
	})
	if err != nil {
		b.Fatalf("PUT x32: %v", err)
	}
	how := fmt.Sprintf("%d PUTs of 4 KiB, 32 clients, each its own durable commit", scalePuts)
	add("PUT-commit x32 rate", "puts/s", "higher", scalePuts/el.Seconds(), how)
	add("PUT-commit x32 p50", "ms", "lower", ms(percentile(lat, 0.5)), how)
	add("PUT-commit x32 p99", "ms", "lower", ms(percentile(lat, 0.99)), how)
	_, lat, err = parallel(scaleSerial, 1, func(i int) error {
		return put(ctx, c, bucket, fmt.Sprintf("serial/%06d", i), small[scalePuts+i])
	})
	if err != nil {
		b.Fatalf("PUT x1: %v", err)
	}
	how = fmt.Sprintf("%d PUTs of 4 KiB, 1 client", scaleSerial)
	add("PUT-commit x1 p50", "ms", "lower", ms(percentile(lat, 0.5)), how)
	add("PUT-commit x1 p99", "ms", "lower", ms(percentile(lat, 0.99)), how)

	// HEAD and GET of random loaded keys.
	keys := make([]string, scaleReads)
	for i := range keys {
		keys[i] = scaleKey(rng.IntN(n))
	}
	el, lat, err = parallel(scaleReads, concurrentConns, func(i int) error {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[i])})
		return err
	})
	if err != nil {
		b.Fatalf("HEAD: %v", err)
	}
	how = fmt.Sprintf("%d HEADs of random loaded keys, 32 clients", scaleReads)
	add("HEAD x32 rate", "heads/s", "higher", scaleReads/el.Seconds(), how)
	add("HEAD x32 p50", "ms", "lower", ms(percentile(lat, 0.5)), how)
	el, lat, err = parallel(scaleReads, concurrentConns, func(i int) error {
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[(i+1)%len(keys)])})
		if err != nil {
			return err
		}
		defer g.Body.Close()
		got, err := io.ReadAll(g.Body)
		if err == nil && !bytes.Equal(got, body) {
			err = fmt.Errorf("GET: wrong body (%d bytes)", len(got))
		}
		return err
	})
	if err != nil {
		b.Fatalf("GET: %v", err)
	}
	how = fmt.Sprintf("%d GETs of 4 KiB of random loaded keys, 32 clients, bodies checked", scaleReads)
	add("GET 4 KiB x32 rate", "gets/s", "higher", scaleReads/el.Seconds(), how)
	add("GET 4 KiB x32 p50", "ms", "lower", ms(percentile(lat, 0.5)), how)

	// ListObjectsV2 pages.
	dirs := (n + 999) / 1000
	v := scaleMedian(b, "list with prefix", scaleListReps, func(i int) error {
		d := rng.IntN(dirs)
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket),
			Prefix: aws.String(fmt.Sprintf("data/%04d/", d)), MaxKeys: aws.Int32(1000)})
		if err == nil && len(out.Contents) != min(1000, n-d*1000) {
			err = fmt.Errorf("listed %d keys under data/%04d/", len(out.Contents), d)
		}
		return err
	})
	add("ListObjectsV2 page, prefix", "ms", "lower", v, "median of 20: prefix data/NNNN/ (a random one of 1,000 keys), max-keys 1000")
	v = scaleMedian(b, "list with delimiter", scaleListReps, func(i int) error {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket),
			Prefix: aws.String("data/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1000)})
		if err == nil && len(out.CommonPrefixes) != min(1000, dirs) {
			err = fmt.Errorf("listed %d common prefixes under data/", len(out.CommonPrefixes))
		}
		return err
	})
	add("ListObjectsV2 page, delimiter", "ms", "lower", v, "median of 20: prefix data/, delimiter /, max-keys 1000 (up to 1,000 common prefixes of 1,000 keys each)")

	// Branch create (S3 CreateBucket BRANCH.REPO), diff and merge (admin API).
	v = scaleMedian(b, "branch create", scaleRefReps, func(i int) error {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(fmt.Sprintf("b%d.%s", i, scaleRepo))})
		return err
	})
	add("branch create", "ms", "lower", v, "median of 10 S3 CreateBucket BRANCH.scale (from main)")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("dev." + scaleRepo)}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := put(ctx, c, "dev."+scaleRepo, scaleKey(i*(n/10)), small[i]); err != nil {
			b.Fatal(err)
		}
	}
	v = scaleMedian(b, "diff", scaleRefReps, func(int) error {
		var d struct {
			Changed int `json:"changed"`
			Added   int `json:"added"`
		}
		err := scaleAdmin(srv.url, "GET", "/repos/"+scaleRepo+"/diff?from=main&to=dev", nil, &d)
		if err == nil && d.Changed+d.Added != 10 {
			err = fmt.Errorf("diff: %d changed + %d added, want 10", d.Changed, d.Added)
		}
		return err
	})
	add("diff of 10 keys", "ms", "lower", v, "median of 10 GET /api/v1/repos/scale/diff?from=main&to=dev (10 keys changed on dev)")
	var merges []float64
	for i := 0; i < scaleRefReps/2; i++ {
		br := fmt.Sprintf("m%d", i)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(br + "." + scaleRepo)}); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 10; j++ {
			if err := put(ctx, c, br+"."+scaleRepo, scaleKey(j*(n/10)+1+i), small[100+10*i+j]); err != nil {
				b.Fatal(err)
			}
		}
		// main moves too, so that the merge is three-way, not a fast-forward.
		if err := put(ctx, c, bucket, fmt.Sprintf("main-moves/%d", i), small[200+i]); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		var m struct {
			FastForward bool `json:"fast_forward"`
		}
		if err := scaleAdmin(srv.url, "POST", "/repos/"+scaleRepo+"/merge", map[string]string{"source": br, "destination": "main"}, &m); err != nil {
			b.Fatal(err)
		}
		merges = append(merges, ms(time.Since(t0)))
		if m.FastForward {
			b.Fatalf("merge of %s was a fast-forward", br)
		}
	}
	add("merge of 10 changes", "ms", "lower", median(merges), "median of 5 POST /api/v1/repos/scale/merge (three-way: 10 keys changed on the source, 1 on main)")

	peak := sampler.end()
	rss, hwm, _ := mpStatus(pid)
	srv.stop()
	add("Badger size on disk", "MiB", "", float64(scaleDirBytes(filepath.Join(data, "meta")))/(1<<20), "du of DATA_DIR/meta after the run (server stopped)")
	add("server RSS idle", "MiB", "lower", float64(idle)/(1<<20), "VmRSS right after start-up")
	add("server RSS peak", "MiB", "lower", float64(max(peak, hwm))/(1<<20), "max of VmRSS sampled every 20 ms and VmHWM")
	add("server RSS end", "MiB", "lower", float64(rss)/(1<<20), "VmRSS at the end of the run")
	return figs
}

// scalePrint prints one table, a column per size (and 1M/1k where both
// ran), and writes the JSON.
func scalePrint(b *testing.B) {
	scaleResult.mu.Lock()
	defer scaleResult.mu.Unlock()
	sizes := scaleResult.sizes
	if len(sizes) == 0 {
		return
	}
	first, last := sizes[0], sizes[len(sizes)-1]
	var sb strings.Builder
	sb.WriteString("\n| metric | unit |")
	for _, s := range sizes {
		sb.WriteString(" " + s + " keys |")
	}
	if len(sizes) > 1 {
		fmt.Fprintf(&sb, " %s/%s |", last, first)
	}
	sb.WriteString("\n|---|---|")
	sb.WriteString(strings.Repeat("---:|", len(sizes)))
	if len(sizes) > 1 {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	rows := scaleResult.figs[first]
	for i, f := range rows {
		fmt.Fprintf(&sb, "| %s | %s |", f.Metric, f.Unit)
		for _, s := range sizes {
			sb.WriteString(" " + format(scaleResult.figs[s][i].Value) + " |")
		}
		if len(sizes) > 1 {
			fmt.Fprintf(&sb, " %.2fx |", scaleResult.figs[last][i].Value/f.Value)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\nhow:\n")
	for _, f := range rows {
		fmt.Fprintf(&sb, "- %s: %s\n", f.Metric, f.How)
	}
	doc := struct {
		Time      string                `json:"time"`
		GoVersion string                `json:"go_version"`
		CPUs      int                   `json:"cpus"`
		Sizes     []string              `json:"sizes"`
		Figures   map[string][]scaleFig `json:"figures"`
	}{time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.NumCPU(), sizes, scaleResult.figs}
	path := os.Getenv("TUSK_BENCH_SCALE_JSON")
	if path == "" {
		path = filepath.Join(sideModuleRoot(), "bin", "bench-scale.json")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
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
