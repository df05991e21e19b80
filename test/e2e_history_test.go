package test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestHistoryThroughS3: what S3 clients see after version-control
// operations made through the admin side (SPEC §4, §6): a merge commit is
// the version of the keys it changed on the destination's first-parent
// history, a fast-forward and a reset move the listing with the branch, and
// a protected branch refuses direct writes.
func TestHistoryThroughS3(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	ms := e.srv.Meta

	latest := func(t *testing.T, bucket, key string) verEntry {
		t.Helper()
		for _, v := range e.versions(t, bucket) {
			if v.Key == key && v.IsLatest {
				return v
			}
		}
		t.Fatalf("%s/%s has no latest version", bucket, key)
		return verEntry{}
	}

	t.Run("merge commit is a version", func(t *testing.T) {
		repo := e.repo(t)
		put(t, c, repo, "shared", []byte("base"))
		createBucket(t, c, "dev."+repo)
		dv := aws.ToString(put(t, c, "dev."+repo, "from-dev", []byte("dev work")).VersionId)
		put(t, c, repo, "on-main", []byte("main work")) // forces a real merge
		res, err := ms.Merge(ctx(t), repo, "dev", "main", "", "admin", "merge dev")
		if err != nil {
			t.Fatal(err)
		}
		if res.FastForward || res.Commit == nil || len(res.Conflicts) != 0 {
			t.Fatalf("merge: %+v", res)
		}
		m := res.Commit.ID
		b, g := get(t, c, repo, "from-dev", "")
		if string(b) != "dev work" {
			t.Fatalf("merged key: %q", b)
		}
		lv := latest(t, repo, "from-dev")
		if aws.ToString(g.VersionId) != lv.VersionID {
			t.Fatalf("GET x-amz-version-id %s but ListObjectVersions says %s", aws.ToString(g.VersionId), lv.VersionID)
		}
		if lv.VersionID != m {
			t.Errorf("from-dev's version on main is %s; want the merge commit %s (dev's write was %s)", lv.VersionID, m, dv)
		}
		if b, _ := get(t, c, repo, "from-dev", lv.VersionID); string(b) != "dev work" {
			t.Fatalf("?versionId=%s: %q", lv.VersionID, b)
		}
		// Keys the merge did not change keep their versions.
		if v := latest(t, repo, "shared"); v.VersionID == m {
			t.Fatalf("shared's version became the merge commit")
		}
		raw := e.do(t, rawReq{method: "HEAD", bucket: repo})
		if raw.header.Get("X-Tusk-Commit") != m {
			t.Fatalf("main's head %q, want the merge commit %s", raw.header.Get("X-Tusk-Commit"), m)
		}
	})
	t.Run("fast-forward", func(t *testing.T) {
		repo := e.repo(t)
		put(t, c, repo, "k", []byte("v1"))
		createBucket(t, c, "ff."+repo)
		v2 := aws.ToString(put(t, c, "ff."+repo, "k", []byte("v2")).VersionId)
		res, err := ms.Merge(ctx(t), repo, "ff", "main", "", "admin", "")
		if err != nil {
			t.Fatal(err)
		}
		if !res.FastForward {
			t.Fatalf("merge of a descendant: %+v", res)
		}
		b, g := get(t, c, repo, "k", "")
		if string(b) != "v2" || aws.ToString(g.VersionId) != v2 {
			t.Fatalf("after fast-forward: %q version %s, want v2 %s", b, aws.ToString(g.VersionId), v2)
		}
		sameVersions(t, "fast-forward", e.versions(t, repo), e.versions(t, "ff."+repo))
	})
	t.Run("reset", func(t *testing.T) {
		repo := e.repo(t)
		v1 := aws.ToString(put(t, c, repo, "k", []byte("v1")).VersionId)
		put(t, c, repo, "k", []byte("v2"))
		put(t, c, repo, "later", []byte("later"))
		if _, err := ms.Reset(ctx(t), repo, "main", v1); err != nil {
			t.Fatal(err)
		}
		b, g := get(t, c, repo, "k", "")
		if string(b) != "v1" || aws.ToString(g.VersionId) != v1 {
			t.Fatalf("after reset: %q %s", b, aws.ToString(g.VersionId))
		}
		wantErr(t, getErr(t, c, repo, "later", ""), 404, "NoSuchKey")
		vs := e.versions(t, repo)
		if len(vs) != 1 || vs[0].VersionID != v1 || !vs[0].IsLatest {
			t.Fatalf("versions after reset: %v", vs)
		}
		// Writes continue from the reset head.
		v3 := aws.ToString(put(t, c, repo, "k", []byte("v3")).VersionId)
		vs = e.versions(t, repo)
		if len(vs) != 2 || vs[0].VersionID != v3 || vs[1].VersionID != v1 {
			t.Fatalf("versions after reset + write: %v", vs)
		}
	})
	t.Run("protected branch", func(t *testing.T) {
		repo := e.repo(t)
		put(t, c, repo, "k", []byte("before protection"))
		if err := ms.SetBranchProtected(ctx(t), repo, "main", true); err != nil {
			t.Fatal(err)
		}
		before := e.versions(t, repo)
		_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("k"), Body: bytes.NewReader([]byte("direct"))})
		wantErr(t, err, 403, "AccessDenied")
		if !strings.Contains(apiMessage(err), "main") {
			t.Errorf("refusal message %q does not name the branch", apiMessage(err))
		}
		_, err = c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String("k")})
		wantErr(t, err, 403, "AccessDenied")
		sameVersions(t, "protected", e.versions(t, repo), before)
		// Reads are unaffected; other branches take writes.
		if b, _ := get(t, c, repo, "k", ""); string(b) != "before protection" {
			t.Fatal(string(b))
		}
		createBucket(t, c, "work."+repo)
		put(t, c, "work."+repo, "k", []byte("on a branch"))
	})
}
