package test

// S3 object-versioning conformance with aws-sdk-go-v2: the life cycles of
// test/conformance/versioning.py (boto3), asserting what AWS documents (or
// what s3-tests and S3 captures show AWS answering), never what Tusk does
// today. Each TestConformance* runs on its own gateway, so one failure does
// not cascade. Sources are named in each test's comment.
//
//   go test -count=1 -run Conformance ./test/
//
// Tusk's one deliberate departure from AWS here (SPEC.md §4): a new bucket
// answers GetBucketVersioning Status=Enabled.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// cfEnt is one ListObjectVersions entry, full version id.
type cfEnt struct {
	Marker   bool
	Key, VID string
	IsLatest bool
}

func (c cfEnt) String() string {
	k := "V"
	if c.Marker {
		k = "DM"
	}
	l := ""
	if c.IsLatest {
		l = " latest"
	}
	return fmt.Sprintf("%s(%s %s%s)", k, c.Key, c.VID, l)
}

func cfV(key, vid string, latest bool) cfEnt { return cfEnt{Key: key, VID: vid, IsLatest: latest} }
func cfDM(key, vid string, latest bool) cfEnt {
	return cfEnt{Marker: true, Key: key, VID: vid, IsLatest: latest}
}

func cfOf(vs []verEntry) []cfEnt {
	out := []cfEnt{}
	for _, v := range vs {
		out = append(out, cfEnt{Marker: v.Marker, Key: v.Key, VID: v.VersionID, IsLatest: v.IsLatest})
	}
	return out
}

// cfList is the bucket's whole version listing in document order.
func (e *env) cfList(t *testing.T, bucket string, q url.Values) []cfEnt {
	t.Helper()
	pg := e.versionsRaw(t, bucket, q)
	if pg.IsTruncated {
		t.Fatalf("ListObjectVersions %s: truncated at %d entries", bucket, len(pg.Entries))
	}
	return cfOf(pg.Entries)
}

func cfWantList(t *testing.T, what string, got []cfEnt, want ...cfEnt) {
	t.Helper()
	if want == nil {
		want = []cfEnt{}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s:\n expected %v\n got      %v", what, want, got)
	}
}

func cfEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: expected %v, got %v", what, want, got)
	}
}

// cfBucket creates a bucket named prefix-<random>.
func cfBucket(t *testing.T, c *s3.Client, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := prefix + "-" + hex.EncodeToString(b)
	createBucket(t, c, name)
	return name
}

// cfBody is a body unique to the test (content removed in one place must
// not matter anywhere else).
func cfBody(t *testing.T, s string) []byte { return []byte(s + " #" + t.Name()) }

func cfFakeID() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b) // 40 hex chars: well-formed for Tusk, never assigned
}

// cfPut puts without asserting the version id's form (null versions).
func cfPut(t *testing.T, c *s3.Client, bucket, key string, body []byte) string {
	t.Helper()
	out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

// cfDelete sends a signed DELETE (with ?versionId= when vid != "") and
// returns the raw answer: the SDK hides the status code.
func (e *env) cfDelete(t *testing.T, bucket, key, vid string) rawResp {
	t.Helper()
	q := ""
	if vid != "" {
		q = "versionId=" + url.QueryEscape(vid)
	}
	return e.do(t, rawReq{method: "DELETE", bucket: bucket, key: key, query: q})
}

func cfWant204(t *testing.T, what string, r rawResp, vid, marker string) {
	t.Helper()
	if r.status != 204 {
		t.Fatalf("%s: expected HTTP 204, got %d: %s", what, r.status, r.body)
	}
	if vid != "" && r.header.Get("X-Amz-Version-Id") != vid {
		t.Fatalf("%s: x-amz-version-id: expected %q, got %q", what, vid, r.header.Get("X-Amz-Version-Id"))
	}
	if got := r.header.Get("X-Amz-Delete-Marker"); marker == "true" && got != "true" || marker != "true" && got == "true" {
		t.Fatalf("%s: x-amz-delete-marker: expected %q, got %q", what, marker, got)
	}
}

func cfSetVersioning(t *testing.T, c *s3.Client, bucket string, st types.BucketVersioningStatus) {
	t.Helper()
	if _, err := c.PutBucketVersioning(ctx(t), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: st}}); err != nil {
		t.Fatalf("PutBucketVersioning %s %s: %v", bucket, st, err)
	}
}

func cfHead(t *testing.T, c *s3.Client, bucket, key, vid string) *s3.HeadObjectOutput {
	t.Helper()
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if vid != "" {
		in.VersionId = aws.String(vid)
	}
	h, err := c.HeadObject(ctx(t), in)
	if err != nil {
		t.Fatalf("HeadObject %s/%s version %q: %v", bucket, key, vid, err)
	}
	return h
}

// Issue reproduction. AWS DeleteObject ("to remove a specific version, you
// must use the versionId query parameter"; 204 with x-amz-version-id);
// user guide, Deleting object versions. Nothing else changes.
func TestConformanceIssueRepro(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	createBucket(t, c, "repa")
	createBucket(t, c, "repb")
	body := []byte("hello world 123")
	v1 := aws.ToString(put(t, c, "repa", "a", body).VersionId)
	v2 := aws.ToString(put(t, c, "repa", "a", []byte("second")).VersionId)
	vb := aws.ToString(put(t, c, "repa", "b", body).VersionId)
	put(t, c, "repb", "c", body)
	cfWant204(t, "DeleteObject repa/a?versionId=v1", e.cfDelete(t, "repa", "a", v1), v1, "")
	if b, g := get(t, c, "repa", "b", ""); !bytes.Equal(b, body) || aws.ToString(g.VersionId) != vb {
		t.Fatalf("repa/b: expected %q version %s, got %q version %s", body, vb, b, aws.ToString(g.VersionId))
	}
	if b, _ := get(t, c, "repb", "c", ""); !bytes.Equal(b, body) {
		t.Fatalf("repb/c: expected %q, got %q", body, b)
	}
	put(t, c, "repb", "d", body)
	if b, _ := get(t, c, "repb", "d", ""); !bytes.Equal(b, body) {
		t.Fatalf("repb/d: expected %q, got %q", body, b)
	}
	if b, g := get(t, c, "repa", "a", ""); string(b) != "second" || aws.ToString(g.VersionId) != v2 {
		t.Fatalf("repa/a: expected %q version %s, got %q version %s", "second", v2, b, aws.ToString(g.VersionId))
	}
	cfWantList(t, "ListObjectVersions(repa, prefix a)", e.cfList(t, "repa", url.Values{"prefix": {"a"}}), cfV("a", v2, true))
}

// cfThree puts 3 versions of k (1 s apart: Last-Modified has 1 s
// resolution) with distinct metadata and returns their ids and HEADs.
func cfThree(t *testing.T, c *s3.Client, bucket string) ([]string, []*s3.HeadObjectOutput) {
	t.Helper()
	var vids []string
	var heads []*s3.HeadObjectOutput
	for i := 0; i < 3; i++ {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // distinct Last-Modified: time passing is the point
		}
		out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"),
			Body: bytes.NewReader(cfBody(t, fmt.Sprintf("body %d", i))), Metadata: map[string]string{"n": fmt.Sprint(i)},
			ContentType: aws.String(fmt.Sprintf("text/x-v%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		vids = append(vids, aws.ToString(out.VersionId))
	}
	for _, v := range vids {
		heads = append(heads, cfHead(t, c, bucket, "k", v))
	}
	return vids, heads
}

func cfSameHead(t *testing.T, what string, got, want *s3.HeadObjectOutput) {
	t.Helper()
	g := fmt.Sprint(aws.ToString(got.VersionId), aws.ToString(got.ETag), aws.ToTime(got.LastModified).UTC(), got.Metadata, aws.ToString(got.ContentType))
	w := fmt.Sprint(aws.ToString(want.VersionId), aws.ToString(want.ETag), aws.ToTime(want.LastModified).UTC(), want.Metadata, aws.ToString(want.ContentType))
	if g != w {
		t.Fatalf("%s (VersionId ETag Last-Modified Metadata Content-Type):\n expected %s\n got      %s", what, w, g)
	}
}

// Removing the current version by id: the previous version becomes current,
// with its own id, ETag, Last-Modified and metadata (AWS user guide,
// Deleting object versions; s3-tests test_versioning_obj_create_read_remove).
func TestConformanceRemoveLatest(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "rmlatest")
	vids, heads := cfThree(t, c, b)
	// The removal's commit must be a Last-Modified second later than the
	// versions', so that HEAD showing the old time is meaningful.
	time.Sleep(1100 * time.Millisecond)
	cfWant204(t, "DeleteObject ?versionId=<latest>", e.cfDelete(t, b, "k", vids[2]), vids[2], "")
	cfSameHead(t, "HEAD k", cfHead(t, c, b, "k", ""), heads[1])
	if body, g := get(t, c, b, "k", ""); !bytes.Equal(body, cfBody(t, "body 1")) || aws.ToString(g.VersionId) != vids[1] {
		t.Fatalf("GET k: expected %q version %s, got %q version %s", cfBody(t, "body 1"), vids[1], body, aws.ToString(g.VersionId))
	}
	cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", vids[1], true), cfV("k", vids[0], false))
}

// Removing a noncurrent version: only the list shrinks (AWS user guide,
// Deleting object versions).
func TestConformanceRemoveMiddle(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "rmmid")
	vids, heads := cfThree(t, c, b)
	cfWant204(t, "DeleteObject ?versionId=<middle>", e.cfDelete(t, b, "k", vids[1]), vids[1], "")
	cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", vids[2], true), cfV("k", vids[0], false))
	cfSameHead(t, "HEAD k", cfHead(t, c, b, "k", ""), heads[2])
}

// Delete markers: AWS DeleteObject (x-amz-delete-marker: true and the
// marker's x-amz-version-id); GetObject ("If the current version of the
// object is a delete marker, Amazon S3 behaves as if the object was deleted
// and includes x-amz-delete-marker: true ... If the specified version is a
// delete marker, the response returns a 405 Method Not Allowed"); user
// guide, Working with delete markers / Removing delete markers.
func TestConformanceDeleteMarker(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "dmark")
	v1 := aws.ToString(put(t, c, b, "k", cfBody(t, "one"), func(in *s3.PutObjectInput) { in.Metadata = map[string]string{"m": "1"} }).VersionId)
	h1 := cfHead(t, c, b, "k", "")
	// The marker's Last-Modified must differ from the version's (1 s
	// resolution): time passing is the point, not a wait for an event.
	time.Sleep(1100 * time.Millisecond)
	r := e.cfDelete(t, b, "k", "")
	cfWant204(t, "DeleteObject (no versionId)", r, "", "true")
	dm := r.header.Get("X-Amz-Version-Id")
	if dm == "" || dm == v1 {
		t.Fatalf("DeleteObject: x-amz-version-id must be the new marker's id, got %q (v1 %s)", dm, v1)
	}
	g := e.do(t, rawReq{method: "GET", bucket: b, key: "k"})
	wantRawErr(t, g, 404, "NoSuchKey")
	cfEq(t, "GET k x-amz-delete-marker", g.header.Get("X-Amz-Delete-Marker"), "true")
	g = e.do(t, rawReq{method: "GET", bucket: b, key: "k", query: "versionId=" + dm})
	wantRawErr(t, g, 405, "MethodNotAllowed")
	cfEq(t, "GET k?versionId=<marker> x-amz-delete-marker", g.header.Get("X-Amz-Delete-Marker"), "true")
	_, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(dm)})
	wantErr(t, err, 405, "")
	_, err = c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	wantErr(t, err, 404, "")
	cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfDM("k", dm, true), cfV("k", v1, false))
	if keys := keysOf(t, c, b); len(keys) != 0 {
		t.Fatalf("ListObjectsV2: expected no keys, got %q", keys)
	}

	// remove the marker: the answer names it; the key reads again, unchanged
	t.Run("remove the marker", func(t *testing.T) {
		r := e.cfDelete(t, b, "k", dm)
		cfWant204(t, "DeleteObject ?versionId=<marker>", r, dm, "true")
		cfSameHead(t, "HEAD k after removing the marker", cfHead(t, c, b, "k", ""), h1)
		cfWantList(t, "ListObjectVersions after removing the marker", e.cfList(t, b, nil), cfV("k", v1, true))
	})
}

// Removing every version and marker empties the bucket; then DeleteBucket
// answers 204 (AWS DeleteBucket: "All objects (including all object versions
// and delete markers) in the bucket must be deleted"; s3-tests
// test_versioning_obj_create_versions_remove_all).
func TestConformanceRemoveAllThenDeleteBucket(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "rmall")
	v1 := aws.ToString(put(t, c, b, "k", cfBody(t, "one")).VersionId)
	v2 := aws.ToString(put(t, c, b, "k", cfBody(t, "two")).VersionId)
	dm := aws.ToString(deleteKey(t, c, b, "k").VersionId)
	v3 := aws.ToString(put(t, c, b, "j", cfBody(t, "jay")).VersionId)
	for _, kv := range [][3]string{{"k", dm, "true"}, {"k", v1, ""}, {"j", v3, ""}, {"k", v2, ""}} {
		cfWant204(t, "DeleteObject "+kv[0]+"?versionId="+kv[1], e.cfDelete(t, b, kv[0], kv[1]), kv[1], kv[2])
	}
	cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil))
	for _, k := range []string{"k", "j"} {
		_, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(k)})
		wantErr(t, err, 404, "")
	}
	r := e.do(t, rawReq{method: "DELETE", bucket: b})
	if r.status != 204 {
		t.Fatalf("DeleteBucket: expected 204, got %d %s", r.status, r.body)
	}
	wantErr(t, headBucket(t, c, b), 404, "")
}

// DeleteBucket while a version or a delete marker remains: 409
// BucketNotEmpty (AWS DeleteBucket; Error responses, BucketNotEmpty). On a
// versioning-enabled bucket, DeleteObject of a never-written key still adds
// a marker (user guide, Working with delete markers).
func TestConformanceBucketNotEmpty(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	t.Run("noncurrent version behind a marker", func(t *testing.T) {
		b := cfBucket(t, c, "nemptyv")
		put(t, c, b, "k", cfBody(t, "one"))
		deleteKey(t, c, b, "k")
		_, err := c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(b)})
		wantErr(t, err, 409, "BucketNotEmpty")
	})
	t.Run("only a delete marker", func(t *testing.T) {
		b := cfBucket(t, c, "nemptydm")
		v1 := aws.ToString(put(t, c, b, "k", cfBody(t, "one")).VersionId)
		dm := aws.ToString(deleteKey(t, c, b, "k").VersionId)
		deleteVersion(t, c, b, "k", v1)
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfDM("k", dm, true))
		_, err := c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(b)})
		wantErr(t, err, 409, "BucketNotEmpty")
	})
	t.Run("marker of a never-written key", func(t *testing.T) {
		b := cfBucket(t, c, "nemptydm2")
		d := deleteKey(t, c, b, "never-written")
		if !aws.ToBool(d.DeleteMarker) {
			t.Fatalf("DeleteObject of a never-written key: expected DeleteMarker true, got %v", aws.ToBool(d.DeleteMarker))
		}
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfDM("never-written", aws.ToString(d.VersionId), true))
		_, err := c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(b)})
		wantErr(t, err, 409, "BucketNotEmpty")
	})
}

// GET/HEAD of a removed version: 404 NoSuchVersion (Error responses:
// NoSuchVersion; s3-tests test_versioning_obj_create_read_remove_head).
func TestConformanceRemovedVersionReads(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "nsv")
	v1 := aws.ToString(put(t, c, b, "k", cfBody(t, "one")).VersionId)
	put(t, c, b, "k", cfBody(t, "two"))
	deleteVersion(t, c, b, "k", v1)
	wantErr(t, getErr(t, c, b, "k", v1), 404, "NoSuchVersion")
	wantErr(t, getErr(t, c, b, "k", cfFakeID()), 404, "NoSuchVersion")
	r := e.do(t, rawReq{method: "HEAD", bucket: b, key: "k", query: "versionId=" + v1})
	if r.status != 404 || len(r.body) != 0 {
		t.Fatalf("HEAD ?versionId=<removed>: expected 404 without body, got %d with %d body bytes", r.status, len(r.body))
	}
}

// DeleteObject of a well-formed id that does not exist: 204 echoing the id
// (S3 captures in versity/versitygw#1758, scality/cloudserver#725), again
// after removal (s3-tests test_versioning_multi_object_delete: idempotent).
// A malformed id: 400 InvalidArgument (S3 capture, versity/versitygw#842).
func TestConformanceDeleteAbsentVersion(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "delabsent")
	v1 := aws.ToString(put(t, c, b, "k", cfBody(t, "one")).VersionId)
	v2 := aws.ToString(put(t, c, b, "k", cfBody(t, "two")).VersionId)
	before := e.cfList(t, b, nil)
	for _, key := range []string{"k", "nokey"} {
		fake := cfFakeID()
		cfWant204(t, "DeleteObject "+key+"?versionId=<never assigned>", e.cfDelete(t, b, key, fake), fake, "")
	}
	cfWantList(t, "ListObjectVersions unchanged", e.cfList(t, b, nil), before...)
	deleteVersion(t, c, b, "k", v1)
	cfWant204(t, "DeleteObject of an already-removed version", e.cfDelete(t, b, "k", v1), v1, "")
	cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", v2, true))

	t.Run("malformed id", func(t *testing.T) {
		wantRawErr(t, e.cfDelete(t, b, "k", "not-a-version-id"), 400, "InvalidArgument")
		wantRawErr(t, e.do(t, rawReq{method: "GET", bucket: b, key: "k", query: "versionId=not-a-version-id"}), 400, "InvalidArgument")
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", v2, true))
	})
}

// DeleteObjects with version ids: AWS DeleteObjects / DeletedObject
// (VersionId "the version ID of the deleted object"; DeleteMarker "whether
// the specified object version that was permanently deleted was (true) or
// was not (false) a delete marker ... In a simple DELETE, whether the
// current version is a delete marker"; DeleteMarkerVersionId "the version
// ID of the delete marker created ... If you delete a specific object
// version, the version ID of the object version deleted"); s3-tests
// test_versioning_multi_object_delete(_with_marker(_create)). An unparsable
// id is a per-entry NoSuchVersion error (S3 capture, versity/versitygw#2119).
func TestConformanceDeleteObjectsVersions(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "multidel")
	p := func(k, s string) string { return aws.ToString(put(t, c, b, k, cfBody(t, s)).VersionId) }
	k1a, k1b := p("k1", "k1 a"), p("k1", "k1 b")
	k2a := p("k2", "k2 a")
	k3a := p("k3", "k3 a")
	dm3 := aws.ToString(deleteKey(t, c, b, "k3").VersionId)
	k4a, k4b := p("k4", "k4 a"), p("k4", "k4 b")
	k5a := p("k5", "k5 a")
	oid := func(k, v string) types.ObjectIdentifier {
		o := types.ObjectIdentifier{Key: aws.String(k)}
		if v != "" {
			o.VersionId = aws.String(v)
		}
		return o
	}
	out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		oid("k1", k1b), oid("k2", k2a), oid("k3", dm3), oid("k4", k4a), oid("k5", "")}}})
	if err != nil {
		t.Fatalf("DeleteObjects: %v", err)
	}
	if len(out.Errors) != 0 {
		t.Fatalf("DeleteObjects: expected no Errors, got %+v", out.Errors)
	}
	got := map[string]types.DeletedObject{}
	for _, d := range out.Deleted {
		got[aws.ToString(d.Key)] = d
	}
	if len(got) != 5 {
		t.Fatalf("DeleteObjects: expected 5 Deleted keys, got %d", len(got))
	}
	for k, v := range map[string]string{"k1": k1b, "k2": k2a, "k4": k4a} {
		d := got[k]
		if aws.ToString(d.VersionId) != v || aws.ToBool(d.DeleteMarker) || (d.DeleteMarkerVersionId != nil && *d.DeleteMarkerVersionId != v) {
			t.Errorf("Deleted %s: expected VersionId %s, DeleteMarker not true, DeleteMarkerVersionId absent or %s; got %s %v %q",
				k, v, v, aws.ToString(d.VersionId), aws.ToBool(d.DeleteMarker), aws.ToString(d.DeleteMarkerVersionId))
		}
	}
	if d := got["k3"]; aws.ToString(d.VersionId) != dm3 || !aws.ToBool(d.DeleteMarker) || (d.DeleteMarkerVersionId != nil && *d.DeleteMarkerVersionId != dm3) {
		t.Errorf("Deleted k3 (a marker): expected VersionId %s DeleteMarker true; got %s %v %q",
			dm3, aws.ToString(d.VersionId), aws.ToBool(d.DeleteMarker), aws.ToString(d.DeleteMarkerVersionId))
	}
	d5 := got["k5"]
	dm5 := aws.ToString(d5.DeleteMarkerVersionId)
	if !aws.ToBool(d5.DeleteMarker) || dm5 == "" || dm5 == k5a || (d5.VersionId != nil && *d5.VersionId != dm5) {
		t.Errorf("Deleted k5 (no VersionId): expected DeleteMarker true and a new DeleteMarkerVersionId; got %v %q VersionId %q",
			aws.ToBool(d5.DeleteMarker), dm5, aws.ToString(d5.VersionId))
	}
	cfWantList(t, "ListObjectVersions after DeleteObjects", e.cfList(t, b, nil),
		cfV("k1", k1a, true), cfV("k3", k3a, true), cfV("k4", k4b, true), cfDM("k5", dm5, true), cfV("k5", k5a, false))
	for k, v := range map[string]string{"k1": k1a, "k3": k3a, "k4": k4b} {
		if _, g := get(t, c, b, k, ""); aws.ToString(g.VersionId) != v {
			t.Errorf("GET %s: expected version %s, got %s", k, v, aws.ToString(g.VersionId))
		}
	}
	wantErr(t, getErr(t, c, b, "k2", ""), 404, "NoSuchKey")
}

// DeleteObjects with a well-formed absent id (deleted idempotently, s3-tests
// test_versioning_multi_object_delete) and an unparsable one (per-entry
// NoSuchVersion error: S3 capture in versity/versitygw#2119).
func TestConformanceDeleteObjectsBadIDs(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	oid := func(k, v string) types.ObjectIdentifier {
		return types.ObjectIdentifier{Key: aws.String(k), VersionId: aws.String(v)}
	}
	{
		b := cfBucket(t, c, "multiabs")
		v1 := aws.ToString(put(t, c, b, "k", cfBody(t, "one")).VersionId)
		fake := cfFakeID()
		out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			oid("k", fake), oid("k", "not-a-version-id")}}})
		if err != nil {
			t.Fatalf("DeleteObjects: %v", err)
		}
		var del, errs []string
		for _, d := range out.Deleted {
			del = append(del, aws.ToString(d.Key)+"@"+aws.ToString(d.VersionId))
		}
		for _, e := range out.Errors {
			errs = append(errs, aws.ToString(e.Key)+"@"+aws.ToString(e.VersionId)+":"+aws.ToString(e.Code))
		}
		cfEq(t, "Deleted", strings.Join(del, ","), "k@"+fake)
		cfEq(t, "Errors", strings.Join(errs, ","), "k@not-a-version-id:NoSuchVersion")
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", v1, true))
	}
}

// GetBucketVersioning: Enabled for a new repo (SPEC.md §4, Tusk's contract);
// then the status last set (AWS GetBucketVersioning; s3-tests
// test_versioning_bucket_create_suspend).
func TestConformanceVersioningStatus(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "vstatus")
	st := func() types.BucketVersioningStatus {
		out, err := c.GetBucketVersioning(ctx(t), &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
		if err != nil {
			t.Fatalf("GetBucketVersioning: %v", err)
		}
		return out.Status
	}
	cfEq(t, "new bucket Status", st(), types.BucketVersioningStatusEnabled)
	t.Run("last set", func(t *testing.T) {
		for _, s := range []types.BucketVersioningStatus{"Suspended", "Enabled", "Enabled", "Suspended"} {
			cfSetVersioning(t, c, b, s)
			cfEq(t, "Status after PutBucketVersioning "+string(s), st(), s)
		}
	})
}

// Suspended versioning, null versions: AWS user guide, Adding objects to
// versioning-suspended buckets ("a version ID of null"; "If a null version
// is already in the bucket ... the added object overwrites the original null
// version"); Deleting objects from versioning-suspended buckets ("removes
// the object whose version ID is null ... and inserts a delete marker with
// version ID null"); s3-tests test_versioning_obj_suspend_versions,
// test_versioning_obj_plain_null_version_removal,
// test_versioning_obj_plain_null_version_overwrite_suspended.
func TestConformanceSuspended(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	setup := func(t *testing.T, prefix string) (string, string) {
		b := cfBucket(t, c, prefix)
		v1 := aws.ToString(put(t, c, b, "k", cfBody(t, "enabled one")).VersionId)
		cfSetVersioning(t, c, b, types.BucketVersioningStatusSuspended)
		return b, v1
	}
	t.Run("put makes a null version", func(t *testing.T) {
		b, v1 := setup(t, "susput")
		cfPut(t, c, b, "k", cfBody(t, "null one"))
		if body, _ := get(t, c, b, "k", "null"); !bytes.Equal(body, cfBody(t, "null one")) {
			t.Fatalf("GET ?versionId=null: expected %q, got %q", cfBody(t, "null one"), body)
		}
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", "null", true), cfV("k", v1, false))
	})
	t.Run("second put replaces the null version", func(t *testing.T) {
		b, v1 := setup(t, "susput2")
		cfPut(t, c, b, "k", cfBody(t, "null one"))
		cfPut(t, c, b, "k", cfBody(t, "null two"))
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", "null", true), cfV("k", v1, false))
		if body, _ := get(t, c, b, "k", "null"); !bytes.Equal(body, cfBody(t, "null two")) {
			t.Fatalf("GET ?versionId=null: expected %q, got %q", cfBody(t, "null two"), body)
		}
	})
	t.Run("delete makes a null marker replacing the null version", func(t *testing.T) {
		b, v1 := setup(t, "susdel")
		cfPut(t, c, b, "k", cfBody(t, "null one"))
		d := deleteKey(t, c, b, "k")
		if !aws.ToBool(d.DeleteMarker) || (d.VersionId != nil && *d.VersionId != "null") {
			t.Fatalf("DeleteObject: expected DeleteMarker true, VersionId null; got %v %q", aws.ToBool(d.DeleteMarker), aws.ToString(d.VersionId))
		}
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfDM("k", "null", true), cfV("k", v1, false))
		wantErr(t, getErr(t, c, b, "k", ""), 404, "NoSuchKey")
	})
	t.Run("delete versionId=null removes the null marker and the null version", func(t *testing.T) {
		b, v1 := setup(t, "susnull")
		cfPut(t, c, b, "k", cfBody(t, "null one"))
		deleteKey(t, c, b, "k")
		cfWant204(t, "DeleteObject ?versionId=null (marker)", e.cfDelete(t, b, "k", "null"), "", "true")
		cfWantList(t, "ListObjectVersions after removing the null marker", e.cfList(t, b, nil), cfV("k", v1, true))
		cfPut(t, c, b, "k", cfBody(t, "null again"))
		cfWant204(t, "DeleteObject ?versionId=null (content)", e.cfDelete(t, b, "k", "null"), "", "")
		cfWantList(t, "ListObjectVersions after removing the null version", e.cfList(t, b, nil), cfV("k", v1, true))
		wantErr(t, getErr(t, c, b, "k", "null"), 404, "NoSuchVersion")
	})
	t.Run("re-enabled: real ids again, the null version stays", func(t *testing.T) {
		b, v1 := setup(t, "reen")
		cfPut(t, c, b, "k", cfBody(t, "null one"))
		cfSetVersioning(t, c, b, types.BucketVersioningStatusEnabled)
		v3 := aws.ToString(put(t, c, b, "k", cfBody(t, "enabled three")).VersionId)
		cfWantList(t, "ListObjectVersions", e.cfList(t, b, nil), cfV("k", v3, true), cfV("k", "null", false), cfV("k", v1, false))
		if body, _ := get(t, c, b, "k", "null"); !bytes.Equal(body, cfBody(t, "null one")) {
			t.Fatalf("GET ?versionId=null: expected %q, got %q", cfBody(t, "null one"), body)
		}
	})
}

// cfPaginate checks MaxKeys=1 pages: one entry each, IsTruncated until the
// last, Next* markers naming the entry just returned, the pages equal to the
// full listing; and (KeyMarker, VersionIdMarker) from every position, and
// KeyMarker alone. AWS ListObjectVersions (NextKeyMarker /
// NextVersionIdMarker: "use this value for the key-marker /
// version-id-marker request parameter in a subsequent request"); s3-tests
// test_versioning_obj_list_marker.
func (e *env) cfPaginate(t *testing.T, c *s3.Client, b string, n int) []cfEnt {
	t.Helper()
	full := e.cfList(t, b, nil)
	if len(full) != n {
		t.Fatalf("full listing: expected %d entries, got %v", n, full)
	}
	var pages []cfEnt
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(1)}
	for i := 0; i < n; i++ {
		out, err := c.ListObjectVersions(ctx(t), in)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		var ents []cfEnt
		for _, v := range out.Versions {
			ents = append(ents, cfV(aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest)))
		}
		for _, d := range out.DeleteMarkers {
			ents = append(ents, cfDM(aws.ToString(d.Key), aws.ToString(d.VersionId), aws.ToBool(d.IsLatest)))
		}
		if len(ents) != 1 {
			t.Fatalf("page %d: expected 1 entry with MaxKeys=1, got %v", i, ents)
		}
		pages = append(pages, ents[0])
		last := i == n-1
		cfEq(t, fmt.Sprintf("page %d IsTruncated", i), aws.ToBool(out.IsTruncated), !last)
		if last {
			break
		}
		cfEq(t, fmt.Sprintf("page %d NextKeyMarker/NextVersionIdMarker", i),
			aws.ToString(out.NextKeyMarker)+" "+aws.ToString(out.NextVersionIdMarker), ents[0].Key+" "+ents[0].VID)
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	cfWantList(t, "entries of the MaxKeys=1 pages", pages, full...)
	for i, en := range full {
		got := e.cfList(t, b, url.Values{"key-marker": {en.Key}, "version-id-marker": {en.VID}})
		cfWantList(t, "key-marker="+en.Key+" version-id-marker="+en.VID, got, full[i+1:]...)
	}
	keys := map[string]bool{"0": true, "m": true, "zz": true}
	for _, en := range full {
		keys[en.Key] = true
	}
	for km := range keys {
		var want []cfEnt
		for _, en := range full {
			if en.Key > km {
				want = append(want, en)
			}
		}
		cfWantList(t, "key-marker="+km+" alone", e.cfList(t, b, url.Values{"key-marker": {km}}), want...)
	}
	return full
}

func TestConformancePagination(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	t.Run("versions, a removed version, a marker", func(t *testing.T) {
		b := cfBucket(t, c, "pages")
		put(t, c, b, "a", cfBody(t, "a1"))
		va2 := aws.ToString(put(t, c, b, "a", cfBody(t, "a2")).VersionId)
		put(t, c, b, "a", cfBody(t, "a3"))
		put(t, c, b, "a", cfBody(t, "a4"))
		deleteVersion(t, c, b, "a", va2)
		put(t, c, b, "b", cfBody(t, "b1"))
		deleteKey(t, c, b, "b")
		put(t, c, b, "c", cfBody(t, "c1"))
		e.cfPaginate(t, c, b, 6)
	})
	t.Run("with a null version", func(t *testing.T) {
		b := cfBucket(t, c, "pagesnull")
		put(t, c, b, "a", cfBody(t, "a1"))
		put(t, c, b, "n", cfBody(t, "n1"))
		cfSetVersioning(t, c, b, types.BucketVersioningStatusSuspended)
		cfPut(t, c, b, "n", cfBody(t, "n-null"))
		cfSetVersioning(t, c, b, types.BucketVersioningStatusEnabled)
		put(t, c, b, "n", cfBody(t, "n3"))
		put(t, c, b, "z", cfBody(t, "z1"))
		full := e.cfPaginate(t, c, b, 5)
		cfEq(t, "n's middle version", full[2].VID, "null")
	})
}

// 8 writers alternately PUT and DELETE one key: every acknowledged write is
// exactly one listed version or marker (AWS user guide, How S3 Versioning
// works: each write a new version with a unique id; stacked delete markers:
// s3-tests test_versioning_stack_delete_merkers;
// test_versioned_concurrent_object_create_and_remove).
func TestConformanceConcurrentPutDelete(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	b := cfBucket(t, c, "conc")
	var mu sync.Mutex
	acked := map[string]bool{} // "V id" / "DM id"
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 6; i++ {
				var kind, vid string
				if (w+i)%2 == 0 {
					out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"),
						Body: bytes.NewReader([]byte(fmt.Sprintf("w%d i%d", w, i)))})
					if err != nil {
						errs <- err
						return
					}
					kind, vid = "V", aws.ToString(out.VersionId)
				} else {
					out, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
					if err != nil {
						errs <- err
						return
					}
					if !aws.ToBool(out.DeleteMarker) {
						errs <- fmt.Errorf("DeleteObject: DeleteMarker not true")
					}
					kind, vid = "DM", aws.ToString(out.VersionId)
				}
				mu.Lock()
				acked[kind+" "+vid] = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent write: %v", err)
	}
	cfEq(t, "distinct acknowledged (kind, version id)", len(acked), 48)
	list := e.cfList(t, b, nil)
	listed := map[string]bool{}
	latest := 0
	for _, en := range list {
		k := "V"
		if en.Marker {
			k = "DM"
		}
		listed[k+" "+en.VID] = true
		if en.IsLatest {
			latest++
		}
	}
	if fmt.Sprint(listed) != fmt.Sprint(acked) || len(list) != len(acked) {
		t.Fatalf("listed entries vs acknowledged writes:\n expected %v\n got      %v", acked, list)
	}
	cfEq(t, "entries with IsLatest", latest, 1)
	cfEq(t, "IsLatest on the first entry", list[0].IsLatest, true)
	v := aws.ToString(put(t, c, b, "k", []byte("final")).VersionId)
	list = e.cfList(t, b, nil)
	cfEq(t, "first entry after a final PUT", list[0].String(), cfV("k", v, true).String())
	cfEq(t, "entries after the final PUT", len(list), 49)
}
