package gateway_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/s3api"
)

const mib = 1 << 20

func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'g', 'w'}).Read(b)
	return b
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

type mpEnv struct {
	t   *testing.T
	srv *gatewaytest.Server
	c   *s3.Client
	ctx context.Context
}

func newMPEnv(t *testing.T, cfg gateway.Config) *mpEnv {
	t.Helper()
	if cfg.GCInterval == 0 {
		cfg.GCInterval = -1
	}
	srv := gatewaytest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return &mpEnv{t: t, srv: srv, c: client(srv), ctx: ctx}
}

func (e *mpEnv) create(bucket, key string, mod ...func(*s3.CreateMultipartUploadInput)) string {
	e.t.Helper()
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	for _, m := range mod {
		m(in)
	}
	out, err := e.c.CreateMultipartUpload(e.ctx, in)
	if err != nil {
		e.t.Fatalf("CreateMultipartUpload %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.UploadId)
}

func (e *mpEnv) part(bucket, key, id string, n int32, body []byte) types.CompletedPart {
	e.t.Helper()
	out, err := e.c.UploadPart(e.ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: aws.String(id), PartNumber: aws.Int32(n), Body: bytes.NewReader(body)})
	if err != nil {
		e.t.Fatalf("UploadPart %d: %v", n, err)
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
}

func (e *mpEnv) complete(bucket, key, id string, parts []types.CompletedPart, mod ...func(*s3.CompleteMultipartUploadInput)) (*s3.CompleteMultipartUploadOutput, error) {
	in := &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
	for _, m := range mod {
		m(in)
	}
	return e.c.CompleteMultipartUpload(e.ctx, in)
}

func (e *mpEnv) head(repo, branch string) string {
	e.t.Helper()
	r, err := e.srv.Meta.Resolve(e.ctx, repo, branch)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.CommitID()
}

func (e *mpEnv) get(bucket, key string) []byte {
	e.t.Helper()
	out, err := e.c.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		e.t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func md5s(b []byte) string { m := md5.Sum(b); return hex.EncodeToString(m[:]) }

// TestMultipartOnRealBackend: the whole cycle on meta + blob, checked at
// the records: one commit, ETag and parts, the part blobs freed by GC and
// the composed blob kept, S3's refusals writing nothing.
func TestMultipartOnRealBackend(t *testing.T) {
	e := newMPEnv(t, gateway.Config{})
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.c.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String("mprepo")}))
	p1, p2, p3 := randBytes(1, 5*mib), randBytes(2, 5*mib+1), randBytes(3, 777)
	whole := append(append(append([]byte(nil), p1...), p2...), p3...)
	id := e.create("mprepo", "a/b.bin", func(in *s3.CreateMultipartUploadInput) {
		in.ContentType = aws.String("application/x-test")
		in.Metadata = map[string]string{"origin": "gw-test"}
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	})
	// Parts in parallel, out of order.
	parts := make([]types.CompletedPart, 3)
	var wg sync.WaitGroup
	for i, body := range [][]byte{p1, p2, p3} {
		wg.Go(func() { parts[i] = e.part("mprepo", "a/b.bin", id, int32(i+1), body) })
	}
	wg.Wait()
	before := e.head("mprepo", "main")

	// Refusals on the real backend: nothing written.
	for _, tc := range []struct {
		name  string
		parts []types.CompletedPart
		mod   func(*s3.CompleteMultipartUploadInput)
		code  string
	}{
		{"order", []types.CompletedPart{parts[1], parts[0]}, nil, "InvalidPartOrder"},
		{"unknown part", []types.CompletedPart{parts[0], {PartNumber: aws.Int32(9), ETag: parts[1].ETag}}, nil, "InvalidPart"},
		{"wrong etag", []types.CompletedPart{parts[0], {PartNumber: aws.Int32(2), ETag: parts[0].ETag}}, nil, "InvalidPart"},
		{"too small", []types.CompletedPart{parts[0], parts[2], {PartNumber: aws.Int32(4), ETag: parts[1].ETag}}, nil, "InvalidPart"},
		{"if-none-match", parts, func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }, ""},
	} {
		if tc.name == "if-none-match" {
			// The key exists: refused.
			must(e.c.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String("mprepo"), Key: aws.String("a/b.bin"), Body: strings.NewReader("old")}))
			before = e.head("mprepo", "main")
			tc.code = "PreconditionFailed"
		}
		var mods []func(*s3.CompleteMultipartUploadInput)
		if tc.mod != nil {
			mods = append(mods, tc.mod)
		}
		_, err := e.complete("mprepo", "a/b.bin", id, tc.parts, mods...)
		if apiCode(err) != tc.code {
			t.Fatalf("%s: %v, want %s", tc.name, err, tc.code)
		}
		if e.head("mprepo", "main") != before {
			t.Fatalf("%s: a refused completion made a commit", tc.name)
		}
	}
	_, err := e.complete("mprepo", "a/b.bin", id, []types.CompletedPart{parts[0], parts[2], parts[1]})
	if apiCode(err) != "InvalidPartOrder" {
		t.Fatal(err)
	}
	// EntityTooSmall: part 3 (777 bytes) not last.
	small := e.part("mprepo", "a/b.bin", id, 4, []byte("tail"))
	_, err = e.complete("mprepo", "a/b.bin", id, []types.CompletedPart{parts[0], parts[2], small})
	if apiCode(err) != "EntityTooSmall" {
		t.Fatalf("small part: %v", err)
	}
	if e.head("mprepo", "main") != before {
		t.Fatal("refusals made a commit")
	}

	// GC while in flight keeps the parts.
	if _, err := e.srv.GC(e.ctx, gateway.GCOptions{Retention: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	res, err := e.complete("mprepo", "a/b.bin", id, parts)
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	wantETag := md5s(append(append(mustHex(md5s(p1)), mustHex(md5s(p2))...), mustHex(md5s(p3))...)) + "-3"
	if aws.ToString(res.ETag) != `"`+wantETag+`"` || aws.ToString(res.VersionId) == "" || res.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("complete: ETag %s version %s type %s", aws.ToString(res.ETag), aws.ToString(res.VersionId), res.ChecksumType)
	}
	if e.head("mprepo", "main") != aws.ToString(res.VersionId) {
		t.Fatal("completion is not one commit at the branch head")
	}
	r, _ := e.srv.Meta.Resolve(e.ctx, "mprepo", "main")
	c, _ := e.srv.Meta.GetCommit(e.ctx, "mprepo", r.Commit.ID)
	if len(c.Parents) != 1 || c.Parents[0] != before {
		t.Fatalf("completion commit's parents %v, want [%s]", c.Parents, before)
	}
	if got := e.get("mprepo", "a/b.bin"); !bytes.Equal(got, whole) {
		t.Fatalf("object differs (%d bytes, want %d)", len(got), len(whole))
	}
	h, err := e.c.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String("mprepo"), Key: aws.String("a/b.bin"), PartNumber: aws.Int32(2)})
	if err != nil || aws.ToInt32(h.PartsCount) != 3 || aws.ToInt64(h.ContentLength) != int64(len(p2)) ||
		aws.ToString(h.ContentType) != "application/x-test" || h.Metadata["origin"] != "gw-test" {
		t.Fatalf("HeadObject part 2: %+v %v", h, err)
	}
	// Retried completion: same answer, no new commit.
	again, err := e.complete("mprepo", "a/b.bin", id, parts)
	if err != nil || aws.ToString(again.VersionId) != aws.ToString(res.VersionId) || e.head("mprepo", "main") != aws.ToString(res.VersionId) {
		t.Fatalf("second completion: %v %v", again, err)
	}
	// GC now frees the parts (and the small part 4), keeps the object.
	files := blobFiles(t, e.srv.DataDir)
	for _, p := range [][]byte{p1, p2, p3} {
		if !files[sha(p)] {
			t.Fatalf("part blob %s missing before GC", sha(p)[:12])
		}
	}
	if _, err := e.srv.GC(e.ctx, gateway.GCOptions{Retention: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	files = blobFiles(t, e.srv.DataDir)
	for _, p := range [][]byte{p1, p2, p3, []byte("tail")} {
		if files[sha(p)] {
			t.Errorf("part blob %s kept by GC after completion", sha(p)[:12])
		}
	}
	if got := e.get("mprepo", "a/b.bin"); !bytes.Equal(got, whole) {
		t.Fatal("object lost by GC")
	}
}

func mustHex(s string) []byte { b, _ := hex.DecodeString(s); return b }

// TestMultipartAbortExpireAndGC: aborted and expired uploads leave nothing
// once GC ran; uploads in flight keep their parts.
func TestMultipartAbortExpireAndGC(t *testing.T) {
	// Meta's clock runs 2h behind until "old" is made, so that "old" is
	// past the TTL (meta keeps op times increasing: the clock may only
	// move forward).
	var behind atomic.Bool
	behind.Store(true)
	e := newMPEnv(t, gateway.Config{UploadTTL: time.Hour, MetaNow: func() time.Time {
		if behind.Load() {
			return time.Now().Add(-2 * time.Hour)
		}
		return time.Now()
	}})
	if _, err := e.c.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String("gcmp")}); err != nil {
		t.Fatal(err)
	}
	old := e.create("gcmp", "old")
	po := randBytes(12, 1000)
	e.part("gcmp", "old", old, 1, po)
	behind.Store(false)
	aborted := e.create("gcmp", "aborted")
	pa := randBytes(10, 1000)
	e.part("gcmp", "aborted", aborted, 1, pa)
	if _, err := e.c.AbortMultipartUpload(e.ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("gcmp"), Key: aws.String("aborted"), UploadId: aws.String(aborted)}); err != nil {
		t.Fatal(err)
	}
	kept := e.create("gcmp", "kept")
	pk := randBytes(11, 1000)
	e.part("gcmp", "kept", kept, 1, pk)

	res, err := e.srv.GC(e.ctx, gateway.GCOptions{Retention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.UploadsExpired != 1 {
		t.Errorf("UploadsExpired = %d, want 1", res.UploadsExpired)
	}
	files := blobFiles(t, e.srv.DataDir)
	if files[sha(pa)] || files[sha(po)] || !files[sha(pk)] {
		t.Errorf("after GC: aborted part kept %v, expired part kept %v, in-flight part kept %v (want false false true)",
			files[sha(pa)], files[sha(po)], files[sha(pk)])
	}
	_, err = e.c.ListParts(e.ctx, &s3.ListPartsInput{Bucket: aws.String("gcmp"), Key: aws.String("old"), UploadId: aws.String(old)})
	if apiCode(err) != "NoSuchUpload" {
		t.Errorf("expired upload: %v", err)
	}
	lu, err := e.c.ListMultipartUploads(e.ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("gcmp")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != kept {
		t.Fatalf("ListMultipartUploads after GC: %+v %v", lu, err)
	}
}

// TestMultipartTargetsAndRaces: uploads into an open commit and across
// refs; concurrent parts and concurrent completions of one upload.
func TestMultipartTargetsAndRaces(t *testing.T) {
	e := newMPEnv(t, gateway.Config{})
	for _, b := range []string{"tgt", "dev.tgt"} {
		if _, err := e.c.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	oc, err := e.srv.Meta.StartCommit(e.ctx, "tgt", "main", "admin", "batch", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ocBucket := oc.ID[:16] + ".tgt"
	id := e.create(ocBucket, "in-open")
	p := e.part(ocBucket, "in-open", id, 1, []byte("open commit part"))
	// The upload belongs to its ref: not reachable through main or dev.
	for _, b := range []string{"tgt", "dev.tgt"} {
		if _, err := e.complete(b, "in-open", id, []types.CompletedPart{p}); apiCode(err) != "NoSuchUpload" {
			t.Fatalf("completion through %s: %v", b, err)
		}
	}
	lu, err := e.c.ListMultipartUploads(e.ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("tgt")})
	if err != nil || len(lu.Uploads) != 0 {
		t.Fatalf("main lists the open commit's upload: %+v %v", lu, err)
	}
	res, err := e.complete(ocBucket, "in-open", id, []types.CompletedPart{p})
	if err != nil || aws.ToString(res.VersionId) != oc.ID {
		t.Fatalf("completion into the open commit: %v %v", res, err)
	}
	if got := e.get(ocBucket, "in-open"); string(got) != "open commit part" {
		t.Fatalf("read-after-write in the open commit: %q", got)
	}
	if _, err := e.c.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String("tgt"), Key: aws.String("in-open")}); err == nil {
		t.Fatal("visible on main before the open commit finished")
	}

	// Many parts at once, then many completions at once: one commit.
	id = e.create("dev.tgt", "race")
	bodies := make([][]byte, 6)
	parts := make([]types.CompletedPart, len(bodies))
	var wg sync.WaitGroup
	for i := range bodies {
		bodies[i] = randBytes(uint64(100+i), 5*mib)
		wg.Go(func() { parts[i] = e.part("dev.tgt", "race", id, int32(i+1), bodies[i]) })
	}
	wg.Wait()
	before := e.head("tgt", "dev")
	versions := make([]string, 4)
	errs := make([]error, 4)
	for i := range versions {
		wg.Go(func() {
			out, err := e.complete("dev.tgt", "race", id, parts)
			errs[i] = err
			if err == nil {
				versions[i] = aws.ToString(out.VersionId)
			}
		})
	}
	wg.Wait()
	for i := range versions {
		if errs[i] != nil || versions[i] != versions[0] {
			t.Fatalf("concurrent completions: %v %v", versions, errs)
		}
	}
	c, err := e.srv.Meta.GetCommit(e.ctx, "tgt", versions[0])
	if err != nil || len(c.Parents) != 1 || c.Parents[0] != before || e.head("tgt", "dev") != versions[0] {
		t.Fatalf("concurrent completions made more than one commit: head %s, commit %+v %v", e.head("tgt", "dev"), c, err)
	}
	if got := e.get("dev.tgt", "race"); !bytes.Equal(got, bytes.Join(bodies, nil)) {
		t.Fatal("raced object differs")
	}
	// The composed blob's address is keyed, not the SHA-256 of the bytes.
	o, _ := e.srv.Backend.Head(e.ctx, s3api.Caller{User: "admin"}, mustBucket(t, e, "tgt", "dev"), "race", "")
	if o.Content == sha(bytes.Join(bodies, nil)) || !blobFiles(t, e.srv.DataDir)[o.Content] {
		t.Fatalf("composed content %s", o.Content)
	}
	key, _ := e.srv.Meta.ComposeKey(e.ctx)
	var hashes []string
	for _, b := range bodies {
		hashes = append(hashes, sha(b))
	}
	if addr, _ := blob.ComposeAddress(key, hashes); addr != o.Content {
		t.Fatalf("composed address %s, want %s", o.Content, addr)
	}
}

func mustBucket(t *testing.T, e *mpEnv, repo, ref string) s3api.Bucket {
	t.Helper()
	b, err := e.srv.Backend.Resolve(e.ctx, repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
