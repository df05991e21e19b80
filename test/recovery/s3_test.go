package recovery

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// versitygw starts the S3 server of the s3 backend's tests
// (scripts/install-versitygw.sh) over a fresh directory and returns its
// endpoint; it is killed when the test ends.
func versitygw(t *testing.T, access, secret string) string {
	t.Helper()
	bin := os.Getenv("TUSK_VERSITYGW")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "tusk-test", "versitygw-v1.8.0", "versitygw")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("versitygw not found at %s (%v): run scripts/install-versitygw.sh", bin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", t.TempDir())
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("versitygw exited: %s", log.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			return "http://" + addr
		}
	}
	t.Fatalf("versitygw did not start on %s", addr)
	return ""
}

// TestRestoreFromS3Backend: the same recovery with an S3 backing store
// (versitygw) under a key prefix: the mirror lives under PREFIX/meta/,
// and `tusk restore --from-backend` with serve's --s3-* flags rebuilds the
// store.
func TestRestoreFromS3Backend(t *testing.T) {
	const ak, sk = "recoverys3access", "recoverys3secret12345"
	ep := versitygw(t, ak, sk)
	s3flags := []string{"--backend", "s3", "--s3-endpoint", ep, "--s3-bucket", "tusk-blobs", "--s3-prefix", "site1/",
		"--s3-region", "us-east-1", "--s3-access-key", ak, "--s3-secret-key", sk}
	bin := tuskBinary(t)
	data := t.TempDir()
	serve := append([]string{"--meta-mirror-interval", "1h", "--no-pipelines"}, s3flags...)
	s := start(t, bin, data, serve...)
	c := s.client(accessKey, secretKey)
	s.tusk("repo", "create", "docs")
	put(t, c, "docs", "r.md", []byte("one"))
	put(t, c, "docs", "r.md", []byte("two"))
	s.tusk("branch", "create", "docs@wip")
	put(t, c, "wip.docs", "w.md", []byte("wip"))
	s.waitMirror(time.Now())
	s.tusk("branch", "delete", "docs@wip")
	s.tusk("tag", "create", "docs@r1")
	put(t, c, "docs", "s.md", []byte("three"))
	cmds := [][]string{{"log", "docs@main"}, {"branch", "list", "docs"}, {"tag", "list", "docs"}}
	before := capture(t, s, c, []string{"docs", "r1.docs"}, cmds, [3]string{}, nil)
	s.waitMirror(time.Now())
	s.kill()

	// The mirror is under the prefix, beside the blobs.
	raw := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
	lo, err := raw.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("tusk-blobs"), Prefix: aws.String("site1/meta/")})
	if err != nil || len(lo.Contents) < 2 {
		t.Fatalf("the mirror under site1/meta/: %v, %d objects", err, len(lo.Contents))
	}

	if err := os.RemoveAll(filepath.Join(data, "meta")); err != nil {
		t.Fatal(err)
	}
	out, err := runTusk(bin, "", append([]string{"restore", "--from-backend", "--data-dir", data}, s3flags...)...)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	s = start(t, bin, data, serve...)
	c = s.client(accessKey, secretKey)
	after := capture(t, s, c, []string{"docs", "r1.docs"}, cmds, [3]string{}, nil)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the history differs after restore from S3:\nbefore %+v\nafter  %+v", before, after)
	}
	if strings.Contains(after.CLI["branch list docs"], "wip") {
		t.Error("the deleted branch came back")
	}
}
