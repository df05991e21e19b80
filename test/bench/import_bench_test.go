package bench

// tusk import benchmark (issue 12). Every identifier of this file starts
// with "imp".

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// impFiles is how many files BenchmarkImport imports: 100,000 unless
// TUSK_BENCH_IMPORT_FILES says.
func impFiles(b *testing.B) int {
	if v := os.Getenv("TUSK_BENCH_IMPORT_FILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("TUSK_BENCH_IMPORT_FILES=%q: want a count", v)
		}
		return n
	}
	return 100000
}

// BenchmarkImport imports a tree of small files (100 B each, distinct, 1,000
// per directory) from the gateway's host with tusk import's admin call, in
// copy and in link mode, into an in-process gateway on the disk backend,
// and reports files/s end to end (walk, hash, copy or link, fsyncs, one
// commit).
func BenchmarkImport(b *testing.B) {
	n := impFiles(b)
	root := b.TempDir()
	for _, mode := range []string{"copy", "link"} {
		src := filepath.Join(root, mode)
		for i := 0; i < n; i++ {
			p := filepath.Join(src, fmt.Sprintf("d%04d", i/1000), fmt.Sprintf("f%07d.txt", i))
			if i%1000 == 0 {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			body := fmt.Sprintf("%s %07d %s", mode, i, bytes.Repeat([]byte{'x'}, 85))
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	srv := gatewaytest.Start(b, gateway.Config{ImportRoots: []string{root}, DataDir: filepath.Join(root, "data")})
	c := client(srv.URL)
	for _, mode := range []string{"copy", "link"} {
		b.Run(mode, func(b *testing.B) {
			for run := 0; run < b.N; run++ {
				repo := fmt.Sprintf("imp-%s-%d", mode, run)
				if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(repo)}); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				res := impCall(b, srv.URL, repo, apiv1.ImportRequest{Source: filepath.Join(root, mode), Mode: mode})
				el := time.Since(t0)
				if res.Files != int64(n) {
					b.Fatalf("imported %d files, want %d", res.Files, n)
				}
				record(b, "import "+mode, float64(n)/el.Seconds(), "files/s",
					fmt.Sprintf("%d files of 100 B, tusk import (admin API), disk backend, one commit", n))
			}
		})
	}
}

func impCall(b *testing.B, base, repo string, req apiv1.ImportRequest) *apiv1.ImportResult {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequest("POST", base+"/api/v1/repos/"+repo+"/import", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	hr.SetBasicAuth(gatewaytest.AccessKey, gatewaytest.SecretKey)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("import: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l apiv1.ImportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			b.Fatal(err)
		}
		if l.Error != nil {
			b.Fatalf("import: %s", l.Error.Message)
		}
		if l.Result != nil {
			return l.Result
		}
	}
	b.Fatalf("import answer ended early: %v", sc.Err())
	return nil
}
