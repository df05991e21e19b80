package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/meta"
)

// importCall posts an import to the admin API (basic auth as the admin
// unless anon) and returns the HTTP status and the answer's lines.
func importCall(t *testing.T, srv *gatewaytest.Server, repo string, req apiv1.ImportRequest, anon bool) (int, []apiv1.ImportLine, string) {
	t.Helper()
	body, _ := json.Marshal(req)
	hr, err := http.NewRequest("POST", srv.URL+"/api/v1/repos/"+repo+"/import", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if !anon {
		hr.SetBasicAuth(gatewaytest.AccessKey, gatewaytest.SecretKey)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, nil, string(raw)
	}
	var lines []apiv1.ImportLine
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l apiv1.ImportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return 200, lines, ""
}

// importTree writes files under dir: path -> content.
func importTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImport imports a directory tree from the server's host (tusk import)
// in both modes: every regular file becomes PREFIX + its relative path in
// ONE commit on the branch, readable through S3 with its bytes and MD5
// ETag; symbolic links are skipped and reported; with link the blob is the
// source file itself (same inode), without it a copy.
func TestImport(t *testing.T) {
	root := t.TempDir()
	srv := gatewaytest.Start(t, gateway.Config{ImportRoots: []string{root}})
	c := client(srv)
	ctx := context.Background()
	common := map[string]string{
		"a.txt":             "alpha",
		"sub/b.bin":         strings.Repeat("b", 70000),
		"sub/deeper/c.csv":  "x,y\n1,2\n",
		"empty":             "",
		"odd name é+%.txt":  "odd",
		"sub/same-as-a.txt": "alpha",
	}
	for _, tc := range []struct {
		mode   string
		bucket string
		prefix string
	}{
		{"copy", "imp-copy", "in/"},
		{"link", "imp-link", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			src := filepath.Join(root, tc.mode)
			files := map[string]string{}
			for p, c := range common { // distinct bytes per mode, but one empty file
				if c != "" {
					c = tc.mode + ":" + c
				}
				files[p] = c
			}
			importTree(t, src, files)
			if err := os.Symlink("/etc/hostname", filepath.Join(src, "link-out")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(tc.bucket)}); err != nil {
				t.Fatal(err)
			}
			before, err := srv.Meta.Resolve(ctx, tc.bucket, "main")
			if err != nil {
				t.Fatal(err)
			}
			status, lines, raw := importCall(t, srv, tc.bucket, apiv1.ImportRequest{Source: src, Prefix: tc.prefix, Mode: tc.mode, Message: "bulk"}, false)
			if status != 200 || len(lines) == 0 || lines[len(lines)-1].Result == nil {
				t.Fatalf("import: %d %s %+v", status, raw, lines)
			}
			res := lines[len(lines)-1].Result
			if res.Files != int64(len(files)) || res.SkippedCount != 1 || len(res.Skipped) != 1 || res.Skipped[0] != "link-out" {
				t.Fatalf("result %+v, want %d files and link-out skipped", res, len(files))
			}
			if tc.mode == "link" && res.Linked == 0 || tc.mode == "copy" && res.Linked != 0 {
				t.Fatalf("mode %s: %d linked", tc.mode, res.Linked)
			}
			after, err := srv.Meta.Resolve(ctx, tc.bucket, "main")
			if err != nil {
				t.Fatal(err)
			}
			log, err := srv.Meta.Log(ctx, after.Commit, 10)
			if err != nil {
				t.Fatal(err)
			}
			if after.Commit.ID != res.Commit || len(log) != 2 || log[1].ID != before.Commit.ID || after.Commit.Message != "bulk" {
				t.Fatalf("main at %s (log %d commits), want the import's one commit %s on %s", after.Commit.ID, len(log), res.Commit, before.Commit.ID)
			}
			for p, content := range files {
				key := tc.prefix + p
				g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(tc.bucket), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("GET %s: %v", key, err)
				}
				got, _ := io.ReadAll(g.Body)
				g.Body.Close()
				sum := md5.Sum([]byte(content))
				if string(got) != content || strings.Trim(aws.ToString(g.ETag), `"`) != hex.EncodeToString(sum[:]) || aws.ToString(g.VersionId) != res.Commit {
					t.Fatalf("GET %s: %d bytes, ETag %s, version %s", key, len(got), aws.ToString(g.ETag), aws.ToString(g.VersionId))
				}
			}
			// Linked: the blob and the source are one file; copied: two.
			sha := sha256.Sum256([]byte(files["sub/b.bin"]))
			var a, b syscall.Stat_t
			if err := syscall.Stat(filepath.Join(src, "sub", "b.bin"), &a); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Stat(filepath.Join(srv.DataDir, "blobs", filepath.FromSlash(blob.Key(hex.EncodeToString(sha[:])))), &b); err != nil {
				t.Fatal(err)
			}
			if same := a.Ino == b.Ino; same != (tc.mode == "link") {
				t.Fatalf("mode %s: blob is the source file: %v", tc.mode, same)
			}
			if open, _ := srv.Meta.ListOpenCommits(ctx, tc.bucket); len(open) != 0 {
				t.Fatalf("open commits left: %+v", open)
			}
		})
	}
}

// TestImportRefusals: what may not be imported is refused with a clear
// status before anything is read, and an import that fails midway (here:
// a file whose content was purged and blocked) commits nothing and leaves
// no open commit.
func TestImportRefusals(t *testing.T) {
	root := t.TempDir()
	srv := gatewaytest.Start(t, gateway.Config{ImportRoots: []string{root}})
	ctx := context.Background()
	if _, err := client(srv).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("refused")}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "src")
	importTree(t, src, map[string]string{"ok.txt": "fine", "bad.txt": "blocked bytes"})
	outside := t.TempDir()
	for _, tc := range []struct {
		name   string
		repo   string
		req    apiv1.ImportRequest
		anon   bool
		status int
	}{
		{"anonymous", "refused", apiv1.ImportRequest{Source: src}, true, 403},
		{"outside the roots", "refused", apiv1.ImportRequest{Source: outside}, false, 403},
		{"the data directory", "refused", apiv1.ImportRequest{Source: srv.DataDir}, false, 403},
		{"relative path", "refused", apiv1.ImportRequest{Source: "src"}, false, 400},
		{"escape by ..", "refused", apiv1.ImportRequest{Source: root + "/../" + filepath.Base(outside)}, false, 403},
		{"s3 source", "refused", apiv1.ImportRequest{Source: "s3://bucket/prefix"}, false, 501},
		{"absent", "refused", apiv1.ImportRequest{Source: filepath.Join(root, "nope")}, false, 404},
		{"unknown repo", "no-such-repo", apiv1.ImportRequest{Source: src}, false, 404},
		{"bad mode", "refused", apiv1.ImportRequest{Source: src, Mode: "move"}, false, 400},
		{"unknown branch", "refused", apiv1.ImportRequest{Source: src, Branch: "nope"}, false, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, lines, raw := importCall(t, srv, tc.repo, tc.req, tc.anon)
			if status == 200 {
				raw = fmt.Sprintf("%+v", lines)
			}
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, raw, tc.status)
			}
		})
	}

	// A blocked content midway: an error line, nothing committed.
	sum := sha256.Sum256([]byte("blocked bytes"))
	if _, err := srv.Meta.Purge(ctx, meta.PurgeRequest{Content: hex.EncodeToString(sum[:]), Block: true, User: "admin"}); err != nil {
		t.Fatal(err)
	}
	before, _ := srv.Meta.Resolve(ctx, "refused", "main")
	status, lines, raw := importCall(t, srv, "refused", apiv1.ImportRequest{Source: src}, false)
	if status != 200 || len(lines) == 0 || lines[len(lines)-1].Error == nil || !strings.Contains(lines[len(lines)-1].Error.Message, "bad.txt") {
		t.Fatalf("import of blocked content: %d %s %+v", status, raw, lines)
	}
	after, _ := srv.Meta.Resolve(ctx, "refused", "main")
	if after.Commit.ID != before.Commit.ID {
		t.Fatalf("main moved to %s after a failed import", after.Commit.ID)
	}
	if open, _ := srv.Meta.ListOpenCommits(ctx, "refused"); len(open) != 0 {
		t.Fatalf("open commits left: %+v", open)
	}
}

// TestImportNeedsRoots: a server started without --import-root refuses
// every import.
func TestImportNeedsRoots(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	if _, err := client(srv).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("noroots")}); err != nil {
		t.Fatal(err)
	}
	status, lines, raw := importCall(t, srv, "noroots", apiv1.ImportRequest{Source: t.TempDir()}, false)
	if status != 403 || !strings.Contains(raw, "--import-root") {
		t.Fatalf("%d %s %+v", status, raw, lines)
	}
}
