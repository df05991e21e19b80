package test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	minio "github.com/minio/minio-go/v7"

	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// TestSDKStyles runs the everyday S3 cycle through aws-sdk-go-v2 in every
// addressing style and body encoding: path-style and virtual-hosted, plain
// HTTP (signed payload, CRC32 header) and HTTPS (aws-chunked body with a
// CRC32 trailer), on a repo (main) and on a REF.REPO branch bucket.
func TestSDKStyles(t *testing.T) {
	e := newEnv(t)
	for _, st := range allStyles {
		t.Run(st.String(), func(t *testing.T) {
			c, rec := e.sdkRec(st, gatewaytest.AccessKey, gatewaytest.SecretKey)
			repo := e.name("sty")
			if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(repo)}); err != nil {
				t.Fatalf("CreateBucket %s: %v", repo, err)
			}
			if _, err := c.HeadBucket(ctx(t), &s3.HeadBucketInput{Bucket: aws.String(repo)}); err != nil {
				t.Fatalf("HeadBucket %s: %v", repo, err)
			}
			found := false
			for _, b := range listBuckets(t, c) {
				found = found || b == repo
			}
			if !found {
				t.Fatalf("ListBuckets through %s does not list %s", st, repo)
			}
			body := []byte("hello " + st.String())
			p := put(t, c, repo, "dir/hello.txt", body, func(in *s3.PutObjectInput) {
				in.ContentType = aws.String("text/plain")
				in.Metadata = map[string]string{"color": "blue"}
			})
			v1 := aws.ToString(p.VersionId)
			checkWire(t, st, rec.last(), repo, body)
			// The default CRC32 was sent (header or trailer) and is answered.
			if p.ChecksumCRC32 == nil || *p.ChecksumCRC32 != crc32b64(body) {
				t.Errorf("PutObject: x-amz-checksum-crc32 %q, want %q (the SDK's default checksum)", aws.ToString(p.ChecksumCRC32), crc32b64(body))
			}

			got, out := get(t, c, repo, "dir/hello.txt", "")
			if !bytes.Equal(got, body) {
				t.Fatalf("GetObject: %q, want %q", got, body)
			}
			if aws.ToString(out.VersionId) != v1 {
				t.Errorf("GetObject version %q, want %q", aws.ToString(out.VersionId), v1)
			}
			if ce := aws.ToString(out.ContentEncoding); ce != "" {
				t.Errorf("GetObject: Content-Encoding %q stored from the transfer encoding", ce)
			}
			if aws.ToString(out.ContentType) != "text/plain" || out.Metadata["color"] != "blue" {
				t.Errorf("GetObject: Content-Type %q metadata %v", aws.ToString(out.ContentType), out.Metadata)
			}

			// A branch bucket REF.REPO, written through the same client.
			branch := "dev." + repo
			if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(branch)}); err != nil {
				t.Fatalf("CreateBucket %s: %v", branch, err)
			}
			got, _ = get(t, c, branch, "dir/hello.txt", "")
			if !bytes.Equal(got, body) {
				t.Fatalf("branch read: %q, want %q", got, body)
			}
			b2 := []byte("on dev")
			p2 := put(t, c, branch, "dir/hello.txt", b2)
			checkWire(t, st, rec.last(), branch, b2)
			got, _ = get(t, c, branch, "dir/hello.txt", "")
			if !bytes.Equal(got, b2) {
				t.Fatalf("branch after write: %q", got)
			}
			got, _ = get(t, c, repo, "dir/hello.txt", "")
			if !bytes.Equal(got, body) {
				t.Fatalf("main changed by a write to dev: %q", got)
			}
			// The old version through the branch, by version id.
			got, _ = get(t, c, branch, "dir/hello.txt", v1)
			if !bytes.Equal(got, body) {
				t.Fatalf("dev ?versionId=%s: %q", v1, got)
			}

			// Copy on the branch, list, head.
			if _, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(branch), Key: aws.String("copy.txt"),
				CopySource: aws.String(branch + "/dir/hello.txt")}); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			lo, err := c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(branch), Delimiter: aws.String("/")})
			if err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}
			if len(lo.Contents) != 1 || aws.ToString(lo.Contents[0].Key) != "copy.txt" ||
				len(lo.CommonPrefixes) != 1 || aws.ToString(lo.CommonPrefixes[0].Prefix) != "dir/" {
				t.Fatalf("ListObjectsV2 delimiter /: %s", describeList(lo))
			}
			// FetchOwner: v2 lists owners only when asked.
			for _, fetch := range []bool{false, true} {
				lo, err := c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(branch), FetchOwner: aws.Bool(fetch)})
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range lo.Contents {
					if (o.Owner != nil) != fetch {
						t.Errorf("ListObjectsV2 FetchOwner=%v: owner %+v", fetch, o.Owner)
					}
				}
			}
			h, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(branch), Key: aws.String("copy.txt")})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if aws.ToInt64(h.ContentLength) != int64(len(b2)) || aws.ToString(h.ETag) != `"`+md5hex(b2)+`"` {
				t.Fatalf("HeadObject copy.txt: length %d etag %s", aws.ToInt64(h.ContentLength), aws.ToString(h.ETag))
			}

			// Delete: a delete marker commit, then the versions.
			d, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(branch), Key: aws.String("dir/hello.txt")})
			if err != nil {
				t.Fatalf("DeleteObject: %v", err)
			}
			if !aws.ToBool(d.DeleteMarker) || !isCommitID(aws.ToString(d.VersionId)) {
				t.Fatalf("DeleteObject: DeleteMarker %v VersionId %q", aws.ToBool(d.DeleteMarker), aws.ToString(d.VersionId))
			}
			wantErr(t, getErr(t, c, branch, "dir/hello.txt", ""), 404, "NoSuchKey")
			lv, err := c.ListObjectVersions(ctx(t), &s3.ListObjectVersionsInput{Bucket: aws.String(branch), Prefix: aws.String("dir/")})
			if err != nil {
				t.Fatalf("ListObjectVersions: %v", err)
			}
			if len(lv.DeleteMarkers) != 1 || !aws.ToBool(lv.DeleteMarkers[0].IsLatest) ||
				aws.ToString(lv.DeleteMarkers[0].VersionId) != aws.ToString(d.VersionId) {
				t.Fatalf("ListObjectVersions delete markers: %+v", lv.DeleteMarkers)
			}
			var vids []string
			for _, v := range lv.Versions {
				vids = append(vids, aws.ToString(v.VersionId))
			}
			if fmt.Sprint(vids) != fmt.Sprint([]string{aws.ToString(p2.VersionId), v1}) {
				t.Fatalf("ListObjectVersions versions %v, want [%s %s]", vids, aws.ToString(p2.VersionId), v1)
			}

			// DeleteBucket of the branch: refused while keys remain.
			_, err = c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(branch)})
			wantErr(t, err, 409, "BucketNotEmpty")
			if _, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(branch), Key: aws.String("copy.txt")}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(branch)}); err != nil {
				t.Fatalf("DeleteBucket %s (empty branch): %v", branch, err)
			}
			_, err = c.HeadBucket(ctx(t), &s3.HeadBucketInput{Bucket: aws.String(branch)})
			wantErr(t, err, 404, "")
		})
	}
}

// checkWire checks how the SDK sent a PutObject to bucket: the addressing
// style, and the body encoding (signed payload with a CRC32 header over
// HTTP; aws-chunked with a CRC32 trailer over TLS).
func checkWire(t *testing.T, st style, h http.Header, bucket string, body []byte) {
	t.Helper()
	if h.Get("X-Test-Method") != "PUT" {
		t.Fatalf("last request was %s, not the PUT", h.Get("X-Test-Method"))
	}
	host := h.Get("X-Test-Host")
	virtual := st == vhostHTTP || st == vhostTLS
	if st == vhostTLS && strings.Contains(bucket, ".") {
		// Over TLS the SDK addresses dotted names path-style (a certificate
		// for *.localhost would not cover them), as on AWS.
		virtual = false
	}
	switch {
	case virtual:
		if !strings.HasPrefix(host, bucket+"."+domain+":") {
			t.Errorf("virtual-hosted PUT went to Host %q path %q", host, h.Get("X-Test-Path"))
		}
	default:
		if (!strings.HasPrefix(host, "127.0.0.1:") && !strings.HasPrefix(host, domain+":")) ||
			!strings.HasPrefix(h.Get("X-Test-Path"), "/"+bucket+"/") {
			t.Errorf("path-style PUT went to Host %q path %q", host, h.Get("X-Test-Path"))
		}
	}
	switch st {
	case pathTLS, vhostTLS:
		if h.Get("X-Amz-Content-Sha256") != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" ||
			!strings.EqualFold(h.Get("X-Amz-Trailer"), "x-amz-checksum-crc32") ||
			!strings.Contains(h.Get("Content-Encoding"), "aws-chunked") {
			t.Errorf("TLS PUT was not aws-chunked with a CRC32 trailer: sha256 %q trailer %q encoding %q",
				h.Get("X-Amz-Content-Sha256"), h.Get("X-Amz-Trailer"), h.Get("Content-Encoding"))
		}
	default:
		if h.Get("X-Amz-Content-Sha256") != hex.EncodeToString(sha256sum(body)) || h.Get("X-Amz-Checksum-Crc32") != crc32b64(body) {
			t.Errorf("HTTP PUT: x-amz-content-sha256 %q x-amz-checksum-crc32 %q", h.Get("X-Amz-Content-Sha256"), h.Get("X-Amz-Checksum-Crc32"))
		}
	}
}

func describeList(lo *s3.ListObjectsV2Output) string {
	var keys, prefixes []string
	for _, o := range lo.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	for _, p := range lo.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	return fmt.Sprintf("keys %q prefixes %q truncated %v", keys, prefixes, aws.ToBool(lo.IsTruncated))
}

// TestMinioStyles runs the same cycle through minio-go v7 (streaming
// AWS4-HMAC-SHA256-PAYLOAD chunked signing) with path and DNS lookup.
func TestMinioStyles(t *testing.T) {
	e := newEnv(t)
	for _, dns := range []bool{false, true} {
		name := "path"
		if dns {
			name = "dns"
		}
		t.Run(name, func(t *testing.T) {
			mc := e.minio(dns)
			c := ctx(t)
			repo := e.name("mio")
			if err := mc.MakeBucket(c, repo, minio.MakeBucketOptions{}); err != nil {
				t.Fatalf("MakeBucket %s: %v", repo, err)
			}
			ok, err := mc.BucketExists(c, repo)
			if err != nil || !ok {
				t.Fatalf("BucketExists %s: %v %v", repo, ok, err)
			}
			body := bytes.Repeat([]byte("minio chunked body "), 5000) // ~95 KB: several signed chunks
			info, err := mc.PutObject(c, repo, "a/b c+d.bin", bytes.NewReader(body), int64(len(body)),
				minio.PutObjectOptions{ContentType: "application/x-test", UserMetadata: map[string]string{"owner": "me"}})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if !isCommitID(info.VersionID) || info.ETag != md5hex(body) {
				t.Fatalf("PutObject: version %q etag %q", info.VersionID, info.ETag)
			}
			obj, err := mc.GetObject(c, repo, "a/b c+d.bin", minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("GetObject: %d bytes, err %v", len(got), err)
			}
			st, err := mc.StatObject(c, repo, "a/b c+d.bin", minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ce := st.Metadata.Get("Content-Encoding"); ce != "" {
				t.Errorf("StatObject: Content-Encoding %q stored from the transfer encoding", ce)
			}
			if st.ContentType != "application/x-test" || st.UserMetadata["Owner"] != "me" || st.VersionID != info.VersionID {
				t.Fatalf("StatObject: type %q meta %v version %q", st.ContentType, st.UserMetadata, st.VersionID)
			}

			// Branch bucket, copy across refs, listing (encoding-type=url).
			branch := "feat." + repo
			if err := mc.MakeBucket(c, branch, minio.MakeBucketOptions{}); err != nil {
				t.Fatalf("MakeBucket %s: %v", branch, err)
			}
			if _, err := mc.CopyObject(c, minio.CopyDestOptions{Bucket: branch, Object: "copied %.bin"},
				minio.CopySrcOptions{Bucket: repo, Object: "a/b c+d.bin"}); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			var keys []string
			for o := range mc.ListObjects(c, branch, minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				keys = append(keys, o.Key)
			}
			if fmt.Sprint(keys) != fmt.Sprint([]string{"a/b c+d.bin", "copied %.bin"}) {
				t.Fatalf("ListObjects %s: %q", branch, keys)
			}
			var top []string
			for o := range mc.ListObjects(c, branch, minio.ListObjectsOptions{}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				top = append(top, o.Key)
			}
			// minio-go emits a page's objects before its prefixes.
			if fmt.Sprint(sortedCopy(top)) != fmt.Sprint([]string{"a/", "copied %.bin"}) {
				t.Fatalf("ListObjects %s delimiter /: %q", branch, top)
			}

			// Remove: a delete marker; versions listing shows it.
			if err := mc.RemoveObject(c, branch, "copied %.bin", minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err = mc.StatObject(c, branch, "copied %.bin", minio.StatObjectOptions{})
			wantMinioErr(t, err, 404, "NoSuchKey")
			var markers, versions int
			for o := range mc.ListObjects(c, branch, minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				if o.IsDeleteMarker {
					markers++
					if o.Key != "copied %.bin" || !o.IsLatest {
						t.Errorf("delete marker %+v", o)
					}
				} else {
					versions++
				}
			}
			// a/b c+d.bin (from main) + copied (copy) on dev's history.
			if markers != 1 || versions != 2 {
				t.Fatalf("versions of %s: %d versions, %d markers; want 2 and 1", branch, versions, markers)
			}

			// Wrong secret through minio: SignatureDoesNotMatch.
			bad, err := minio.New(mc.EndpointURL().Host, &minio.Options{Creds: credsFor("TKTESTADMINKEY000001", "wrong"),
				Transport: e.transport(false), Region: region, BucketLookup: lookupOf(dns)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = bad.StatObject(c, repo, "a/b c+d.bin", minio.StatObjectOptions{})
			wantMinioErr(t, err, 403, "")
			_, err = bad.PutObject(c, repo, "x", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
			wantMinioErr(t, err, 403, "SignatureDoesNotMatch")

			// DeleteObjects through minio: one commit for both keys.
			objs := make(chan minio.ObjectInfo, 2)
			objs <- minio.ObjectInfo{Key: "a/b c+d.bin"}
			close(objs)
			for rerr := range mc.RemoveObjects(c, repo, objs, minio.RemoveObjectsOptions{}) {
				t.Fatalf("RemoveObjects: %v", rerr.Err)
			}
			_, err = mc.StatObject(c, repo, "a/b c+d.bin", minio.StatObjectOptions{})
			wantMinioErr(t, err, 404, "NoSuchKey")
			// The old version by id.
			obj, err = mc.GetObject(c, repo, "a/b c+d.bin", minio.GetObjectOptions{VersionID: info.VersionID})
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("GetObject versionId %s: %d bytes, %v", info.VersionID, len(got), err)
			}
		})
	}
}

// TestLargerBodies: a 3 MiB PutObject makes the SDK send Expect:
// 100-continue (over 2 MiB) and, over TLS, many aws-chunked chunks; the
// same body to a read-only tag is refused without being stored.
func TestLargerBodies(t *testing.T) {
	e := newEnv(t)
	body := make([]byte, 3<<20+17)
	for i := range body {
		body[i] = byte(i*7 + i>>11)
	}
	for _, st := range []style{pathHTTP, pathTLS, vhostTLS} {
		t.Run(st.String(), func(t *testing.T) {
			c, rec := e.sdkRec(st, gatewaytest.AccessKey, gatewaytest.SecretKey)
			repo := e.repo(t)
			p := put(t, c, repo, "big", body)
			if h := rec.last(); !strings.EqualFold(h.Get("Expect"), "100-continue") {
				t.Errorf("the SDK sent no Expect: 100-continue (%q): this test no longer exercises it", h.Get("Expect"))
			}
			if aws.ToString(p.ChecksumCRC32) != crc32b64(body) {
				t.Errorf("CRC32 answered %q, want %q", aws.ToString(p.ChecksumCRC32), crc32b64(body))
			}
			got, _ := get(t, c, repo, "big", "")
			if !bytes.Equal(got, body) {
				t.Fatalf("3 MiB round trip: %d bytes back, equal=%v", len(got), bytes.Equal(got, body))
			}
			e.tag(t, repo, "frozen", "main")
			before := e.versions(t, repo)
			// 200 KiB (no Expect; the server drains what it did not read):
			// a clean 403.
			_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String("frozen." + repo), Key: aws.String("mid"), Body: bytes.NewReader(body[:200<<10])})
			wantErr(t, err, 403, "AccessDenied")
			// 3 MiB with Expect: 100-continue: the server answers 403 without
			// asking for the body. On this loaded machine the client's 1 s
			// continue timer sometimes fires first and it starts sending;
			// the server then closes the connection and the client may see
			// a reset instead of the 403. Either way nothing is stored.
			_, err = c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String("frozen." + repo), Key: aws.String("big2"), Body: bytes.NewReader(body)})
			if err == nil {
				t.Fatal("3 MiB PUT to a tag succeeded")
			}
			if httpStatus(err) != 0 {
				wantErr(t, err, 403, "AccessDenied")
			} else {
				t.Logf("3 MiB PUT to a tag: transport error (continue timer raced the 403): %v", err)
			}
			sameVersions(t, "3 MiB to a tag", e.versions(t, repo), before)
			// The connection stays usable after the early refusal.
			if b, _ := get(t, c, repo, "big", ""); len(b) != len(body) {
				t.Fatalf("GET after a refused upload: %d bytes", len(b))
			}
		})
	}
}
