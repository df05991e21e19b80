package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// Harness is one backend under test and the callers the suite acts as.
type Harness struct {
	// Backend is fresh: it holds no repo.
	Backend s3api.Backend
	// Admin may do everything, create repos included.
	Admin s3api.Caller
	// Stranger is a signed-in caller with no right on any repo and no
	// right to create one.
	Stranger s3api.Caller
}

// Run runs the conformance suite. newHarness must return a fresh harness
// for each subtest, usable until the end of the (sub)test it is given.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(*suite)
	}{
		{"Buckets", testBuckets},
		{"DeleteBucket", testDeleteBucket},
		{"PutHeadOpen", testPutHeadOpen},
		{"PutRefused", testPutRefused},
		{"Conditions", testConditions},
		{"Copy", testCopy},
		{"Delete", testDelete},
		{"DeleteObjectsOneCommit", testDeleteObjects},
		{"RemoveVersions", testRemoveVersions},
		{"List", testList},
		{"ListVersions", testListVersions},
		{"Versioning", testVersioning},
		{"Multipart", testMultipart},
		{"MultipartScope", testMultipartScope},
		{"ReadOnlyRefs", testReadOnlyRefs},
		{"Permissions", testPermissions},
		{"Anonymous", testAnonymous},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			h := newHarness(t)
			tc.fn(&suite{t: t, ctx: ctx, h: h, b: h.Backend, admin: h.Admin})
		})
	}
}

// suite is one subtest's state.
type suite struct {
	t     *testing.T
	ctx   context.Context
	h     Harness
	b     s3api.Backend
	admin s3api.Caller
}

// wantErr fails unless err has kind and, when code is not "", that S3
// code. It is the suite's one assertion on errors.
func wantErr(t *testing.T, what string, err error, kind errs.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v (%s)", what, kind, code)
	}
	if got := errs.KindOf(err); got != kind {
		t.Fatalf("%s: kind %v, want %v: %v", what, got, kind, err)
	}
	if code != "" {
		if got := s3api.ErrorCode(err); got != code {
			t.Fatalf("%s: code %q, want %q: %v", what, got, code, err)
		}
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// repo creates repo name as the admin.
func (s *suite) repo(name string) {
	s.t.Helper()
	must(s.t, "CreateBucket "+name, s.b.CreateBucket(s.ctx, s.admin, name, "", s3api.BucketOptions{}))
}

// branch creates branch ref of repo.
func (s *suite) branch(repo, ref string) {
	s.t.Helper()
	must(s.t, "CreateBucket "+ref+"."+repo, s.b.CreateBucket(s.ctx, s.admin, repo, ref, s3api.BucketOptions{}))
}

// bucket resolves repo at ref now (a Bucket is a view of one moment: the
// suite resolves again before each read, as s3api does per request).
func (s *suite) bucket(repo, ref string) s3api.Bucket {
	s.t.Helper()
	b, err := s.b.Resolve(s.ctx, repo, ref)
	must(s.t, "Resolve "+repo+"@"+ref, err)
	return b
}

func (s *suite) put(repo, ref, key, body string) s3api.Object {
	s.t.Helper()
	return s.putOpts(repo, ref, key, body, s3api.PutOptions{})
}

func (s *suite) putOpts(repo, ref, key, body string, opts s3api.PutOptions) s3api.Object {
	s.t.Helper()
	opts.Size = int64(len(body))
	o, err := s.b.Put(s.ctx, s.admin, s.bucket(repo, ref), key, strings.NewReader(body), opts)
	must(s.t, "Put "+key, err)
	if o.VersionID == "" {
		s.t.Fatalf("Put %s: no VersionID", key)
	}
	return o
}

func (s *suite) head(repo, ref, key, version string) s3api.Object {
	s.t.Helper()
	o, err := s.b.Head(s.ctx, s.admin, s.bucket(repo, ref), key, version)
	must(s.t, "Head "+key, err)
	return o
}

// read reads key's current content at ref.
func (s *suite) read(repo, ref, key string) string {
	s.t.Helper()
	b := s.bucket(repo, ref)
	o, err := s.b.Head(s.ctx, s.admin, b, key, "")
	must(s.t, "Head "+key, err)
	return s.open(b, o, 0, -1)
}

func (s *suite) open(b s3api.Bucket, o s3api.Object, off, length int64) string {
	s.t.Helper()
	rc, err := s.b.Open(s.ctx, s.admin, b, o, off, length)
	must(s.t, "Open "+o.Key, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	must(s.t, "read "+o.Key, err)
	return string(data)
}

func (s *suite) del(repo, ref string, items ...s3api.DeleteItem) []s3api.DeleteResult {
	s.t.Helper()
	res, err := s.b.Delete(s.ctx, s.admin, s.bucket(repo, ref), items)
	must(s.t, "Delete", err)
	if len(res) != len(items) {
		s.t.Fatalf("Delete of %d items answered %d results", len(items), len(res))
	}
	for i, r := range res {
		if r.Key != items[i].Key || r.VersionID != items[i].VersionID {
			s.t.Fatalf("result %d is for %q@%q, want %q@%q", i, r.Key, r.VersionID, items[i].Key, items[i].VersionID)
		}
	}
	return res
}

func md5hex(s string) string { m := md5.Sum([]byte(s)); return hex.EncodeToString(m[:]) }

// unknownVersion is a well-formed version id no backend made.
const unknownVersion = "0123456789abcdef0123456789abcdef"

func keysOf(objs []s3api.Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testBuckets(s *suite) {
	t := s.t
	s.repo("alpha")
	wantErr(t, "CreateBucket of an existing repo", s.b.CreateBucket(s.ctx, s.admin, "alpha", "", s3api.BucketOptions{}), errs.Exist, "")
	b := s.bucket("alpha", "")
	if b.Repo != "alpha" || b.Ref != "main" || b.Kind != s3api.RefBranch || !b.Writable {
		t.Fatalf("alpha resolves to %+v", b)
	}
	if b.Owner != s.admin.User {
		t.Fatalf("owner %q, want %q", b.Owner, s.admin.User)
	}

	s.branch("alpha", "dev")
	if d := s.bucket("alpha", "dev"); d.Ref != "dev" || d.Kind != s3api.RefBranch || !d.Writable {
		t.Fatalf("dev.alpha resolves to %+v", d)
	}
	wantErr(t, "CreateBucket of an existing branch", s.b.CreateBucket(s.ctx, s.admin, "alpha", "dev", s3api.BucketOptions{}), errs.Exist, "")
	wantErr(t, "CreateBucket of a branch of an unknown repo", s.b.CreateBucket(s.ctx, s.admin, "nosuch", "dev", s3api.BucketOptions{}), errs.NotExist, "")

	for _, name := range []string{"Bad_Name", "ab", "-alpha", "a..b", strings.Repeat("x", 64)} {
		wantErr(t, "CreateBucket "+name, s.b.CreateBucket(s.ctx, s.admin, name, "", s3api.BucketOptions{}), errs.Invalid, "InvalidBucketName")
	}

	_, err := s.b.Resolve(s.ctx, "nosuch", "")
	wantErr(t, "Resolve of an unknown repo", err, errs.NotExist, "")
	_, err = s.b.Resolve(s.ctx, "alpha", "nosuch")
	wantErr(t, "Resolve of an unknown ref", err, errs.NotExist, "")

	s.repo("beta")
	must(t, "CreateBucket with options", s.b.CreateBucket(s.ctx, s.admin, "gamma", "", s3api.BucketOptions{Location: "eu-west-1", Public: true}))
	if g := s.bucket("gamma", ""); g.Location != "eu-west-1" || !g.Public {
		t.Fatalf("gamma: location %q public %v", g.Location, g.Public)
	}
	must(t, "SetPublic", s.b.SetPublic(s.ctx, s.admin, "gamma", false))
	if s.bucket("gamma", "").Public {
		t.Fatal("gamma is still public")
	}
	repos, err := s.b.ListRepos(s.ctx, s.admin)
	must(t, "ListRepos", err)
	var names []string
	for _, r := range repos {
		names = append(names, r.Name)
		if r.Created.IsZero() {
			t.Fatalf("repo %s without a creation time", r.Name)
		}
	}
	if !sameStrings(names, []string{"alpha", "beta", "gamma"}) {
		t.Fatalf("ListRepos: %v", names)
	}
}

func testDeleteBucket(s *suite) {
	t := s.t
	s.repo("alpha")
	s.branch("alpha", "dev")
	s.put("alpha", "dev", "k", "v")
	wantErr(t, "DeleteBucket of a branch with keys", s.b.DeleteBucket(s.ctx, s.admin, "alpha", "dev"), errs.Conflict, "BucketNotEmpty")
	wantErr(t, "DeleteBucket of a repo with keys", s.b.DeleteBucket(s.ctx, s.admin, "alpha", ""), errs.Conflict, "BucketNotEmpty")
	wantErr(t, "DeleteBucket of main", s.b.DeleteBucket(s.ctx, s.admin, "alpha", "main"), errs.Invalid, "")
	s.del("alpha", "dev", s3api.DeleteItem{Key: "k"})
	must(t, "DeleteBucket of an emptied branch", s.b.DeleteBucket(s.ctx, s.admin, "alpha", "dev"))
	_, err := s.b.Resolve(s.ctx, "alpha", "dev")
	wantErr(t, "Resolve of a deleted branch", err, errs.NotExist, "")
	must(t, "DeleteBucket of an empty repo", s.b.DeleteBucket(s.ctx, s.admin, "alpha", ""))
	_, err = s.b.Resolve(s.ctx, "alpha", "")
	wantErr(t, "Resolve of a deleted repo", err, errs.NotExist, "")
	wantErr(t, "DeleteBucket of an unknown repo", s.b.DeleteBucket(s.ctx, s.admin, "alpha", ""), errs.NotExist, "")
}

func testPutHeadOpen(s *suite) {
	t := s.t
	s.repo("alpha")
	m := s3api.ObjectMeta{ContentType: "text/plain", CacheControl: "no-cache", User: map[string]string{"color": "blue"}}
	o := s.putOpts("alpha", "", "a/b.txt", "hello world", s3api.PutOptions{Meta: m})
	if o.Key != "a/b.txt" || o.Size != 11 || o.ETag != md5hex("hello world") {
		t.Fatalf("Put answered %+v", o)
	}
	h := s.head("alpha", "", "a/b.txt", "")
	if h.VersionID != o.VersionID || h.ETag != o.ETag || h.Size != 11 || h.DeleteMarker {
		t.Fatalf("Head %+v after Put %+v", h, o)
	}
	if h.Meta.ContentType != "text/plain" || h.Meta.CacheControl != "no-cache" || h.Meta.User["color"] != "blue" {
		t.Fatalf("metadata %+v", h.Meta)
	}
	if h.LastModified.IsZero() {
		t.Fatal("no LastModified")
	}
	if hv := s.head("alpha", "", "a/b.txt", o.VersionID); hv.ETag != o.ETag {
		t.Fatalf("Head by version: %+v", hv)
	}
	b := s.bucket("alpha", "")
	for _, tc := range []struct {
		off, length int64
		want        string
	}{{0, -1, "hello world"}, {6, 5, "world"}, {6, -1, "world"}, {0, 1, "h"}, {10, 1, "d"}} {
		if got := s.open(b, h, tc.off, tc.length); got != tc.want {
			t.Fatalf("Open(%d, %d) = %q, want %q", tc.off, tc.length, got, tc.want)
		}
	}

	o2 := s.put("alpha", "", "a/b.txt", "second")
	if o2.VersionID == o.VersionID {
		t.Fatal("an overwrite kept the version id")
	}
	if got := s.read("alpha", "", "a/b.txt"); got != "second" {
		t.Fatalf("read %q after overwrite", got)
	}
	if old := s.head("alpha", "", "a/b.txt", o.VersionID); old.ETag != o.ETag {
		t.Fatalf("the first version is %+v", old)
	} else if got := s.open(s.bucket("alpha", ""), old, 0, -1); got != "hello world" {
		t.Fatalf("the first version reads %q", got)
	}

	_, err := s.b.Head(s.ctx, s.admin, s.bucket("alpha", ""), "nosuch", "")
	wantErr(t, "Head of a missing key", err, errs.NotExist, "NoSuchKey")
	_, err = s.b.Head(s.ctx, s.admin, s.bucket("alpha", ""), "a/b.txt", unknownVersion)
	wantErr(t, "Head of an unknown version", err, errs.NotExist, "NoSuchVersion")

	sums := map[string]string{"CRC32": "DUoRhQ=="}
	c := s.putOpts("alpha", "", "sum", "hello world", s3api.PutOptions{ChecksumType: "FULL_OBJECT",
		Finish: func() (map[string]string, error) { return sums, nil }})
	if hc := s.head("alpha", "", "sum", ""); hc.Checksums["CRC32"] != sums["CRC32"] || hc.VersionID != c.VersionID {
		t.Fatalf("checksums %v", hc.Checksums)
	}
}

func testPutRefused(s *suite) {
	t := s.t
	s.repo("alpha")
	s.put("alpha", "", "k", "old")
	bad := md5.Sum([]byte("other"))
	_, err := s.b.Put(s.ctx, s.admin, s.bucket("alpha", ""), "k", strings.NewReader("new"), s3api.PutOptions{Size: 3, ContentMD5: bad[:]})
	wantErr(t, "Put with a wrong Content-MD5", err, errs.Invalid, "BadDigest")
	good := md5.Sum([]byte("new"))
	refuse := errs.E("test.Finish", errs.Invalid, "checksum mismatch").Because(errs.Digest)
	_, err = s.b.Put(s.ctx, s.admin, s.bucket("alpha", ""), "k", strings.NewReader("new"), s3api.PutOptions{Size: 3, ContentMD5: good[:],
		Finish: func() (map[string]string, error) { return nil, refuse }})
	if !errors.Is(err, refuse) && s3api.ErrorCode(err) != "BadDigest" {
		t.Fatalf("Put whose Finish fails: %v, want Finish's error", err)
	}
	_, err = s.b.Put(s.ctx, s.admin, s.bucket("alpha", ""), "k", iotestErr{}, s3api.PutOptions{Size: -1})
	if err == nil {
		t.Fatal("Put of a failing body succeeded")
	}
	if got := s.read("alpha", "", "k"); got != "old" {
		t.Fatalf("a refused Put changed the key: %q", got)
	}
	_, err = s.b.Put(s.ctx, s.admin, s.bucket("alpha", ""), "", strings.NewReader("x"), s3api.PutOptions{Size: 1})
	if err == nil {
		t.Fatal("Put of an empty key succeeded")
	}
	_, err = s.b.Put(s.ctx, s.admin, s.bucket("alpha", ""), strings.Repeat("k", 1025), strings.NewReader("x"), s3api.PutOptions{Size: 1})
	if err == nil {
		t.Fatal("Put of a 1025-byte key succeeded")
	}
}

// iotestErr is a body that fails.
type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("the client went away") }

func testConditions(s *suite) {
	t := s.t
	s.repo("alpha")
	put := func(key, body string, opts s3api.PutOptions) (s3api.Object, error) {
		opts.Size = int64(len(body))
		return s.b.Put(s.ctx, s.admin, s.bucket("alpha", ""), key, strings.NewReader(body), opts)
	}
	_, err := put("k", "one", s3api.PutOptions{IfNoneMatch: "*"})
	must(t, "If-None-Match * on a new key", err)
	_, err = put("k", "two", s3api.PutOptions{IfNoneMatch: "*"})
	wantErr(t, "If-None-Match * on an existing key", err, errs.Conflict, "PreconditionFailed")
	_, err = put("k", "two", s3api.PutOptions{IfMatch: md5hex("other")})
	wantErr(t, "If-Match with another ETag", err, errs.Conflict, "PreconditionFailed")
	if got := s.read("alpha", "", "k"); got != "one" {
		t.Fatalf("a failed condition wrote: %q", got)
	}
	_, err = put("k", "two", s3api.PutOptions{IfMatch: md5hex("one")})
	must(t, "If-Match with the current ETag", err)
	_, err = put("k", "three", s3api.PutOptions{IfMatch: "*"})
	must(t, "If-Match * on an existing key", err)
	_, err = put("nosuch", "x", s3api.PutOptions{IfMatch: "*"})
	if err == nil {
		t.Fatal("If-Match on a missing key succeeded")
	}
	if got := s.read("alpha", "", "k"); got != "three" {
		t.Fatalf("read %q", got)
	}
	// A deleted key is absent for conditions.
	s.del("alpha", "", s3api.DeleteItem{Key: "k"})
	_, err = put("k", "four", s3api.PutOptions{IfNoneMatch: "*"})
	must(t, "If-None-Match * on a deleted key", err)
}

func testCopy(s *suite) {
	t := s.t
	s.repo("alpha")
	s.repo("beta")
	src := s.putOpts("alpha", "", "src", "payload", s3api.PutOptions{Meta: s3api.ObjectMeta{ContentType: "text/x-src", User: map[string]string{"a": "1"}}})
	srcObj := s.head("alpha", "", "src", "")
	o, err := s.b.Copy(s.ctx, s.admin, s.bucket("beta", ""), "kept", srcObj, s3api.PutOptions{})
	must(t, "Copy", err)
	if o.ETag != src.ETag || o.Size != src.Size || o.VersionID == "" {
		t.Fatalf("Copy answered %+v", o)
	}
	k := s.head("beta", "", "kept", "")
	if k.Meta.ContentType != "text/x-src" || k.Meta.User["a"] != "1" || k.ETag != src.ETag {
		t.Fatalf("copy kept %+v", k)
	}
	if got := s.read("beta", "", "kept"); got != "payload" {
		t.Fatalf("copy reads %q", got)
	}
	_, err = s.b.Copy(s.ctx, s.admin, s.bucket("beta", ""), "replaced", srcObj, s3api.PutOptions{ReplaceMeta: true,
		Meta: s3api.ObjectMeta{ContentType: "text/x-new", User: map[string]string{"b": "2"}}})
	must(t, "Copy replacing metadata", err)
	r := s.head("beta", "", "replaced", "")
	if r.Meta.ContentType != "text/x-new" || r.Meta.User["b"] != "2" || r.Meta.User["a"] != "" {
		t.Fatalf("copy replaced %+v", r.Meta)
	}
	_, err = s.b.Copy(s.ctx, s.admin, s.bucket("beta", ""), "kept", srcObj, s3api.PutOptions{IfNoneMatch: "*"})
	wantErr(t, "Copy with If-None-Match * onto an existing key", err, errs.Conflict, "PreconditionFailed")
	// The source survives a later overwrite in the copy.
	s.put("alpha", "", "src", "changed")
	if got := s.read("beta", "", "kept"); got != "payload" {
		t.Fatalf("copy reads %q after its source changed", got)
	}
}

func testDelete(s *suite) {
	t := s.t
	s.repo("alpha")
	v1 := s.put("alpha", "", "k", "one")
	res := s.del("alpha", "", s3api.DeleteItem{Key: "k"})
	if res[0].Err != nil || !res[0].DeleteMarker || res[0].DeleteMarkerVersionID == "" || res[0].DeleteMarkerVersionID == v1.VersionID {
		t.Fatalf("Delete answered %+v", res[0])
	}
	marker := res[0].DeleteMarkerVersionID
	o, err := s.b.Head(s.ctx, s.admin, s.bucket("alpha", ""), "k", "")
	wantErr(t, "Head of a deleted key", err, errs.NotExist, "NoSuchKey")
	if !o.DeleteMarker {
		t.Fatalf("Head of a deleted key answered %+v, want the marker", o)
	}
	o, err = s.b.Head(s.ctx, s.admin, s.bucket("alpha", ""), "k", marker)
	wantErr(t, "Head of a delete marker by version", err, errs.Invalid, "MethodNotAllowed")
	if !o.DeleteMarker || o.VersionID != marker {
		t.Fatalf("Head of the marker answered %+v", o)
	}
	if old := s.head("alpha", "", "k", v1.VersionID); old.ETag != v1.ETag {
		t.Fatalf("the deleted version is %+v", old)
	}
	lr, err := s.b.List(s.ctx, s.admin, s.bucket("alpha", ""), s3api.ListOptions{MaxKeys: 1000})
	must(t, "List", err)
	if len(lr.Objects) != 0 {
		t.Fatalf("a deleted key is listed: %v", keysOf(lr.Objects))
	}

	// Conditional deletes (DeleteObject's If-Match).
	cur := s.put("alpha", "", "c", "x")
	_, err = s.b.Delete(s.ctx, s.admin, s.bucket("alpha", ""), []s3api.DeleteItem{{Key: "c", IfMatch: md5hex("other")}})
	wantErr(t, "Delete with a failing If-Match", err, errs.Conflict, "PreconditionFailed")
	_, err = s.b.Delete(s.ctx, s.admin, s.bucket("alpha", ""), []s3api.DeleteItem{{Key: "nosuch", IfMatch: "*"}})
	wantErr(t, "Delete with If-Match of a missing key", err, errs.NotExist, "NoSuchKey")
	if h := s.head("alpha", "", "c", ""); h.VersionID != cur.VersionID {
		t.Fatalf("a failed conditional delete changed the key: %+v", h)
	}
	res = s.del("alpha", "", s3api.DeleteItem{Key: "c", IfMatch: cur.ETag})
	if res[0].Err != nil || !res[0].DeleteMarker {
		t.Fatalf("Delete with a matching If-Match answered %+v", res[0])
	}
}

func testDeleteObjects(s *suite) {
	t := s.t
	s.repo("alpha")
	for _, k := range []string{"a", "b", "c", "keep"} {
		s.put("alpha", "", k, "v-"+k)
	}
	before := s.bucket("alpha", "").Commit
	res := s.del("alpha", "", s3api.DeleteItem{Key: "a"}, s3api.DeleteItem{Key: "b"}, s3api.DeleteItem{Key: "c"})
	id := res[0].DeleteMarkerVersionID
	for _, r := range res {
		if r.Err != nil || !r.DeleteMarker || r.DeleteMarkerVersionID != id || id == "" {
			t.Fatalf("DeleteObjects answered %+v", res)
		}
	}
	after := s.bucket("alpha", "").Commit
	if after == before || after != id {
		t.Fatalf("DeleteObjects: head %s -> %s, markers %s: not one commit", before, after, id)
	}
	lr, err := s.b.List(s.ctx, s.admin, s.bucket("alpha", ""), s3api.ListOptions{MaxKeys: 1000})
	must(t, "List", err)
	if got := keysOf(lr.Objects); !sameStrings(got, []string{"keep"}) {
		t.Fatalf("after DeleteObjects: %v", got)
	}
	// A version that does not exist is removed successfully; a malformed
	// version id is the item's error, not the request's; deleting a
	// missing key makes a delete marker, as on S3.
	res = s.del("alpha", "", s3api.DeleteItem{Key: "keep", VersionID: unknownVersion}, s3api.DeleteItem{Key: "nokey"},
		s3api.DeleteItem{Key: "keep", VersionID: "not-a-version"})
	if res[0].Err != nil || res[0].DeleteMarker {
		t.Fatalf("removal of an unknown version answered %+v", res[0])
	}
	if res[1].Err != nil || !res[1].DeleteMarker {
		t.Fatalf("deleting a missing key answered %+v", res[1])
	}
	wantErr(t, "removal of a malformed version id", res[2].Err, errs.NotExist, "NoSuchVersion")
	if got := s.read("alpha", "", "keep"); got != "v-keep" {
		t.Fatalf("keep reads %q", got)
	}
}

func testRemoveVersions(s *suite) {
	t := s.t
	s.repo("alpha")
	v1 := s.put("alpha", "", "k", "one")
	v2 := s.put("alpha", "", "k", "two")
	res := s.del("alpha", "", s3api.DeleteItem{Key: "k", VersionID: v2.VersionID})
	if res[0].Err != nil || res[0].DeleteMarker {
		t.Fatalf("removal of the newest version answered %+v", res[0])
	}
	if got := s.read("alpha", "", "k"); got != "one" {
		t.Fatalf("after removing the newest version: %q", got)
	}
	_, err := s.b.Head(s.ctx, s.admin, s.bucket("alpha", ""), "k", v2.VersionID)
	wantErr(t, "Head of a removed version", err, errs.NotExist, "NoSuchVersion")
	vs := s.versions("alpha", "", s3api.VersionListOptions{MaxKeys: 1000})
	if len(vs) != 1 || vs[0].VersionID != v1.VersionID || !vs[0].IsLatest {
		t.Fatalf("versions after a removal: %+v", vs)
	}
	// Removing a delete marker brings the key back.
	res = s.del("alpha", "", s3api.DeleteItem{Key: "k"})
	marker := res[0].DeleteMarkerVersionID
	res = s.del("alpha", "", s3api.DeleteItem{Key: "k", VersionID: marker})
	if res[0].Err != nil || !res[0].DeleteMarker || res[0].DeleteMarkerVersionID != marker {
		t.Fatalf("removal of a delete marker answered %+v", res[0])
	}
	if got := s.read("alpha", "", "k"); got != "one" {
		t.Fatalf("after removing the marker: %q", got)
	}
}

func (s *suite) versions(repo, ref string, opts s3api.VersionListOptions) []s3api.ObjectVersion {
	s.t.Helper()
	res, err := s.b.ListVersions(s.ctx, s.admin, s.bucket(repo, ref), opts)
	must(s.t, "ListVersions", err)
	return res.Versions
}

func testList(s *suite) {
	t := s.t
	s.repo("alpha")
	keys := []string{"a", "b/1", "b/2", "b/sub/3", "c", "c/x", "d"}
	for _, k := range keys {
		s.put("alpha", "", k, k)
	}
	list := func(opts s3api.ListOptions) s3api.ListResult {
		t.Helper()
		if opts.MaxKeys == 0 {
			opts.MaxKeys = 1000
		}
		lr, err := s.b.List(s.ctx, s.admin, s.bucket("alpha", ""), opts)
		must(t, "List", err)
		return lr
	}
	tests := []struct {
		name     string
		opts     s3api.ListOptions
		objects  []string
		prefixes []string
		trunc    bool
		next     string
	}{
		{"all", s3api.ListOptions{}, keys, nil, false, ""},
		{"delimiter", s3api.ListOptions{Delimiter: "/"}, []string{"a", "c", "d"}, []string{"b/", "c/"}, false, ""},
		{"prefix", s3api.ListOptions{Prefix: "b/"}, []string{"b/1", "b/2", "b/sub/3"}, nil, false, ""},
		{"prefix and delimiter", s3api.ListOptions{Prefix: "b/", Delimiter: "/"}, []string{"b/1", "b/2"}, []string{"b/sub/"}, false, ""},
		{"start-after", s3api.ListOptions{StartAfter: "b/2"}, []string{"b/sub/3", "c", "c/x", "d"}, nil, false, ""},
		{"start-after a prefix", s3api.ListOptions{StartAfter: "b/", Delimiter: "/"}, []string{"c", "d"}, []string{"c/"}, false, ""},
		{"max", s3api.ListOptions{MaxKeys: 2}, []string{"a", "b/1"}, nil, true, "b/1"},
		{"max with prefixes", s3api.ListOptions{MaxKeys: 2, Delimiter: "/"}, []string{"a"}, []string{"b/"}, true, "b/"},
		{"nothing", s3api.ListOptions{Prefix: "zz"}, nil, nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lr := list(tc.opts)
			if got := keysOf(lr.Objects); !sameStrings(got, append([]string{}, tc.objects...)) {
				t.Fatalf("objects %v, want %v", got, tc.objects)
			}
			if !sameStrings(lr.CommonPrefixes, tc.prefixes) {
				t.Fatalf("prefixes %v, want %v", lr.CommonPrefixes, tc.prefixes)
			}
			if lr.IsTruncated != tc.trunc || (tc.trunc && lr.Next != tc.next) {
				t.Fatalf("truncated %v next %q, want %v %q", lr.IsTruncated, lr.Next, tc.trunc, tc.next)
			}
		})
	}
	// Paging by Next visits every key once.
	var all []string
	after := ""
	for i := 0; i < 10; i++ {
		lr := list(s3api.ListOptions{MaxKeys: 3, StartAfter: after})
		all = append(all, keysOf(lr.Objects)...)
		if !lr.IsTruncated {
			break
		}
		after = lr.Next
	}
	if !sameStrings(all, keys) {
		t.Fatalf("paged %v", all)
	}
	lr := list(s3api.ListOptions{Prefix: "a"})
	if len(lr.Objects) != 1 || lr.Objects[0].ETag != md5hex("a") || lr.Objects[0].Size != 1 || lr.Objects[0].VersionID == "" {
		t.Fatalf("listed object %+v", lr.Objects)
	}
}

func testListVersions(s *suite) {
	t := s.t
	s.repo("alpha")
	a1 := s.put("alpha", "", "a", "1")
	k1 := s.put("alpha", "", "k", "1")
	k2 := s.put("alpha", "", "k", "2")
	res := s.del("alpha", "", s3api.DeleteItem{Key: "k"})
	km := res[0].DeleteMarkerVersionID
	s.put("alpha", "", "p/x", "x")
	vs := s.versions("alpha", "", s3api.VersionListOptions{MaxKeys: 1000, Delimiter: "/"})
	type v struct {
		key, id       string
		latest, marks bool
	}
	want := []v{{"a", a1.VersionID, true, false}, {"k", km, true, true}, {"k", k2.VersionID, false, false}, {"k", k1.VersionID, false, false}}
	if len(vs) != len(want) {
		t.Fatalf("versions %+v, want %+v", vs, want)
	}
	for i, w := range want {
		g := vs[i]
		if g.Key != w.key || g.VersionID != w.id || g.IsLatest != w.latest || g.DeleteMarker != w.marks {
			t.Fatalf("version %d: %s %s latest=%v marker=%v, want %+v", i, g.Key, g.VersionID, g.IsLatest, g.DeleteMarker, w)
		}
	}
	full, err := s.b.ListVersions(s.ctx, s.admin, s.bucket("alpha", ""), s3api.VersionListOptions{MaxKeys: 1000, Delimiter: "/"})
	must(t, "ListVersions", err)
	if !sameStrings(full.CommonPrefixes, []string{"p/"}) || full.IsTruncated {
		t.Fatalf("prefixes %v truncated %v", full.CommonPrefixes, full.IsTruncated)
	}
	// Paging one by one visits the same versions in the same order.
	var paged []string
	opts := s3api.VersionListOptions{MaxKeys: 1}
	for i := 0; i < 20; i++ {
		pg, err := s.b.ListVersions(s.ctx, s.admin, s.bucket("alpha", ""), opts)
		must(t, "ListVersions page", err)
		for _, v := range pg.Versions {
			paged = append(paged, v.Key+"@"+v.VersionID)
		}
		if !pg.IsTruncated {
			break
		}
		if pg.NextKeyMarker == "" {
			t.Fatal("a truncated page without NextKeyMarker")
		}
		opts.KeyMarker, opts.VersionIDMarker = pg.NextKeyMarker, pg.NextVersionIDMarker
	}
	wantPaged := []string{"a@" + a1.VersionID, "k@" + km, "k@" + k2.VersionID, "k@" + k1.VersionID}
	if len(paged) != 5 || !sameStrings(paged[:4], wantPaged) || !strings.HasPrefix(paged[4], "p/x@") {
		t.Fatalf("paged %v", paged)
	}
	// A key marker alone starts after every version of that key.
	if vs := s.versions("alpha", "", s3api.VersionListOptions{MaxKeys: 1000, KeyMarker: "k"}); len(vs) != 1 || vs[0].Key != "p/x" {
		t.Fatalf("after key marker k: %+v", vs)
	}
	if vs := s.versions("alpha", "", s3api.VersionListOptions{MaxKeys: 1000, Prefix: "k"}); len(vs) != 3 {
		t.Fatalf("prefix k: %+v", vs)
	}
}

func testVersioning(s *suite) {
	t := s.t
	s.repo("alpha")
	if v := s.bucket("alpha", "").Versioning; v != "" {
		t.Fatalf("a new branch has versioning %q, want \"\" (Enabled)", v)
	}
	must(t, "SetVersioning Suspended", s.b.SetVersioning(s.ctx, s.admin, s.bucket("alpha", ""), "Suspended"))
	if v := s.bucket("alpha", "").Versioning; v != "Suspended" {
		t.Fatalf("versioning %q after Suspended", v)
	}
	must(t, "SetVersioning Enabled", s.b.SetVersioning(s.ctx, s.admin, s.bucket("alpha", ""), "Enabled"))
	if v := s.bucket("alpha", "").Versioning; v != "" && v != "Enabled" {
		t.Fatalf("versioning %q after Enabled", v)
	}
}

// completeOpts completes with the parts' ETags as a client lists them.
func completeOpts(etag string) s3api.CompleteOptions {
	return s3api.CompleteOptions{ETag: etag, Check: func(u s3api.Upload, parts []s3api.Part) (s3api.Completion, error) {
		return s3api.Completion{}, nil
	}}
}

// multipartETag is S3's ETag of an object made of parts.
func multipartETag(parts ...string) string {
	var all []byte
	for _, p := range parts {
		m := md5.Sum([]byte(p))
		all = append(all, m[:]...)
	}
	m := md5.Sum(all)
	return hex.EncodeToString(m[:]) + "-" + itoa(len(parts))
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func (s *suite) part(b s3api.Bucket, key, id string, n int, body string) s3api.Part {
	s.t.Helper()
	p, err := s.b.UploadPart(s.ctx, s.admin, b, key, id, n, strings.NewReader(body), s3api.PartOptions{Size: int64(len(body))})
	must(s.t, "UploadPart", err)
	if p.Number != n || p.Size != int64(len(body)) || p.ETag != md5hex(body) {
		s.t.Fatalf("UploadPart answered %+v", p)
	}
	return p
}

func testMultipart(s *suite) {
	t := s.t
	s.repo("alpha")
	b := s.bucket("alpha", "")
	u, err := s.b.CreateMultipartUpload(s.ctx, s.admin, b, "big", s3api.UploadOptions{Meta: s3api.ObjectMeta{ContentType: "text/x-big"}})
	must(t, "CreateMultipartUpload", err)
	if u.ID == "" || u.Key != "big" || u.User != s.admin.User {
		t.Fatalf("upload %+v", u)
	}
	g, err := s.b.GetMultipartUpload(s.ctx, s.admin, b, "big", u.ID)
	must(t, "GetMultipartUpload", err)
	if g.ID != u.ID || g.Meta.ContentType != "text/x-big" {
		t.Fatalf("GetMultipartUpload %+v", g)
	}
	p1, p2 := strings.Repeat("a", 100), strings.Repeat("b", 50)
	s.part(b, "big", u.ID, 1, "replaced")
	s.part(b, "big", u.ID, 1, p1)
	s.part(b, "big", u.ID, 2, p2)
	s.part(b, "big", u.ID, 3, "unused")

	pl, err := s.b.ListParts(s.ctx, s.admin, b, "big", u.ID, s3api.PartListOptions{Max: 2})
	must(t, "ListParts", err)
	if len(pl.Parts) != 2 || pl.Parts[0].Number != 1 || pl.Parts[0].ETag != md5hex(p1) || pl.Parts[1].Number != 2 || !pl.IsTruncated || pl.NextMarker != 2 {
		t.Fatalf("ListParts %+v", pl)
	}
	pl, err = s.b.ListParts(s.ctx, s.admin, b, "big", u.ID, s3api.PartListOptions{Marker: 2, Max: 10})
	must(t, "ListParts after 2", err)
	if len(pl.Parts) != 1 || pl.Parts[0].Number != 3 || pl.IsTruncated {
		t.Fatalf("ListParts after 2: %+v", pl)
	}
	ul, err := s.b.ListMultipartUploads(s.ctx, s.admin, b, s3api.UploadListOptions{MaxUploads: 10})
	must(t, "ListMultipartUploads", err)
	if len(ul.Uploads) != 1 || ul.Uploads[0].ID != u.ID {
		t.Fatalf("ListMultipartUploads %+v", ul)
	}

	_, err = s.b.CompleteMultipartUpload(s.ctx, s.admin, b, "big", u.ID, []int{1, 4}, completeOpts("x"))
	wantErr(t, "Complete with a missing part", err, errs.Invalid, "InvalidPart")
	refuse := s3code.New("test.Check", errs.Invalid, "EntityTooSmall", "too small")
	_, err = s.b.CompleteMultipartUpload(s.ctx, s.admin, b, "big", u.ID, []int{1, 2}, s3api.CompleteOptions{ETag: "x",
		Check: func(s3api.Upload, []s3api.Part) (s3api.Completion, error) { return s3api.Completion{}, refuse }})
	if s3api.ErrorCode(err) != "EntityTooSmall" {
		t.Fatalf("Complete whose Check fails: %v", err)
	}
	if _, err := s.b.Head(s.ctx, s.admin, s.bucket("alpha", ""), "big", ""); errs.KindOf(err) != errs.NotExist {
		t.Fatalf("a refused completion is visible: %v", err)
	}

	etag := multipartETag(p1, p2)
	o, err := s.b.CompleteMultipartUpload(s.ctx, s.admin, s.bucket("alpha", ""), "big", u.ID, []int{1, 2}, completeOpts(etag))
	must(t, "CompleteMultipartUpload", err)
	if o.ETag != etag || o.Size != 150 || o.VersionID == "" {
		t.Fatalf("completed %+v", o)
	}
	h := s.head("alpha", "", "big", "")
	if h.VersionID != o.VersionID || h.Size != 150 || len(h.Parts) != 2 || h.Parts[0] != 100 || h.Parts[1] != 50 || h.Meta.ContentType != "text/x-big" {
		t.Fatalf("Head of the completed object %+v", h)
	}
	if got := s.open(s.bucket("alpha", ""), h, 95, 10); got != "aaaaabbbbb" {
		t.Fatalf("range across parts: %q", got)
	}
	again, err := s.b.CompleteMultipartUpload(s.ctx, s.admin, s.bucket("alpha", ""), "big", u.ID, []int{1, 2}, completeOpts(etag))
	must(t, "CompleteMultipartUpload again", err)
	if again.VersionID != o.VersionID || again.ETag != etag {
		t.Fatalf("completed again: %+v, first %+v", again, o)
	}
	_, err = s.b.CompleteMultipartUpload(s.ctx, s.admin, s.bucket("alpha", ""), "big", u.ID, []int{1, 2}, completeOpts(multipartETag(p1)))
	wantErr(t, "Complete of a completed upload with other parts", err, errs.NotExist, "NoSuchUpload")
	_, err = s.b.GetMultipartUpload(s.ctx, s.admin, b, "big", u.ID)
	wantErr(t, "GetMultipartUpload of a completed upload", err, errs.NotExist, "NoSuchUpload")
	ul, err = s.b.ListMultipartUploads(s.ctx, s.admin, b, s3api.UploadListOptions{MaxUploads: 10})
	must(t, "ListMultipartUploads", err)
	if len(ul.Uploads) != 0 {
		t.Fatalf("a completed upload is listed: %+v", ul.Uploads)
	}

	// Abort.
	u2, err := s.b.CreateMultipartUpload(s.ctx, s.admin, b, "gone", s3api.UploadOptions{})
	must(t, "CreateMultipartUpload", err)
	s.part(b, "gone", u2.ID, 1, "x")
	must(t, "AbortMultipartUpload", s.b.AbortMultipartUpload(s.ctx, s.admin, b, "gone", u2.ID))
	_, err = s.b.GetMultipartUpload(s.ctx, s.admin, b, "gone", u2.ID)
	wantErr(t, "GetMultipartUpload of an aborted upload", err, errs.NotExist, "NoSuchUpload")
	_, err = s.b.UploadPart(s.ctx, s.admin, b, "gone", u2.ID, 2, strings.NewReader("y"), s3api.PartOptions{Size: 1})
	wantErr(t, "UploadPart to an aborted upload", err, errs.NotExist, "NoSuchUpload")
	wantErr(t, "AbortMultipartUpload again", s.b.AbortMultipartUpload(s.ctx, s.admin, b, "gone", u2.ID), errs.NotExist, "NoSuchUpload")
}

func testMultipartScope(s *suite) {
	t := s.t
	s.repo("alpha")
	s.branch("alpha", "dev")
	b := s.bucket("alpha", "")
	u, err := s.b.CreateMultipartUpload(s.ctx, s.admin, b, "k", s3api.UploadOptions{})
	must(t, "CreateMultipartUpload", err)
	u2, err := s.b.CreateMultipartUpload(s.ctx, s.admin, b, "dir/j", s3api.UploadOptions{})
	must(t, "CreateMultipartUpload", err)
	_, err = s.b.GetMultipartUpload(s.ctx, s.admin, b, "other", u.ID)
	wantErr(t, "GetMultipartUpload for another key", err, errs.NotExist, "NoSuchUpload")
	dev := s.bucket("alpha", "dev")
	_, err = s.b.GetMultipartUpload(s.ctx, s.admin, dev, "k", u.ID)
	wantErr(t, "GetMultipartUpload through another branch", err, errs.NotExist, "NoSuchUpload")
	_, err = s.b.UploadPart(s.ctx, s.admin, b, "other", u.ID, 1, strings.NewReader("x"), s3api.PartOptions{Size: 1})
	wantErr(t, "UploadPart for another key", err, errs.NotExist, "NoSuchUpload")
	_, err = s.b.ListParts(s.ctx, s.admin, dev, "k", u.ID, s3api.PartListOptions{Max: 10})
	wantErr(t, "ListParts through another branch", err, errs.NotExist, "NoSuchUpload")
	wantErr(t, "AbortMultipartUpload for another key", s.b.AbortMultipartUpload(s.ctx, s.admin, b, "other", u.ID), errs.NotExist, "NoSuchUpload")
	_, err = s.b.CompleteMultipartUpload(s.ctx, s.admin, dev, "k", u.ID, nil, completeOpts("x"))
	wantErr(t, "Complete through another branch", err, errs.NotExist, "NoSuchUpload")
	_, err = s.b.GetMultipartUpload(s.ctx, s.admin, b, "k", "nosuchupload")
	wantErr(t, "GetMultipartUpload of an unknown id", err, errs.NotExist, "NoSuchUpload")

	ul, err := s.b.ListMultipartUploads(s.ctx, s.admin, dev, s3api.UploadListOptions{MaxUploads: 10})
	must(t, "ListMultipartUploads dev", err)
	if len(ul.Uploads) != 0 {
		t.Fatalf("dev lists main's uploads: %+v", ul.Uploads)
	}
	ul, err = s.b.ListMultipartUploads(s.ctx, s.admin, b, s3api.UploadListOptions{MaxUploads: 10, Delimiter: "/"})
	must(t, "ListMultipartUploads with a delimiter", err)
	if len(ul.Uploads) != 1 || ul.Uploads[0].ID != u.ID || !sameStrings(ul.CommonPrefixes, []string{"dir/"}) {
		t.Fatalf("ListMultipartUploads %+v", ul)
	}
	ul, err = s.b.ListMultipartUploads(s.ctx, s.admin, b, s3api.UploadListOptions{MaxUploads: 1})
	must(t, "ListMultipartUploads max 1", err)
	if len(ul.Uploads) != 1 || ul.Uploads[0].ID != u2.ID || !ul.IsTruncated || ul.NextKeyMarker != "dir/j" {
		t.Fatalf("ListMultipartUploads max 1: %+v", ul)
	}
}

func testReadOnlyRefs(s *suite) {
	t := s.t
	s.repo("alpha")
	v := s.put("alpha", "", "k", "v")
	commit := s.bucket("alpha", "").Commit
	if commit == "" {
		t.Fatal("a branch with a commit resolves without Commit")
	}
	s.put("alpha", "", "k", "later")
	ro := s.bucket("alpha", commit)
	if ro.Kind != s3api.RefCommit || ro.Writable || ro.ReadOnly == "" || ro.Commit != commit {
		t.Fatalf("commit bucket %+v", ro)
	}
	o, err := s.b.Head(s.ctx, s.admin, ro, "k", "")
	must(t, "Head at a commit", err)
	if o.VersionID != v.VersionID {
		t.Fatalf("Head at a commit: %+v", o)
	}
	if got := s.open(ro, o, 0, -1); got != "v" {
		t.Fatalf("read at a commit: %q", got)
	}
	_, err = s.b.Put(s.ctx, s.admin, ro, "k", strings.NewReader("x"), s3api.PutOptions{Size: 1})
	wantErr(t, "Put to a commit", err, errs.ReadOnly, "AccessDenied")
	_, err = s.b.Copy(s.ctx, s.admin, ro, "k2", o, s3api.PutOptions{})
	wantErr(t, "Copy to a commit", err, errs.ReadOnly, "AccessDenied")
	res, err := s.b.Delete(s.ctx, s.admin, ro, []s3api.DeleteItem{{Key: "k"}})
	if err == nil {
		if len(res) != 1 {
			t.Fatalf("Delete at a commit answered %+v", res)
		}
		err = res[0].Err
	}
	wantErr(t, "Delete at a commit", err, errs.ReadOnly, "AccessDenied")
	_, err = s.b.CreateMultipartUpload(s.ctx, s.admin, ro, "k", s3api.UploadOptions{})
	wantErr(t, "CreateMultipartUpload at a commit", err, errs.ReadOnly, "AccessDenied")
	wantErr(t, "SetVersioning at a commit", s.b.SetVersioning(s.ctx, s.admin, ro, "Suspended"), errs.ReadOnly, "")
	if got := s.read("alpha", "", "k"); got != "later" {
		t.Fatalf("the branch reads %q", got)
	}
}

// denied runs every call on repo as c and wants each refused with
// Permission.
func (s *suite) denied(c s3api.Caller, repo string, writesOnly bool) {
	t := s.t
	b := s.bucket(repo, "")
	obj := s.head(repo, "", "k", "")
	if !writesOnly {
		_, err := s.b.Head(s.ctx, c, b, "k", "")
		wantErr(t, "Head", err, errs.Permission, "")
		_, err = s.b.Open(s.ctx, c, b, obj, 0, -1)
		wantErr(t, "Open", err, errs.Permission, "")
		_, err = s.b.List(s.ctx, c, b, s3api.ListOptions{MaxKeys: 10})
		wantErr(t, "List", err, errs.Permission, "")
		_, err = s.b.ListVersions(s.ctx, c, b, s3api.VersionListOptions{MaxKeys: 10})
		wantErr(t, "ListVersions", err, errs.Permission, "")
		_, err = s.b.ListMultipartUploads(s.ctx, c, b, s3api.UploadListOptions{MaxUploads: 10})
		wantErr(t, "ListMultipartUploads", err, errs.Permission, "")
	}
	_, err := s.b.Put(s.ctx, c, b, "k", strings.NewReader("x"), s3api.PutOptions{Size: 1})
	wantErr(t, "Put", err, errs.Permission, "")
	_, err = s.b.Copy(s.ctx, c, b, "k2", obj, s3api.PutOptions{})
	wantErr(t, "Copy", err, errs.Permission, "")
	res, err := s.b.Delete(s.ctx, c, b, []s3api.DeleteItem{{Key: "k"}})
	if err == nil && len(res) == 1 {
		err = res[0].Err
	}
	wantErr(t, "Delete", err, errs.Permission, "")
	wantErr(t, "SetVersioning", s.b.SetVersioning(s.ctx, c, b, "Suspended"), errs.Permission, "")
	_, err = s.b.CreateMultipartUpload(s.ctx, c, b, "k", s3api.UploadOptions{})
	wantErr(t, "CreateMultipartUpload", err, errs.Permission, "")
	u, err := s.b.CreateMultipartUpload(s.ctx, s.admin, b, "k", s3api.UploadOptions{})
	must(t, "CreateMultipartUpload as the admin", err)
	_, err = s.b.UploadPart(s.ctx, c, b, "k", u.ID, 1, strings.NewReader("x"), s3api.PartOptions{Size: 1})
	wantErr(t, "UploadPart", err, errs.Permission, "")
	_, err = s.b.CompleteMultipartUpload(s.ctx, c, b, "k", u.ID, nil, completeOpts("x"))
	wantErr(t, "CompleteMultipartUpload", err, errs.Permission, "")
	wantErr(t, "AbortMultipartUpload", s.b.AbortMultipartUpload(s.ctx, c, b, "k", u.ID), errs.Permission, "")
	if !writesOnly {
		_, err = s.b.GetMultipartUpload(s.ctx, c, b, "k", u.ID)
		wantErr(t, "GetMultipartUpload", err, errs.Permission, "")
		_, err = s.b.ListParts(s.ctx, c, b, "k", u.ID, s3api.PartListOptions{Max: 10})
		wantErr(t, "ListParts", err, errs.Permission, "")
	}
	must(t, "AbortMultipartUpload as the admin", s.b.AbortMultipartUpload(s.ctx, s.admin, b, "k", u.ID))
	wantErr(t, "CreateBucket of a branch", s.b.CreateBucket(s.ctx, c, repo, "dev", s3api.BucketOptions{}), errs.Permission, "")
	wantErr(t, "SetPublic", s.b.SetPublic(s.ctx, c, repo, true), errs.Permission, "")
	wantErr(t, "DeleteBucket", s.b.DeleteBucket(s.ctx, c, repo, ""), errs.Permission, "")
	wantErr(t, "CreateBucket of a repo", s.b.CreateBucket(s.ctx, c, "strangers", "", s3api.BucketOptions{}), errs.Permission, "")
	// Nothing changed.
	if got := s.read(repo, "", "k"); got != "v" {
		t.Fatalf("%s reads %q", repo, got)
	}
	if _, err := s.b.Resolve(s.ctx, repo, "dev"); errs.KindOf(err) != errs.NotExist {
		t.Fatalf("a refused CreateBucket made a branch: %v", err)
	}
}

func testPermissions(s *suite) {
	t := s.t
	if s.h.Stranger.Anonymous() || s.h.Stranger == s.admin {
		t.Fatalf("the harness's Stranger must be a signed-in user other than Admin, not %+v", s.h.Stranger)
	}
	s.repo("alpha")
	s.put("alpha", "", "k", "v")
	s.denied(s.h.Stranger, "alpha", false)
	repos, err := s.b.ListRepos(s.ctx, s.h.Stranger)
	must(t, "ListRepos as a stranger", err)
	if len(repos) != 0 {
		t.Fatalf("a stranger lists %+v", repos)
	}
}

func testAnonymous(s *suite) {
	t := s.t
	anon := s3api.Caller{}
	s.repo("alpha")
	s.put("alpha", "", "k", "v")
	s.denied(anon, "alpha", false)

	// A public repo is read by anyone, and written by no anonymous caller.
	must(t, "SetPublic", s.b.SetPublic(s.ctx, s.admin, "alpha", true))
	b := s.bucket("alpha", "")
	o, err := s.b.Head(s.ctx, anon, b, "k", "")
	must(t, "anonymous Head of a public repo", err)
	rc, err := s.b.Open(s.ctx, anon, b, o, 0, -1)
	must(t, "anonymous Open of a public repo", err)
	data, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(data, []byte("v")) {
		t.Fatalf("anonymous read %q", data)
	}
	lr, err := s.b.List(s.ctx, anon, b, s3api.ListOptions{MaxKeys: 10})
	must(t, "anonymous List of a public repo", err)
	if len(lr.Objects) != 1 {
		t.Fatalf("anonymous List %+v", lr)
	}
	s.denied(anon, "alpha", true)
	if s.h.Stranger.User != "" {
		if _, err := s.b.Head(s.ctx, s.h.Stranger, s.bucket("alpha", ""), "k", ""); err != nil {
			t.Fatalf("a signed-in stranger cannot read a public repo: %v", err)
		}
		s.denied(s.h.Stranger, "alpha", true)
	}
}
