package multipart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// awsCLI is the aws CLI v2 (/usr/bin/aws: the pyenv aws v1 may come first
// on PATH) with its own config and credentials: path-style addressing,
// default multipart settings (8 MiB threshold and parts).
type awsCLI struct {
	t   *testing.T
	ep  string
	env []string
}

func newAWSCLI(t *testing.T, e *env) *awsCLI {
	t.Helper()
	need(t, "/usr/bin/aws")
	dir := filepath.Join(e.dir, "aws")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[default]\nregion = us-east-1\noutput = json\ncli_pager =\nmax_attempts = 1\ns3 =\n  addressing_style = path\n  max_concurrent_requests = 8\n"
	creds := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", gatewaytest.AccessKey, gatewaytest.SecretKey)
	for name, body := range map[string]string{"config": cfg, "credentials": creds} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &awsCLI{t: t, ep: e.srv.URL, env: cliEnv("HOME="+dir, "AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"))}
}

func (a *awsCLI) run(ctx context.Context, args ...string) (string, error) {
	return run(ctx, a.env, "/usr/bin/aws", append([]string{"--endpoint-url", a.ep}, args...)...)
}

// json runs an s3api command and decodes its JSON output.
func (a *awsCLI) json(ctx context.Context, out any, args ...string) {
	a.t.Helper()
	s, err := a.run(ctx, args...)
	if err != nil {
		a.t.Fatal(err)
	}
	// A paginated listing with nothing in it prints nothing.
	if out != nil && strings.TrimSpace(s) != "" {
		if err := json.Unmarshal([]byte(s), out); err != nil {
			a.t.Fatalf("aws %s: output %q: %v", strings.Join(args, " "), s, err)
		}
	}
}

// TestAWSCLI: `aws s3 cp` of 200 MiB up and down (the CLI's own parallel
// multipart upload, 8 MiB parts, then ranged GETs), and every multipart
// operation through `aws s3api`.
func TestAWSCLI(t *testing.T) {
	const size = 200 * mib
	e := newEnv(t, gateway.Config{})
	e.mkBucket("awscli")
	a := newAWSCLI(t, e)
	ctx := ctxFor(t, 4*time.Minute)
	path, want := genFile(t, e.dir, "big.bin", 3, size)

	start := time.Now()
	if _, err := a.run(ctx, "s3", "cp", "--no-progress", path, "s3://awscli/dir/big.bin"); err != nil {
		t.Fatal(err)
	}
	t.Logf("aws s3 cp up, %d MiB: %v", size/mib, time.Since(start).Round(time.Millisecond))
	down := filepath.Join(e.dir, "big.down")
	start = time.Now()
	if _, err := a.run(ctx, "s3", "cp", "--no-progress", "s3://awscli/dir/big.bin", down); err != nil {
		t.Fatal(err)
	}
	t.Logf("aws s3 cp down: %v", time.Since(start).Round(time.Millisecond))
	if got := fileSHA(t, down); got != want {
		t.Fatalf("aws s3 cp round trip: %s, want %s", got, want)
	}
	os.Remove(down)
	var head struct {
		ContentLength int64
		ETag          string
		PartsCount    int
	}
	a.json(ctx, &head, "s3api", "head-object", "--bucket", "awscli", "--key", "dir/big.bin", "--part-number", "2")
	if head.PartsCount != 25 || head.ContentLength != 8*mib || !strings.HasSuffix(head.ETag, `-25"`) {
		t.Fatalf("head-object --part-number 2: %+v", head)
	}

	// s3api, operation by operation.
	part1, _ := genFile(t, e.dir, "part1.bin", 4, 5*mib+3)
	part3, _ := genFile(t, e.dir, "part3.bin", 5, 1000)
	var created struct{ UploadId, Key, Bucket, ChecksumAlgorithm string }
	a.json(ctx, &created, "s3api", "create-multipart-upload", "--bucket", "awscli", "--key", "made/by s3api",
		"--content-type", "text/x-parts", "--metadata", "who=awscli", "--checksum-algorithm", "SHA256")
	if created.UploadId == "" || created.ChecksumAlgorithm != "SHA256" {
		t.Fatalf("create-multipart-upload: %+v", created)
	}
	id := created.UploadId
	type part struct {
		PartNumber     int
		ETag           string
		ChecksumSHA256 string `json:",omitempty"`
	}
	var p1, p3 struct{ ETag, ChecksumSHA256 string }
	a.json(ctx, &p1, "s3api", "upload-part", "--bucket", "awscli", "--key", "made/by s3api", "--upload-id", id,
		"--part-number", "1", "--body", part1, "--checksum-algorithm", "SHA256")
	var cp struct {
		CopyPartResult struct{ ETag, ChecksumSHA256 string }
	}
	a.json(ctx, &cp, "s3api", "upload-part-copy", "--bucket", "awscli", "--key", "made/by s3api", "--upload-id", id,
		"--part-number", "2", "--copy-source", "awscli/dir/big.bin", "--copy-source-range", fmt.Sprintf("bytes=%d-%d", 3*mib, 9*mib-1))
	a.json(ctx, &p3, "s3api", "upload-part", "--bucket", "awscli", "--key", "made/by s3api", "--upload-id", id,
		"--part-number", "3", "--body", part3, "--checksum-algorithm", "SHA256")
	if p1.ETag == "" || p1.ChecksumSHA256 == "" || cp.CopyPartResult.ETag == "" || cp.CopyPartResult.ChecksumSHA256 == "" {
		t.Fatalf("upload-part %+v, upload-part-copy %+v", p1, cp)
	}
	var lp struct {
		Parts []struct {
			PartNumber int
			Size       int64
			ETag       string
		}
		ChecksumAlgorithm string
	}
	a.json(ctx, &lp, "s3api", "list-parts", "--bucket", "awscli", "--key", "made/by s3api", "--upload-id", id)
	if len(lp.Parts) != 3 || lp.Parts[1].Size != 6*mib || lp.Parts[1].ETag != cp.CopyPartResult.ETag {
		t.Fatalf("list-parts: %+v", lp)
	}
	var lu struct {
		Uploads []struct{ UploadId, Key string }
	}
	a.json(ctx, &lu, "s3api", "list-multipart-uploads", "--bucket", "awscli")
	if len(lu.Uploads) != 1 || lu.Uploads[0].UploadId != id || lu.Uploads[0].Key != "made/by s3api" {
		t.Fatalf("list-multipart-uploads: %+v", lu)
	}
	parts := []part{{1, p1.ETag, p1.ChecksumSHA256}, {2, cp.CopyPartResult.ETag, cp.CopyPartResult.ChecksumSHA256}, {3, p3.ETag, p3.ChecksumSHA256}}
	writeParts := func(ps []part) string {
		b, _ := json.Marshal(map[string]any{"Parts": ps})
		p := filepath.Join(e.dir, "parts.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	// A refused completion (order) through the CLI: S3's code, the upload stays.
	_, err := a.run(ctx, "s3api", "complete-multipart-upload", "--bucket", "awscli", "--key", "made/by s3api", "--upload-id", id,
		"--multipart-upload", writeParts([]part{parts[1], parts[0], parts[2]}))
	var ce *cmdError
	if !errors.As(err, &ce) || !strings.Contains(ce.stderr, "InvalidPartOrder") {
		t.Fatalf("complete out of order: %v", err)
	}
	var done struct{ ETag, VersionId, ChecksumSHA256, Key string }
	a.json(ctx, &done, "s3api", "complete-multipart-upload", "--bucket", "awscli", "--key", "made/by s3api", "--upload-id", id,
		"--multipart-upload", writeParts(parts))
	if !strings.HasSuffix(done.ETag, `-3"`) || done.VersionId == "" || !strings.HasSuffix(done.ChecksumSHA256, "-3") {
		t.Fatalf("complete-multipart-upload: %+v", done)
	}
	got := filepath.Join(e.dir, "made.down")
	var gob struct {
		ContentType string
		Metadata    map[string]string
		PartsCount  int
	}
	a.json(ctx, &gob, "s3api", "get-object", "--bucket", "awscli", "--key", "made/by s3api", got)
	if gob.ContentType != "text/x-parts" || gob.Metadata["who"] != "awscli" {
		t.Fatalf("get-object: %+v", gob)
	}
	wantParts := readFile(t, part1) + readRange(t, path, 3*mib, 6*mib) + readFile(t, part3)
	if readFile(t, got) != wantParts {
		t.Fatal("the object made by s3api calls differs from its parts")
	}
	a.json(ctx, &gob, "s3api", "get-object", "--bucket", "awscli", "--key", "made/by s3api", "--part-number", "2", got)
	if gob.PartsCount != 3 || readFile(t, got) != readRange(t, path, 3*mib, 6*mib) {
		t.Fatalf("get-object --part-number 2: %+v", gob)
	}

	// Abort.
	a.json(ctx, &created, "s3api", "create-multipart-upload", "--bucket", "awscli", "--key", "to-abort")
	a.json(ctx, nil, "s3api", "upload-part", "--bucket", "awscli", "--key", "to-abort", "--upload-id", created.UploadId,
		"--part-number", "1", "--body", part3)
	a.json(ctx, nil, "s3api", "abort-multipart-upload", "--bucket", "awscli", "--key", "to-abort", "--upload-id", created.UploadId)
	lu.Uploads = nil
	a.json(ctx, &lu, "s3api", "list-multipart-uploads", "--bucket", "awscli")
	if len(lu.Uploads) != 0 {
		t.Fatalf("uploads after abort: %+v", lu)
	}
	_, err = a.run(ctx, "s3api", "list-parts", "--bucket", "awscli", "--key", "to-abort", "--upload-id", created.UploadId)
	if !errors.As(err, &ce) || !strings.Contains(ce.stderr, "NoSuchUpload") {
		t.Fatalf("list-parts of an aborted upload: %v", err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readRange(t *testing.T, p string, off, n int64) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRclone: rclone copies a 300 MiB file (multipart, 5 MiB chunks,
// --s3-upload-concurrency 8) up and back down.
func TestRclone(t *testing.T) {
	const size = 300 * mib
	rclone := need(t, "rclone")
	e := newEnv(t, gateway.Config{})
	e.mkBucket("rclone")
	ctx := ctxFor(t, 4*time.Minute)
	src := filepath.Join(e.dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	_, want := genFile(t, src, "big file.bin", 6, size)
	conf := filepath.Join(e.dir, "rclone.conf")
	body := fmt.Sprintf("[tusk]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = us-east-1\nforce_path_style = true\n",
		gatewaytest.AccessKey, gatewaytest.SecretKey, e.srv.URL)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cliEnv("HOME=" + e.dir)
	rc := func(args ...string) {
		t.Helper()
		base := []string{"--config", conf, "--retries", "1", "--low-level-retries", "1", "--contimeout", "5s", "--timeout", "120s"}
		if _, err := run(ctx, env, rclone, append(base, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	rc("copy", "--s3-upload-concurrency", "8", src, "tusk:rclone/up")
	t.Logf("rclone copy up, %d MiB: %v", size/mib, time.Since(start).Round(time.Millisecond))
	h, err := e.sdk(false).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rclone"), Key: aws.String("up/big file.bin"), PartNumber: aws.Int32(1)})
	if err != nil || aws.ToInt32(h.PartsCount) < 2 {
		t.Fatalf("rclone did not upload in parts: %+v %v", h, err)
	}
	t.Logf("rclone: %d parts", aws.ToInt32(h.PartsCount))
	dst := filepath.Join(e.dir, "dst")
	start = time.Now()
	rc("copy", "tusk:rclone/up", dst)
	t.Logf("rclone copy down: %v", time.Since(start).Round(time.Millisecond))
	if got := fileSHA(t, filepath.Join(dst, "big file.bin")); got != want {
		t.Fatalf("rclone round trip: %s, want %s", got, want)
	}
	lu, err := e.sdk(false).ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("rclone")})
	if err != nil || len(lu.Uploads) != 0 {
		t.Fatalf("uploads left by rclone: %+v %v", lu, err)
	}
}
