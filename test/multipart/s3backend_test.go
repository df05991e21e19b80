package multipart

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	blobs3 "github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/gateway"
)

// versitygw starts the S3 server the s3 backend is tested against
// (scripts/install-versitygw.sh) over a fresh directory and returns its
// endpoint; it is killed when the test ends.
func versitygw(t *testing.T, access, secret string) string {
	t.Helper()
	ep, _ := startVersitygw(t, access, secret)
	return ep
}

// startVersitygw is versitygw that also returns a function that kills the
// server at once (to test a backend that goes down).
func startVersitygw(t *testing.T, access, secret string) (string, func()) {
	t.Helper()
	bin := os.Getenv("TUSK_VERSITYGW")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "tusk-test", "versitygw-v1.8.0", "versitygw")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("versitygw not found at %s (%v): run scripts/install-versitygw.sh", bin, err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", dir)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	kill := func() { cmd.Process.Kill(); <-done }
	t.Cleanup(kill)
	// versitygw tells of being ready only by answering: poll it, with a deadline.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("versitygw exited: %s", log.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			return "http://" + addr, kill
		}
	}
	t.Fatalf("versitygw did not start on %s", addr)
	return "", nil
}

// TestS3Backend: multipart uploads through a gateway whose backing store is
// S3 (versitygw): the parts are composed by the backend's own multipart
// upload with server-side part copies (and a single part by CopyObject).
func TestS3Backend(t *testing.T) {
	const ak, sk = "mpbackendaccess", "mpbackendsecret12345"
	ep := versitygw(t, ak, sk)
	e := newEnv(t, gateway.Config{Backend: "s3", S3: blobs3.Config{Endpoint: ep, Bucket: "tusk-blobs", Region: "us-east-1",
		AccessKey: ak, SecretKey: sk}})
	e.mkBucket("s3back")
	ctx := ctxFor(t, 3*time.Minute)
	c := e.sdk(true)
	parts := [][]byte{bytes.Repeat([]byte("a"), 5*mib), bytes.Repeat([]byte("b"), 5*mib+1), []byte("c tail")}
	for i := range parts[0] {
		parts[0][i] = byte(i * 13)
	}
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("s3back"), Key: aws.String("obj"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumType: types.ChecksumTypeFullObject})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("s3back"), Key: aws.String("obj"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC32C: out.ChecksumCRC32C})
	}
	res, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("s3back"), Key: aws.String("obj"),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if !strings.HasSuffix(aws.ToString(res.ETag), `-3"`) || res.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("Complete: %+v", res)
	}
	whole := bytes.Join(parts, nil)
	get := func(key string, part int32) ([]byte, *s3.GetObjectOutput) {
		t.Helper()
		in := &s3.GetObjectInput{Bucket: aws.String("s3back"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}
		if part > 0 {
			in.PartNumber = aws.Int32(part)
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			t.Fatalf("GetObject %s part %d: %v", key, part, err)
		}
		b, err := io.ReadAll(out.Body) // the SDK checks the full-object CRC32C
		out.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return b, out
	}
	if b, _ := get("obj", 0); !bytes.Equal(b, whole) {
		t.Fatalf("object on the s3 backend differs (%d bytes)", len(b))
	}
	if b, out := get("obj", 2); !bytes.Equal(b, parts[1]) || aws.ToInt32(out.PartsCount) != 3 {
		t.Fatalf("part 2: %d bytes, %d parts", len(b), aws.ToInt32(out.PartsCount))
	}
	// One part (a plain server-side copy), made with UploadPartCopy of a
	// range of the first object.
	cr, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("s3back"), Key: aws.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("s3back"), Key: aws.String("one"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("s3back/obj"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", 5*mib-10, 5*mib+9))})
	if err != nil {
		t.Fatalf("UploadPartCopy: %v", err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("s3back"), Key: aws.String("one"),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: cp.CopyPartResult.ETag}}}}); err != nil {
		t.Fatalf("Complete one part: %v", err)
	}
	if b, _ := get("one", 0); !bytes.Equal(b, whole[5*mib-10:5*mib+10]) {
		t.Fatalf("one-part object: %q", b)
	}
}

// TestPurgeS3Backend: purge on a gateway whose backing store is S3: a repo
// admin's purge keeps the bytes another repo holds (the object stays in
// the backend bucket), a global purge deletes them from the backend at
// once.
func TestPurgeS3Backend(t *testing.T) {
	const ak, sk = "purgebackendaccess", "purgebackendsecret123"
	ep := versitygw(t, ak, sk)
	e := newEnv(t, gateway.Config{Backend: "s3", S3: blobs3.Config{Endpoint: ep, Bucket: "tusk-blobs", Region: "us-east-1",
		AccessKey: ak, SecretKey: sk}})
	e.mkBucket("pura")
	e.mkBucket("purb")
	ctx := ctxFor(t, time.Minute)
	c := e.sdk(false)
	body := []byte(fmt.Sprintf("purge me on the s3 backend %d", time.Now().UnixNano()))
	for _, b := range []string{"pura", "purb"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	backend := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
	onBackend := func() bool {
		t.Helper()
		_, err := backend.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tusk-blobs"), Key: aws.String("blobs/" + h[:2] + "/" + h[2:4] + "/" + h)})
		var nf *types.NotFound
		if err != nil && !errors.As(err, &nf) {
			t.Fatalf("HeadObject on the backend: %v", err)
		}
		return err == nil
	}
	if !onBackend() {
		t.Fatal("the blob is not where the test looks on the backend")
	}
	rep, err := e.srv.Purge(ctx, gateway.PurgeOptions{Content: h, Repo: "pura", User: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BytesDeleted || len(rep.Removed) != 1 || !onBackend() {
		t.Fatalf("repo purge: %+v, on backend %v", rep, onBackend())
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("purb"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("purb/k after pura's purge: %v", err)
	}
	if b, _ := io.ReadAll(out.Body); !bytes.Equal(b, body) {
		t.Fatalf("purb/k = %q", b)
	}
	out.Body.Close()
	rep, err = e.srv.Purge(ctx, gateway.PurgeOptions{Content: h, All: true, User: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.BytesDeleted || onBackend() {
		t.Fatalf("global purge: %+v, still on backend %v", rep, onBackend())
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("purb"), Key: aws.String("k")})
	var nk *types.NoSuchKey
	if !errors.As(err, &nk) {
		t.Fatalf("purb/k after the global purge: %v", err)
	}
}
