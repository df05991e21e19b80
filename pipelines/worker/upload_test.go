package worker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tusk-data/tusk/pipelines"
)

// fakeS3 is an S3 endpoint that keeps what is PUT (and answers GETs)
// and counts the uploads in flight. The first hold uploads wait until
// hold of them are in flight together (so that a worker that uploads
// fewer at once never gets past them); failKey answers AccessDenied.
type fakeS3 struct {
	mu       sync.Mutex
	objects  map[string]string // bucket/key -> body
	inflight int
	peak     int
	arrived  int
	hold     int
	full     chan struct{}
	failKey  string
}

func newFakeS3(hold int) *fakeS3 {
	return &fakeS3{objects: map[string]string{}, hold: hold, full: make(chan struct{})}
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		body = unchunk(body)
	}
	obj := strings.TrimPrefix(r.URL.Path, "/")
	if r.Method != http.MethodPut && r.Method != http.MethodGet {
		http.Error(w, "unexpected "+r.Method, 400)
		return
	}
	if f.failKey != "" && strings.HasSuffix(obj, "/"+f.failKey) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<Error><Code>AccessDenied</Code><Message>no</Message></Error>`)
		return
	}
	f.mu.Lock()
	f.inflight++
	f.peak = max(f.peak, f.inflight)
	f.arrived++
	wait := f.arrived <= f.hold
	if f.arrived == f.hold {
		close(f.full)
	}
	f.mu.Unlock()
	if wait {
		select {
		case <-f.full:
		case <-r.Context().Done():
		}
	}
	f.mu.Lock()
	f.inflight--
	if r.Method == http.MethodGet {
		b, ok := f.objects[obj]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `<Error><Code>NoSuchKey</Code><Message>no</Message></Error>`)
			return
		}
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Header().Set("Last-Modified", "Mon, 07 Dec 2026 12:00:00 GMT")
		io.WriteString(w, b)
		return
	}
	f.objects[obj] = string(body)
	f.mu.Unlock()
	w.Header().Set("ETag", `"e"`)
}

// unchunk decodes an aws-chunked body (signatures unchecked).
func unchunk(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		line, rest, ok := strings.Cut(string(b), "\r\n")
		if !ok {
			break
		}
		var n int
		fmt.Sscanf(strings.SplitN(line, ";", 2)[0], "%x", &n)
		if n == 0 || n+2 > len(rest) {
			break
		}
		out = append(out, rest[:n]...)
		b = []byte(rest[n+2:])
	}
	return out
}

func fakeClient(t *testing.T, f *fakeS3) *minio.Core {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := minio.NewCore(u.Host, &minio.Options{Creds: credentials.NewStaticV4("ak", "sk", ""), Region: "us-east-1",
		BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for k, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUploadTreeBounded: a datum's outputs are uploaded with exactly jobs
// uploads in flight at the most (and that many at once: the first jobs
// uploads wait for each other), every file once at prefix + its path.
func TestUploadTreeBounded(t *testing.T) {
	for _, jobs := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(jobs), func(t *testing.T) {
			f := newFakeS3(jobs)
			c := fakeClient(t, f)
			dir := t.TempDir()
			want := map[string]string{}
			for i := 0; i < 40; i++ {
				want[fmt.Sprintf("d%d/f%02d.txt", i%4, i)] = fmt.Sprintf("file %d\n", i)
			}
			writeFiles(t, dir, want)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a failsafe, not a synchronisation
			defer cancel()
			n, err := uploadTree(ctx, c, "0123456789abcdef.out", dir, "datum/run-1/", jobs)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(want) {
				t.Fatalf("uploaded %d files, want %d", n, len(want))
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.peak != jobs {
				t.Errorf("at most %d uploads were in flight, want %d", f.peak, jobs)
			}
			if len(f.objects) != len(want) {
				t.Errorf("%d objects stored, want %d", len(f.objects), len(want))
			}
			for k, v := range want {
				if got := f.objects["0123456789abcdef.out/datum/run-1/"+k]; got != v {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestUploadTreeFails: a file that is not regular, or an upload refused,
// stops the upload with an error naming the file.
func TestUploadTreeFails(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		f := newFakeS3(0)
		c := fakeClient(t, f)
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"a.txt": "a"})
		if err := os.Symlink("a.txt", filepath.Join(dir, "b.txt")); err != nil {
			t.Fatal(err)
		}
		_, err := uploadTree(context.Background(), c, "0123456789abcdef.out", dir, "p/", 4)
		if err == nil || !strings.Contains(err.Error(), "output b.txt is not a regular file") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		f := newFakeS3(0)
		f.failKey = "bad.txt"
		c := fakeClient(t, f)
		dir := t.TempDir()
		files := map[string]string{"bad.txt": "x"}
		for i := 0; i < 30; i++ {
			files[fmt.Sprintf("ok%02d.txt", i)] = "ok"
		}
		writeFiles(t, dir, files)
		n, err := uploadTree(context.Background(), c, "0123456789abcdef.out", dir, "p/", 4)
		if err == nil || !strings.Contains(err.Error(), "uploading output bad.txt") {
			t.Fatalf("got %v", err)
		}
		if n >= len(files) {
			t.Fatalf("%d files uploaded after a failure", n)
		}
	})
}

// TestStageBounded: a datum's inputs are downloaded with stageJobs
// downloads in flight at the most (and that many at once), each to its
// path under the datum's directory.
func TestStageBounded(t *testing.T) {
	f := newFakeS3(stageJobs)
	c := fakeClient(t, f)
	in := pipelines.DatumInput{Name: "in", Repo: "src", Commit: "0123456789abcdef0123"}
	want := map[string]string{}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("d%d/f%02d.txt", i%3, i)
		want[k] = fmt.Sprintf("input %d\n", i)
		f.objects["0123456789abcdef.src/"+k] = want[k]
		in.Files = append(in.Files, pipelines.DatumFile{Key: k})
	}
	pfs := filepath.Join(t.TempDir(), "pfs")
	w := &worker{s3: c}
	n, err := w.stage(context.Background(), pfs, pipelines.DatumTask{ID: "d", Inputs: []pipelines.DatumInput{in}})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("staged %d files, want %d", n, len(want))
	}
	for k, v := range want {
		b, err := os.ReadFile(filepath.Join(pfs, "in", filepath.FromSlash(k)))
		if err != nil || string(b) != v {
			t.Errorf("%s: %q, %v; want %q", k, b, err, v)
		}
	}
	f.mu.Lock()
	peak := f.peak
	f.mu.Unlock()
	if peak != stageJobs {
		t.Errorf("at most %d downloads were in flight, want %d", peak, stageJobs)
	}
	t.Run("missing", func(t *testing.T) {
		in := pipelines.DatumInput{Name: "in", Repo: "src", Commit: "0123456789abcdef0123",
			Files: []pipelines.DatumFile{{Key: "gone.txt"}}}
		_, err := w.stage(context.Background(), filepath.Join(t.TempDir(), "pfs"), pipelines.DatumTask{ID: "d", Inputs: []pipelines.DatumInput{in}})
		if err == nil || !strings.Contains(err.Error(), "staging src@0123456789ab:gone.txt") {
			t.Fatalf("got %v", err)
		}
	})
}
