package test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// model is the expected version history of a bucket, built from what the
// writes answered: per key, newest first.
type model map[string][]verEntry

func (m model) put(key, version string, body []byte) {
	m[key] = append([]verEntry{{Key: key, VersionID: version, ETag: `"` + md5hex(body) + `"`, Size: int64(len(body))}}, m[key]...)
}

func (m model) del(key, version string) {
	m[key] = append([]verEntry{{Marker: true, Key: key, VersionID: version}}, m[key]...)
}

// drop removes a purged version.
func (m model) drop(key, version string) {
	var out []verEntry
	for _, v := range m[key] {
		if v.VersionID != version {
			out = append(out, v)
		}
	}
	m[key] = out
}

// list is the expected ListObjectVersions sequence: keys in byte order,
// newest first, IsLatest on each key's first.
func (m model) list() []verEntry {
	var keys []string
	for k, vs := range m {
		if len(vs) > 0 {
			keys = append(keys, k)
		}
	}
	var out []verEntry
	for _, k := range sortedCopy(keys) {
		for i, v := range m[k] {
			v.IsLatest = i == 0
			out = append(out, v)
		}
	}
	return out
}

// compareVersions compares a listing with the model on kind, key, version
// id, IsLatest, and ETag/size of content versions.
func compareVersions(t *testing.T, what string, got, want []verEntry) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.Marker == w.Marker && g.Key == w.Key && g.VersionID == w.VersionID && g.IsLatest == w.IsLatest &&
			(w.Marker || (g.ETag == w.ETag && g.Size == w.Size))
	}
	if !ok {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// paginate lists all versions max entries at a time through key-marker /
// version-id-marker, checking the markers on the way.
func (e *env) paginate(t *testing.T, bucket string, max int, extra url.Values) []verEntry {
	t.Helper()
	var all []verEntry
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	q.Set("max-keys", fmt.Sprint(max))
	for pages := 0; ; pages++ {
		if pages > 500 {
			t.Fatalf("pagination of %s does not end", bucket)
		}
		pg := e.versionsRaw(t, bucket, q)
		if len(pg.Entries)+len(pg.CommonPrefixes) > max {
			t.Fatalf("page of %d entries + %d prefixes with max-keys=%d", len(pg.Entries), len(pg.CommonPrefixes), max)
		}
		all = append(all, pg.Entries...)
		for _, p := range pg.CommonPrefixes {
			all = append(all, verEntry{Key: "PREFIX " + p})
		}
		if !pg.IsTruncated {
			return all
		}
		if pg.NextKeyMarker == "" {
			t.Fatalf("truncated page without NextKeyMarker")
		}
		q.Set("key-marker", pg.NextKeyMarker)
		if pg.NextVersionIDMarker != "" {
			q.Set("version-id-marker", pg.NextVersionIDMarker)
		} else {
			q.Del("version-id-marker")
		}
	}
}

func deleteVersion(t *testing.T, c *s3.Client, bucket, key, version string) *s3.DeleteObjectOutput {
	t.Helper()
	out, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		t.Fatalf("DeleteObject %s/%q versionId %s: %v", bucket, key, version, err)
	}
	return out
}

// TestVersionHistory builds a history of puts, overwrites, deletes,
// DeleteObjects, a restore and purges, and checks ListObjectVersions after
// each step: unpaginated against the model, and paginated with max-keys 1,
// 2 and 3 reproducing the unpaginated sequence exactly.
func TestVersionHistory(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	m := model{}
	check := func(step string) {
		t.Helper()
		full := e.versions(t, repo)
		compareVersions(t, step, full, m.list())
		for _, max := range []int{1, 2, 3} {
			sameVersions(t, fmt.Sprintf("%s: max-keys=%d pagination", step, max), e.paginate(t, repo, max, nil), full)
		}
		// The SDK's view of the same pages (max-keys=1).
		var viaSDK []verEntry
		in := &s3.ListObjectVersionsInput{Bucket: aws.String(repo), MaxKeys: aws.Int32(1)}
		for i := 0; ; i++ {
			out, err := c.ListObjectVersions(ctx(t), in)
			if err != nil {
				t.Fatalf("%s: SDK ListObjectVersions: %v", step, err)
			}
			if i > 200 {
				t.Fatalf("%s: SDK pagination does not end", step)
			}
			for _, v := range out.Versions {
				viaSDK = append(viaSDK, verEntry{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), IsLatest: aws.ToBool(v.IsLatest),
					ETag: aws.ToString(v.ETag), Size: aws.ToInt64(v.Size)})
			}
			for _, d := range out.DeleteMarkers {
				viaSDK = append(viaSDK, verEntry{Marker: true, Key: aws.ToString(d.Key), VersionID: aws.ToString(d.VersionId),
					IsLatest: aws.ToBool(d.IsLatest)})
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
		}
		compareVersions(t, step+": SDK max-keys=1", viaSDK, full)
	}

	check("empty")
	p := put(t, c, repo, "a", []byte("a1"))
	m.put("a", aws.ToString(p.VersionId), []byte("a1"))
	p = put(t, c, repo, "b", []byte("b1"))
	m.put("b", aws.ToString(p.VersionId), []byte("b1"))
	check("after puts")
	p = put(t, c, repo, "a", []byte("a2 longer"))
	m.put("a", aws.ToString(p.VersionId), []byte("a2 longer"))
	check("after overwrite")
	d := deleteKey(t, c, repo, "b")
	m.del("b", aws.ToString(d.VersionId))
	check("after delete")
	p = put(t, c, repo, "c/x", []byte("cx"))
	m.put("c/x", aws.ToString(p.VersionId), []byte("cx"))
	p = put(t, c, repo, "c/y", []byte("cy"))
	m.put("c/y", aws.ToString(p.VersionId), []byte("cy"))
	p = put(t, c, repo, "b", []byte("b2"))
	m.put("b", aws.ToString(p.VersionId), []byte("b2"))
	check("after recreate")

	dout, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(repo), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("c/x")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dout.Deleted) != 2 || len(dout.Errors) != 0 {
		t.Fatalf("DeleteObjects: %d deleted, errors %+v", len(dout.Deleted), dout.Errors)
	}
	dm := aws.ToString(dout.Deleted[0].DeleteMarkerVersionId)
	m.del("a", dm)
	m.del("c/x", dm)
	check("after DeleteObjects")

	// Remove the delete marker of a: a2 is current again, with its own id.
	deleteVersion(t, c, repo, "a", dm)
	b, g := get(t, c, repo, "a", "")
	if string(b) != "a2 longer" || aws.ToString(g.VersionId) != m["a"][1].VersionID {
		t.Fatalf("a after removing its delete marker: %q version %s, want a2's %s", b, aws.ToString(g.VersionId), m["a"][1].VersionID)
	}
	m.drop("a", dm)
	check("after removing a delete marker")

	// Remove b1 (an old content version).
	b1 := m["b"][2].VersionID
	deleteVersion(t, c, repo, "b", b1)
	m.drop("b", b1)
	check("after removing an old version")

	// Delimiter and prefix on versions, paginated.
	full := e.versionsRaw(t, repo, url.Values{"delimiter": {"/"}})
	var flat []verEntry
	flat = append(flat, full.Entries...)
	for _, p := range full.CommonPrefixes {
		flat = append(flat, verEntry{Key: "PREFIX " + p})
	}
	if len(full.CommonPrefixes) != 1 || full.CommonPrefixes[0] != "c/" {
		t.Fatalf("versions with delimiter /: prefixes %q", full.CommonPrefixes)
	}
	for _, en := range full.Entries {
		if strings.HasPrefix(en.Key, "c/") {
			t.Fatalf("versions with delimiter /: %v listed under a common prefix", en)
		}
	}
	pag := e.paginate(t, repo, 1, url.Values{"delimiter": {"/"}})
	// Pages interleave prefixes in key order; compare as sets of lines.
	if fmt.Sprint(sortedStrings(pag)) != fmt.Sprint(sortedStrings(flat)) {
		t.Fatalf("versions delimiter / paginated:\n got  %v\n want %v", pag, flat)
	}
	pre := e.versionsRaw(t, repo, url.Values{"prefix": {"c/"}})
	var want []verEntry
	for _, v := range m.list() {
		if strings.HasPrefix(v.Key, "c/") {
			want = append(want, v)
		}
	}
	compareVersions(t, "versions prefix c/", pre.Entries, want)

	// key-marker alone starts after every version of that key.
	for _, km := range []string{"a", "b", "c/x", "0", "zzz"} {
		pg := e.versionsRaw(t, repo, url.Values{"key-marker": {km}})
		var want []verEntry
		for _, v := range m.list() {
			if v.Key > km {
				want = append(want, v)
			}
		}
		compareVersions(t, "key-marker "+km, pg.Entries, want)
	}
	// version-id-marker without key-marker is refused.
	wantRawErr(t, e.do(t, rawReq{method: "GET", bucket: repo, query: "versions&version-id-marker=" + m["a"][0].VersionID}), 400, "InvalidArgument")
}

func sortedStrings(vs []verEntry) []string {
	var s []string
	for _, v := range vs {
		s = append(s, v.String())
	}
	return sortedCopy(s)
}

// TestDeleteMarkers: DeleteObject without versionId commits a delete
// marker; reading it answers as S3; deleting the marker by versionId
// restores the previous content with a new commit.
func TestDeleteMarkers(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	v1 := aws.ToString(put(t, c, repo, "k", []byte("one")).VersionId)
	v2 := aws.ToString(put(t, c, repo, "k", []byte("two")).VersionId)
	d := deleteKey(t, c, repo, "k")
	dm := aws.ToString(d.VersionId)
	if !aws.ToBool(d.DeleteMarker) || !isCommitID(dm) || dm == v2 {
		t.Fatalf("DeleteObject: marker %v version %q", aws.ToBool(d.DeleteMarker), dm)
	}

	t.Run("reads", func(t *testing.T) {
		wantErr(t, getErr(t, c, repo, "k", ""), 404, "NoSuchKey")
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "k"})
		wantRawErr(t, r, 404, "NoSuchKey")
		if r.header.Get("X-Amz-Delete-Marker") != "true" {
			t.Errorf("GET of a deleted key: x-amz-delete-marker %q", r.header.Get("X-Amz-Delete-Marker"))
		}
		r = e.do(t, rawReq{method: "GET", bucket: repo, key: "k", query: "versionId=" + dm})
		wantRawErr(t, r, 405, "MethodNotAllowed")
		if r.header.Get("X-Amz-Delete-Marker") != "true" || r.header.Get("X-Amz-Version-Id") != dm {
			t.Errorf("GET ?versionId=<marker>: delete-marker %q version %q", r.header.Get("X-Amz-Delete-Marker"), r.header.Get("X-Amz-Version-Id"))
		}
		_, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("k"), VersionId: aws.String(dm)})
		wantErr(t, err, 405, "")
		for v, want := range map[string]string{v1: "one", v2: "two"} {
			b, g := get(t, c, repo, "k", v)
			if string(b) != want || aws.ToString(g.VersionId) != v {
				t.Fatalf("?versionId=%s: %q version %q", v, b, aws.ToString(g.VersionId))
			}
		}
		if keys := keysOf(t, c, repo); len(keys) != 0 {
			t.Fatalf("deleted key still listed: %q", keys)
		}
	})
	t.Run("delete again", func(t *testing.T) {
		// Deleting an absent key succeeds and creates nothing that reads.
		if _, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String("never-existed")}); err != nil {
			t.Fatalf("DeleteObject of an absent key: %v", err)
		}
		after := e.versions(t, repo)
		for _, v := range after {
			if v.Key == "never-existed" && !v.Marker {
				t.Fatalf("DeleteObject of an absent key made a content version: %v", after)
			}
		}
		wantErr(t, getErr(t, c, repo, "never-existed", ""), 404, "NoSuchKey")
	})
	t.Run("remove marker", func(t *testing.T) {
		head := e.versions(t, repo)
		out := deleteVersion(t, c, repo, "k", dm)
		if !aws.ToBool(out.DeleteMarker) || aws.ToString(out.VersionId) != dm {
			t.Errorf("DeleteObject ?versionId=<marker>: DeleteMarker %v VersionId %q; want true %s",
				aws.ToBool(out.DeleteMarker), aws.ToString(out.VersionId), dm)
		}
		// As on S3: the previous version is current again, with its own
		// version id, and the marker is gone from the list.
		b, g := get(t, c, repo, "k", "")
		if string(b) != "two" || aws.ToString(g.VersionId) != v2 {
			t.Fatalf("after removing the marker: %q version %q, want \"two\" %s", b, aws.ToString(g.VersionId), v2)
		}
		var kv []verEntry
		for _, v := range e.versions(t, repo) {
			if v.Key == "k" {
				kv = append(kv, v)
			}
		}
		if len(kv) != 2 || kv[0].VersionID != v2 || !kv[0].IsLatest || kv[1].VersionID != v1 {
			t.Fatalf("versions of k after removing the marker: %v (before: %v); want [V(%s*) V(%s)]", kv, head, short(v2), short(v1))
		}
		wantRawErr(t, e.do(t, rawReq{method: "GET", bucket: repo, key: "k", query: "versionId=" + dm}), 404, "NoSuchVersion")
	})
}

// TestVersionRemoval: DeleteObject with a versionId removes that version
// of that key from that branch's view, as S3 does, and nothing else: the
// same bytes under other keys, in other repos and in tags stay (the
// issue's reproduction), and a bucket whose versions are all removed can
// be deleted.
func TestVersionRemoval(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repa, repb := e.repo(t), e.repo(t)
	same := []byte("hello world 123")
	v1 := aws.ToString(put(t, c, repa, "a", same).VersionId)
	v2 := aws.ToString(put(t, c, repa, "a", []byte("second")).VersionId)
	vb := aws.ToString(put(t, c, repa, "b", same).VersionId)
	vc := aws.ToString(put(t, c, repb, "c", same).VersionId)
	e.tag(t, repa, "keep", "main")

	out := deleteVersion(t, c, repa, "a", v1)
	if aws.ToString(out.VersionId) != v1 || aws.ToBool(out.DeleteMarker) {
		t.Errorf("removal answer: version %q marker %v", aws.ToString(out.VersionId), aws.ToBool(out.DeleteMarker))
	}
	t.Run("nothing else changes", func(t *testing.T) {
		if b, g := get(t, c, repa, "b", ""); string(b) != string(same) || aws.ToString(g.VersionId) != vb {
			t.Fatalf("repa/b: %q %s", b, aws.ToString(g.VersionId))
		}
		if b, g := get(t, c, repb, "c", ""); string(b) != string(same) || aws.ToString(g.VersionId) != vc {
			t.Fatalf("repb/c: %q %s", b, aws.ToString(g.VersionId))
		}
		put(t, c, repb, "d", same) // re-upload of the same bytes works
		if b, g := get(t, c, repa, "a", ""); string(b) != "second" || aws.ToString(g.VersionId) != v2 {
			t.Fatalf("repa/a: %q %s", b, aws.ToString(g.VersionId))
		}
		// The tag keeps its view, v1 included.
		if b, _ := get(t, c, "keep."+repa, "a", v1); string(b) != string(same) {
			t.Fatalf("tag lost v1: %q", b)
		}
	})
	t.Run("removed version", func(t *testing.T) {
		wantErr(t, getErr(t, c, repa, "a", v1), 404, "NoSuchVersion")
		_, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repa), Key: aws.String("a"), VersionId: aws.String(v1)})
		wantErr(t, err, 404, "")
		for _, v := range e.versions(t, repa) {
			if v.VersionID == v1 {
				t.Fatalf("removed version still listed: %v", v)
			}
		}
	})
	t.Run("current version", func(t *testing.T) {
		h, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repa), Key: aws.String("a")})
		if err != nil {
			t.Fatal(err)
		}
		modified := aws.ToTime(h.LastModified)
		v3 := aws.ToString(put(t, c, repa, "a", []byte("third"), func(in *s3.PutObjectInput) {
			in.Metadata = map[string]string{"color": "red"}
		}).VersionId)
		deleteVersion(t, c, repa, "a", v3)
		b, g := get(t, c, repa, "a", "")
		if string(b) != "second" || aws.ToString(g.VersionId) != v2 || aws.ToString(g.ETag) != `"`+md5hex([]byte("second"))+`"` ||
			!aws.ToTime(g.LastModified).Equal(modified) || len(g.Metadata) != 0 {
			t.Fatalf("after removing the current version: %q version %s etag %s modified %v meta %v; want v2's own (%s, %v)",
				b, aws.ToString(g.VersionId), aws.ToString(g.ETag), aws.ToTime(g.LastModified), g.Metadata, v2, modified)
		}
	})
	t.Run("delete objects with version ids", func(t *testing.T) {
		x1 := aws.ToString(put(t, c, repa, "x", []byte("x1")).VersionId)
		x2 := aws.ToString(put(t, c, repa, "x", []byte("x2")).VersionId)
		dm := aws.ToString(deleteKey(t, c, repa, "y").VersionId)
		before := e.versions(t, repa)
		out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(repa), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("x"), VersionId: aws.String(x2)},
				{Key: aws.String("y"), VersionId: aws.String(dm)}, {Key: aws.String("b"), VersionId: aws.String(vb)}}}})
		if err != nil || len(out.Errors) != 0 || len(out.Deleted) != 3 {
			t.Fatalf("DeleteObjects: %v %+v", err, out)
		}
		for _, d := range out.Deleted {
			marker := aws.ToString(d.Key) == "y"
			if aws.ToBool(d.DeleteMarker) != marker || (marker && aws.ToString(d.DeleteMarkerVersionId) != dm) {
				t.Errorf("deleted %s: marker %v %q", aws.ToString(d.Key), aws.ToBool(d.DeleteMarker), aws.ToString(d.DeleteMarkerVersionId))
			}
		}
		if b, g := get(t, c, repa, "x", ""); string(b) != "x1" || aws.ToString(g.VersionId) != x1 {
			t.Fatalf("x now %q %s", b, aws.ToString(g.VersionId))
		}
		wantErr(t, getErr(t, c, repa, "b", ""), 404, "NoSuchKey")
		after := e.versions(t, repa)
		if len(after) != len(before)-3 {
			t.Fatalf("versions: %d before, %d after, want 3 fewer:\n%v", len(before), len(after), after)
		}
	})
	t.Run("delete bucket once empty", func(t *testing.T) {
		_, err := c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(repa)})
		wantErr(t, err, 409, "BucketNotEmpty")
		if err := e.srv.Meta.DeleteTag(ctx(t), repa, "keep"); err != nil {
			t.Fatal(err)
		}
		for _, v := range e.versions(t, repa) {
			deleteVersion(t, c, repa, v.Key, v.VersionID)
		}
		if vs := e.versions(t, repa); len(vs) != 0 {
			t.Fatalf("versions left: %v", vs)
		}
		if _, err := c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(repa)}); err != nil {
			t.Fatalf("DeleteBucket of a bucket with no versions: %v", err)
		}
	})
}

// TestDeleteObjects: N keys are one commit, every result shares one
// DeleteMarkerVersionId, which is the branch's new head.
func TestDeleteObjects(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	keys := []string{"d/1", "d/2", "d/3 sp", "d/4+plus", "d/ünï"}
	for _, k := range keys {
		put(t, c, repo, k, []byte("content of "+k))
	}
	var objs []types.ObjectIdentifier
	for _, k := range keys[:4] {
		objs = append(objs, types.ObjectIdentifier{Key: aws.String(k)})
	}
	out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(repo), Delete: &types.Delete{Objects: objs}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) != 0 || len(out.Deleted) != 4 {
		t.Fatalf("DeleteObjects: deleted %d, errors %+v", len(out.Deleted), out.Errors)
	}
	id := aws.ToString(out.Deleted[0].DeleteMarkerVersionId)
	seen := map[string]bool{}
	for _, d := range out.Deleted {
		seen[aws.ToString(d.Key)] = true
		if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) != id || !isCommitID(id) {
			t.Fatalf("DeleteObjects result %s: marker %v id %q; want all to share %q", aws.ToString(d.Key),
				aws.ToBool(d.DeleteMarker), aws.ToString(d.DeleteMarkerVersionId), id)
		}
	}
	for _, k := range keys[:4] {
		if !seen[k] {
			t.Errorf("DeleteObjects: no result for %q", k)
		}
	}
	// One commit: the head is that id, and exactly those markers carry it.
	r := e.do(t, rawReq{method: "HEAD", bucket: repo})
	if r.header.Get("X-Tusk-Commit") != id {
		t.Fatalf("branch head %q after DeleteObjects, want %q", r.header.Get("X-Tusk-Commit"), id)
	}
	n := 0
	for _, v := range e.versions(t, repo) {
		if v.VersionID == id {
			n++
			if !v.Marker || !v.IsLatest {
				t.Errorf("version %v of the DeleteObjects commit", v)
			}
		}
	}
	if n != 4 {
		t.Fatalf("%d versions carry the DeleteObjects commit, want 4", n)
	}
	if got := keysOf(t, c, repo); fmt.Sprint(got) != fmt.Sprint([]string{"d/ünï"}) {
		t.Fatalf("keys left: %q", got)
	}

	t.Run("quiet", func(t *testing.T) {
		put(t, c, repo, "q1", []byte("q"))
		put(t, c, repo, "q2", []byte("q"))
		out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(repo), Delete: &types.Delete{Quiet: aws.Bool(true),
			Objects: []types.ObjectIdentifier{{Key: aws.String("q1")}, {Key: aws.String("q2")}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Deleted) != 0 || len(out.Errors) != 0 {
			t.Fatalf("quiet DeleteObjects answered %d deleted, %d errors", len(out.Deleted), len(out.Errors))
		}
		if got := keysOf(t, c, repo); fmt.Sprint(got) != fmt.Sprint([]string{"d/ünï"}) {
			t.Fatalf("keys left: %q", got)
		}
	})
	t.Run("undo markers by version", func(t *testing.T) {
		out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(repo), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("d/1"), VersionId: aws.String(id)}}}})
		if err != nil || len(out.Errors) != 0 {
			t.Fatalf("DeleteObjects with a marker's versionId: %v %+v", err, out)
		}
		b, _ := get(t, c, repo, "d/1", "")
		if string(b) != "content of d/1" {
			t.Fatalf("d/1 after undoing its marker: %q", b)
		}
	})
	t.Run("malformed XML", func(t *testing.T) {
		before := e.versions(t, repo)
		for _, body := range []string{
			"<Delete><Object><Key>d/1</Key></Object>",
			"not xml at all",
			"<Delete></Delete>",
		} {
			sum := md5b64([]byte(body))
			r := e.do(t, rawReq{method: "POST", bucket: repo, query: "delete", body: []byte(body),
				header: map[string]string{"Content-MD5": sum, "Content-Type": "application/xml"}})
			wantRawErr(t, r, 400, "MalformedXML")
			sameVersions(t, "malformed DeleteObjects", e.versions(t, repo), before)
		}
	})
}
