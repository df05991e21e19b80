package gateway_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
)

// scrape returns the value of each tusk_multipart_upload* series of
// /metrics, by its text before the value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^(tusk_multipart_upload\S*) (\S+)$`).FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = v
	}
	return out
}

// TestUploadMetrics: tusk_multipart_uploads_open counts the uploads in
// flight by age (an upload cut off stays counted until GC aborts it past
// the TTL); tusk_multipart_upload_oldest_age_seconds follows the oldest.
func TestUploadMetrics(t *testing.T) {
	var behind atomic.Bool // meta's clock 2h behind while "old" is made
	behind.Store(true)
	e := newMPEnv(t, gateway.Config{UploadTTL: 90 * time.Minute, MetaNow: func() time.Time {
		if behind.Load() {
			return time.Now().Add(-2 * time.Hour)
		}
		return time.Now()
	}})
	if _, err := e.c.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String("mpm")}); err != nil {
		t.Fatal(err)
	}
	open := func(age string) string { return `tusk_multipart_uploads_open{age="` + age + `"}` }
	const oldest = "tusk_multipart_upload_oldest_age_seconds"
	if m := scrape(t, e.srv.URL); m[open("lt_1h")] != 0 || m[open("ge_7d")] != 0 || m[oldest] != 0 || len(m) != 5 {
		t.Fatalf("no uploads: %v", m)
	}
	e.create("mpm", "old")
	behind.Store(false)
	fresh := e.create("mpm", "fresh")
	e.create("mpm", "fresh2")
	m := scrape(t, e.srv.URL)
	if m[open("lt_1h")] != 2 || m[open("1h_to_1d")] != 1 || m[open("1d_to_7d")] != 0 || m[open("ge_7d")] != 0 ||
		m[oldest] < 7200 || m[oldest] > 7200+300 {
		t.Fatalf("three uploads, one 2h old: %v", m)
	}
	if _, err := e.c.AbortMultipartUpload(e.ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpm"), Key: aws.String("fresh"), UploadId: aws.String(fresh)}); err != nil {
		t.Fatal(err)
	}
	if m := scrape(t, e.srv.URL); m[open("lt_1h")] != 1 || m[open("1h_to_1d")] != 1 {
		t.Fatalf("after an abort: %v", m)
	}
	// GC aborts the one past the TTL (90 minutes).
	if _, err := e.srv.GC(e.ctx, gateway.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := scrape(t, e.srv.URL); m[open("lt_1h")] != 1 || m[open("1h_to_1d")] != 0 || m[oldest] > 300 {
		t.Fatalf("after GC: %v", m)
	}
}
