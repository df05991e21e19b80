package test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	minio "github.com/minio/minio-go/v7"
)

// TestVersionIDsAcrossRefs: x-amz-version-id is the commit id the write
// answered, stable through a branch created later, a tag (v1.REPO) and a
// commit bucket (<16-char prefix>.REPO); a commit outside the ref's history
// or that did not write the key is NoSuchVersion.
func TestVersionIDsAcrossRefs(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	v1 := aws.ToString(put(t, c, repo, "k", []byte("first")).VersionId)
	e.tag(t, repo, "v1", "main")
	vo := aws.ToString(put(t, c, repo, "other", []byte("other")).VersionId)
	v2 := aws.ToString(put(t, c, repo, "k", []byte("second")).VersionId)
	createBucket(t, c, "later."+repo)
	commitBucket := v1[:16] + "." + repo

	// The tag's commit is v1 (the tag was made right after that write).
	reads := []struct {
		bucket, version, want, wantVersion, wantCommit string
	}{
		{repo, "", "second", v2, v2},
		{repo, v1, "first", v1, v2},
		{"later." + repo, "", "second", v2, v2},
		{"later." + repo, v1, "first", v1, v2},
		{"later." + repo, v2, "second", v2, v2},
		{"v1." + repo, "", "first", v1, v1},
		{"v1." + repo, v1, "first", v1, v1},
		{commitBucket, "", "first", v1, v1},
		{commitBucket, v1, "first", v1, v1},
		{v1[:12] + "." + repo, "", "first", v1, v1},
		{v2[:16] + "." + repo, v1, "first", v1, v2},
		{v1 + "." + repo, "", "first", v1, v1},
		// A version id may be given as a unique 12+ char prefix.
		{repo, v1[:12], "first", v1, v2},
		{"later." + repo, v1[:20], "first", v1, v2},
	}
	for _, r := range reads {
		t.Run(r.bucket+"?versionId="+short(r.version), func(t *testing.T) {
			b, g := get(t, c, r.bucket, "k", r.version)
			if string(b) != r.want || aws.ToString(g.VersionId) != r.wantVersion {
				t.Fatalf("%q version %q, want %q %s", b, aws.ToString(g.VersionId), r.want, r.wantVersion)
			}
			q := ""
			if r.version != "" {
				q = "versionId=" + r.version
			}
			raw := e.do(t, rawReq{method: "HEAD", bucket: r.bucket, key: "k", query: q})
			if raw.status != 200 || raw.header.Get("X-Amz-Version-Id") != r.wantVersion || raw.header.Get("X-Tusk-Commit") != r.wantCommit {
				t.Fatalf("HEAD: %d x-amz-version-id %q x-tusk-commit %q; want %s %s", raw.status,
					raw.header.Get("X-Amz-Version-Id"), raw.header.Get("X-Tusk-Commit"), r.wantVersion, r.wantCommit)
			}
		})
	}
	t.Run("NoSuchVersion", func(t *testing.T) {
		// v2 is not in the tag's (or v1 commit's) history.
		wantErr(t, getErr(t, c, "v1."+repo, "k", v2), 404, "NoSuchVersion")
		wantErr(t, getErr(t, c, commitBucket, "k", v2), 404, "NoSuchVersion")
		// vo did not write k.
		wantErr(t, getErr(t, c, repo, "k", vo), 404, "NoSuchVersion")
		// An unknown commit id.
		wantErr(t, getErr(t, c, repo, "k", "0123456789abcdef0123456789abcdef"), 404, "NoSuchVersion")
		// A key the ref does not have.
		wantErr(t, getErr(t, c, "v1."+repo, "other", ""), 404, "NoSuchKey")
	})
	t.Run("unknown refs", func(t *testing.T) {
		// 11 chars is too short a commit prefix (12+ are accepted).
		for _, b := range []string{"v9." + repo, "0123456789abcdef." + repo, v1[:11] + "." + repo} {
			err := getErr(t, c, b, "k", "")
			wantErr(t, err, 404, "NoSuchBucket")
		}
	})
	t.Run("listings at refs", func(t *testing.T) {
		for _, b := range []string{"v1." + repo, commitBucket} {
			if got := keysOf(t, c, b); strings.Join(got, ",") != "k" {
				t.Fatalf("ListObjectsV2 %s: %q", b, got)
			}
			vs := e.versions(t, b)
			if len(vs) != 1 || vs[0].VersionID != v1 || !vs[0].IsLatest {
				t.Fatalf("ListObjectVersions %s: %v", b, vs)
			}
		}
		vs := e.versions(t, "later."+repo)
		if len(vs) != 3 || vs[0].VersionID != v2 || vs[1].VersionID != v1 || vs[2].VersionID != vo {
			t.Fatalf("ListObjectVersions later.%s: %v", repo, vs)
		}
	})
}

// TestReadOnlyRefs: writes to a tag bucket or a commit bucket are 403
// AccessDenied with a message naming the ref as read-only, through every
// write operation and client; nothing is written anywhere.
func TestReadOnlyRefs(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	v1 := aws.ToString(put(t, c, repo, "k", []byte("tagged content")).VersionId)
	e.tag(t, repo, "v1", "main")
	put(t, c, repo, "k2", []byte("later"))
	commitBucket := v1[:16] + "." + repo

	snapshot := func() map[string][]verEntry {
		return map[string][]verEntry{
			repo: e.versions(t, repo), "v1." + repo: e.versions(t, "v1."+repo), commitBucket: e.versions(t, commitBucket),
		}
	}
	before := snapshot()
	nothing := func(t *testing.T, what string) {
		t.Helper()
		after := snapshot()
		for b, vs := range before {
			sameVersions(t, what+" on "+b, after[b], vs)
		}
		b, _ := get(t, c, "v1."+repo, "k", "")
		if string(b) != "tagged content" {
			t.Fatalf("%s: tag now reads %q", what, b)
		}
	}

	for _, ro := range []struct{ bucket, name string }{{"v1." + repo, "v1"}, {commitBucket, v1[:16]}} {
		b := aws.String(ro.bucket)
		writes := []struct {
			name string
			call func() error
		}{
			{"PutObject new key", func() error {
				_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: b, Key: aws.String("new"), Body: bytes.NewReader([]byte("x"))})
				return err
			}},
			{"PutObject existing key", func() error {
				_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))})
				return err
			}},
			{"CopyObject into", func() error {
				_, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: b, Key: aws.String("copied"), CopySource: aws.String(repo + "/k2")})
				return err
			}},
			{"DeleteObject", func() error {
				_, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")})
				return err
			}},
			{"DeleteObject versionId (purge)", func() error {
				_, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)})
				return err
			}},
			{"DeleteObjects", func() error {
				_, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{
					Objects: []types.ObjectIdentifier{{Key: aws.String("k")}, {Key: aws.String("k2")}}}})
				return err
			}},
			{"minio PutObject (streaming)", func() error {
				body := bytes.Repeat([]byte("z"), 100<<10)
				_, err := e.minio(false).PutObject(ctx(t), ro.bucket, "k", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
				if err == nil {
					return nil
				}
				r := minio.ToErrorResponse(err)
				if r.StatusCode != 403 || r.Code != "AccessDenied" || !strings.Contains(r.Message, "read-only") || !strings.Contains(r.Message, ro.name) {
					t.Fatalf("minio: %d %s %q", r.StatusCode, r.Code, r.Message)
				}
				return errMinioChecked
			}},
		}
		for _, w := range writes {
			t.Run(ro.bucket+"/"+w.name, func(t *testing.T) {
				err := w.call()
				if err == errMinioChecked {
					nothing(t, w.name)
					return
				}
				wantErr(t, err, 403, "AccessDenied")
				if msg := apiMessage(err); !strings.Contains(msg, "read-only") || !strings.Contains(msg, ro.name) {
					t.Fatalf("message %q does not name %s as read-only", msg, ro.name)
				}
				nothing(t, w.name)
			})
		}
	}
	t.Run("tag to branch by copy is fine", func(t *testing.T) {
		if _, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(repo), Key: aws.String("restored"),
			CopySource: aws.String("v1." + repo + "/k")}); err != nil {
			t.Fatal(err)
		}
		if b, _ := get(t, c, repo, "restored", ""); string(b) != "tagged content" {
			t.Fatalf("restored: %q", b)
		}
	})
}

type checkedErr struct{}

func (checkedErr) Error() string { return "checked" }

var errMinioChecked error = checkedErr{}
