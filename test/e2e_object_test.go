package test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// TestObjectMetadata: user metadata and the content headers are stored per
// version and returned by GetObject and HeadObject; ETag is the MD5 hex;
// x-amz-version-id is the commit of the write and x-tusk-commit the commit
// the ref resolved to.
func TestObjectMetadata(t *testing.T) {
	e := newEnv(t)
	for _, st := range []style{pathHTTP, vhostTLS} {
		t.Run(st.String(), func(t *testing.T) {
			c := e.sdk(st)
			repo := e.repo(t)
			body := []byte("metadata round trip body")
			expires := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
			p := put(t, c, repo, "m/obj.txt", body, func(in *s3.PutObjectInput) {
				in.ContentType = aws.String("text/x-tusk; charset=utf-8")
				in.ContentEncoding = aws.String("deflate")
				in.ContentDisposition = aws.String(`attachment; filename="obj.txt"`)
				in.ContentLanguage = aws.String("fr-CA")
				in.CacheControl = aws.String("max-age=3600, private")
				in.Expires = aws.Time(expires)
				in.Metadata = map[string]string{"color": "blue", "Mixed-Case": "Value With Spaces", "empty-ish": "-"}
			})
			v := aws.ToString(p.VersionId)
			check := func(what string, ct, ce, cd, cl, cc *string, exp *string, md map[string]string, etag, ver *string, length *int64) {
				t.Helper()
				want := map[string]string{
					"Content-Type":        "text/x-tusk; charset=utf-8",
					"Content-Encoding":    "deflate",
					"Content-Disposition": `attachment; filename="obj.txt"`,
					"Content-Language":    "fr-CA",
					"Cache-Control":       "max-age=3600, private",
					"Expires":             expires.Format(http.TimeFormat),
					"ETag":                `"` + md5hex(body) + `"`,
					"x-amz-version-id":    v,
					"Content-Length":      strconv.Itoa(len(body)),
				}
				got := map[string]string{
					"Content-Type": aws.ToString(ct), "Content-Encoding": aws.ToString(ce), "Content-Disposition": aws.ToString(cd),
					"Content-Language": aws.ToString(cl), "Cache-Control": aws.ToString(cc), "Expires": aws.ToString(exp),
					"ETag": aws.ToString(etag), "x-amz-version-id": aws.ToString(ver), "Content-Length": strconv.FormatInt(aws.ToInt64(length), 10),
				}
				for k, w := range want {
					if got[k] != w {
						t.Errorf("%s %s: %q, want %q", what, k, got[k], w)
					}
				}
				wantMD := map[string]string{"color": "blue", "mixed-case": "Value With Spaces", "empty-ish": "-"}
				if fmt.Sprint(md) != fmt.Sprint(wantMD) {
					t.Errorf("%s metadata %v, want %v", what, md, wantMD)
				}
			}
			b, g := get(t, c, repo, "m/obj.txt", "")
			if !bytes.Equal(b, body) {
				t.Fatalf("GetObject body %q", b)
			}
			check("GetObject", g.ContentType, g.ContentEncoding, g.ContentDisposition, g.ContentLanguage, g.CacheControl,
				g.ExpiresString, g.Metadata, g.ETag, g.VersionId, g.ContentLength)
			h, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("m/obj.txt")})
			if err != nil {
				t.Fatal(err)
			}
			check("HeadObject", h.ContentType, h.ContentEncoding, h.ContentDisposition, h.ContentLanguage, h.CacheControl,
				h.ExpiresString, h.Metadata, h.ETag, h.VersionId, h.ContentLength)

			// A later write of another key leaves this version's metadata
			// alone; overwriting without metadata drops it (per version).
			put(t, c, repo, "other", []byte("x"))
			p2 := put(t, c, repo, "m/obj.txt", []byte("v2"))
			_, g2 := get(t, c, repo, "m/obj.txt", "")
			if len(g2.Metadata) != 0 || aws.ToString(g2.CacheControl) != "" || strings.HasPrefix(aws.ToString(g2.ContentType), "text/x-tusk") {
				t.Errorf("overwrite without metadata: metadata %v cache-control %q type %q",
					g2.Metadata, aws.ToString(g2.CacheControl), aws.ToString(g2.ContentType))
			}
			_, g1 := get(t, c, repo, "m/obj.txt", v)
			check("GetObject ?versionId (old)", g1.ContentType, g1.ContentEncoding, g1.ContentDisposition, g1.ContentLanguage,
				g1.CacheControl, g1.ExpiresString, g1.Metadata, g1.ETag, g1.VersionId, g1.ContentLength)

			// x-tusk-commit: the commit the bucket's ref resolved to (the
			// head), while x-amz-version-id stays the writing commit.
			r := e.do(t, rawReq{method: "GET", bucket: repo, key: "m/obj.txt", query: "versionId=" + v})
			if r.status != 200 || r.header.Get("X-Amz-Version-Id") != v || r.header.Get("X-Tusk-Commit") != aws.ToString(p2.VersionId) {
				t.Fatalf("raw GET ?versionId: %d version %q x-tusk-commit %q; want %s and head %s",
					r.status, r.header.Get("X-Amz-Version-Id"), r.header.Get("X-Tusk-Commit"), v, aws.ToString(p2.VersionId))
			}
			r = e.do(t, rawReq{method: "HEAD", bucket: repo, key: "other"})
			if r.status != 200 || r.header.Get("X-Tusk-Commit") != aws.ToString(p2.VersionId) || r.header.Get("X-Amz-Version-Id") == aws.ToString(p2.VersionId) {
				t.Fatalf("raw HEAD other: %d x-amz-version-id %q x-tusk-commit %q (head %s)",
					r.status, r.header.Get("X-Amz-Version-Id"), r.header.Get("X-Tusk-Commit"), aws.ToString(p2.VersionId))
			}
		})
	}
}

// TestMetadataRefusals: client-sent x-amz-meta-tusk-* is InvalidArgument
// (provenance cannot be forged), canned ACLs other than private are
// NotImplemented; nothing is written.
func TestMetadataRefusals(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "exists", []byte("x"))
	before := e.versions(t, repo)
	cases := []struct {
		name   string
		opt    putOpt
		status int
		code   string
	}{
		{"tusk-inputs", func(in *s3.PutObjectInput) {
			in.Metadata = map[string]string{"tusk-inputs": "images@0123456789abcdef0123456789abcdef:cats/1.jpg"}
		}, 400, "InvalidArgument"},
		{"tusk-pipeline", func(in *s3.PutObjectInput) { in.Metadata = map[string]string{"Tusk-Pipeline": "edges@3"} }, 400, "InvalidArgument"},
		{"public-read ACL", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }, 501, "NotImplemented"},
	}
	for _, cse := range cases {
		t.Run(cse.name, func(t *testing.T) {
			in := &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("forged"), Body: bytes.NewReader([]byte("forged"))}
			cse.opt(in)
			_, err := c.PutObject(ctx(t), in)
			wantErr(t, err, cse.status, cse.code)
			sameVersions(t, cse.name, e.versions(t, repo), before)
			// The same through CopyObject with REPLACE.
			if cse.code == "InvalidArgument" {
				_, err = c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(repo), Key: aws.String("forged"),
					CopySource: aws.String(repo + "/exists"), MetadataDirective: types.MetadataDirectiveReplace, Metadata: in.Metadata})
				wantErr(t, err, 400, "InvalidArgument")
				sameVersions(t, cse.name+" (copy)", e.versions(t, repo), before)
			}
		})
	}
	t.Run("private ACL accepted", func(t *testing.T) {
		put(t, c, repo, "private", []byte("p"), func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPrivate })
		put(t, c, repo, "bofc", []byte("p"), func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLBucketOwnerFullControl })
	})
}

// TestRangeAndPartNumber: Range GETs as S3, and partNumber=1 of a
// single-part object is the whole object.
func TestRangeAndPartNumber(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	body := []byte("0123456789abcdefghij") // 20 bytes
	put(t, c, repo, "r", body)
	rng := func(r string) (*s3.GetObjectOutput, []byte, error) {
		out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("r"), Range: aws.String(r)})
		if err != nil {
			return nil, nil, err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return out, b, err
	}
	cases := []struct{ rng, want, contentRange string }{
		{"bytes=0-4", "01234", "bytes 0-4/20"},
		{"bytes=5-9", "56789", "bytes 5-9/20"},
		{"bytes=15-", "fghij", "bytes 15-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=18-100", "ij", "bytes 18-19/20"},
		{"bytes=19-19", "j", "bytes 19-19/20"},
		// Past the end, however many digits: clamped to the object (206).
		{"bytes=-30", string(body), "bytes 0-19/20"},
		{"bytes=0-99999999999999999999", string(body), "bytes 0-19/20"},
		{"bytes=10-99999999999999999999", "abcdefghij", "bytes 10-19/20"},
		{"bytes=-99999999999999999999", string(body), "bytes 0-19/20"},
	}
	for _, cse := range cases {
		t.Run(cse.rng, func(t *testing.T) {
			out, b, err := rng(cse.rng)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != cse.want || aws.ToString(out.ContentRange) != cse.contentRange || aws.ToInt64(out.ContentLength) != int64(len(cse.want)) {
				t.Fatalf("Range %s: body %q Content-Range %q length %d; want %q %q",
					cse.rng, b, aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength), cse.want, cse.contentRange)
			}
			if aws.ToString(out.ETag) != `"`+md5hex(body)+`"` {
				t.Errorf("ranged GET ETag %s is not the object's", aws.ToString(out.ETag))
			}
		})
	}
	t.Run("unsatisfiable", func(t *testing.T) {
		_, _, err := rng("bytes=20-30")
		wantErr(t, err, 416, "InvalidRange")
		_, _, err = rng("bytes=99999999999999999999-")
		wantErr(t, err, 416, "InvalidRange")
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "r", header: map[string]string{"Range": "bytes=50-"}})
		wantRawErr(t, r, 416, "InvalidRange")
		if r.header.Get("Content-Range") != "bytes */20" {
			t.Errorf("416 Content-Range %q, want bytes */20", r.header.Get("Content-Range"))
		}
	})
	t.Run("status 206 raw", func(t *testing.T) {
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "r", header: map[string]string{"Range": "bytes=2-3"}})
		if r.status != 206 || string(r.body) != "23" || r.header.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("raw Range: %d %q accept-ranges %q", r.status, r.body, r.header.Get("Accept-Ranges"))
		}
		r = e.do(t, rawReq{method: "GET", bucket: repo, key: "r", header: map[string]string{"Range": "bytes=0-99999999999999999999"}})
		if r.status != 206 || string(r.body) != string(body) || r.header.Get("Content-Range") != "bytes 0-19/20" {
			t.Fatalf("huge last byte: %d %q Content-Range %q", r.status, r.body, r.header.Get("Content-Range"))
		}
	})
	t.Run("ignored ranges answer the whole object", func(t *testing.T) {
		// S3 serves one range per GET: several ranges, another unit or a
		// malformed spec get the whole object with 200, as RFC 9110 allows.
		for _, h := range []string{"bytes=0-1,4-5", "items=0-1", "bytes=5-2", "bytes=+1-2", "bytes=a-"} {
			r := e.do(t, rawReq{method: "GET", bucket: repo, key: "r", header: map[string]string{"Range": h}})
			if r.status != 200 || string(r.body) != string(body) || r.header.Get("Content-Range") != "" {
				t.Fatalf("Range %s: %d %q Content-Range %q", h, r.status, r.body, r.header.Get("Content-Range"))
			}
		}
	})
	t.Run("partNumber=1", func(t *testing.T) {
		out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("r"), PartNumber: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(b, body) || aws.ToInt64(out.ContentLength) != 20 {
			t.Fatalf("partNumber=1: %q (length %d), want the whole object", b, aws.ToInt64(out.ContentLength))
		}
		if n := aws.ToInt32(out.PartsCount); n > 1 {
			t.Errorf("partNumber=1 of a single-part object: parts count %d", n)
		}
		h, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("r"), PartNumber: aws.Int32(1)})
		if err != nil || aws.ToInt64(h.ContentLength) != 20 {
			t.Fatalf("HeadObject partNumber=1: %v length %d", err, aws.ToInt64(h.ContentLength))
		}
		_, err = c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("r"), PartNumber: aws.Int32(2)})
		wantErr(t, err, 400, "InvalidPartNumber")
	})
}

// TestConditionalGet: If-None-Match -> 304, If-Match mismatch -> 412,
// If-Modified-Since / If-Unmodified-Since as S3 (RFC 7232 precedence).
func TestConditionalGet(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	body := []byte("conditional")
	put(t, c, repo, "k", body)
	_, g := get(t, c, repo, "k", "")
	etag, lm := aws.ToString(g.ETag), aws.ToTime(g.LastModified)
	past, future := lm.Add(-time.Hour), lm.Add(time.Hour)

	cases := []struct {
		name   string
		in     func(*s3.GetObjectInput)
		status int // 200 or the error status
		code   string
	}{
		{"If-Match equal", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) }, 200, ""},
		{"If-Match *", func(in *s3.GetObjectInput) { in.IfMatch = aws.String("*") }, 200, ""},
		{"If-Match other", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(`"00000000000000000000000000000000"`) }, 412, "PreconditionFailed"},
		{"If-None-Match equal", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(etag) }, 304, ""},
		{"If-None-Match *", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String("*") }, 304, ""},
		{"If-None-Match other", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(`"00000000000000000000000000000000"`) }, 200, ""},
		{"If-Modified-Since past", func(in *s3.GetObjectInput) { in.IfModifiedSince = aws.Time(past) }, 200, ""},
		{"If-Modified-Since now", func(in *s3.GetObjectInput) { in.IfModifiedSince = aws.Time(lm) }, 304, ""},
		{"If-Modified-Since future", func(in *s3.GetObjectInput) { in.IfModifiedSince = aws.Time(future) }, 304, ""},
		{"If-Unmodified-Since past", func(in *s3.GetObjectInput) { in.IfUnmodifiedSince = aws.Time(past) }, 412, "PreconditionFailed"},
		{"If-Unmodified-Since future", func(in *s3.GetObjectInput) { in.IfUnmodifiedSince = aws.Time(future) }, 200, ""},
		// If-Match true wins over If-Unmodified-Since false.
		{"If-Match equal + If-Unmodified-Since past", func(in *s3.GetObjectInput) {
			in.IfMatch, in.IfUnmodifiedSince = aws.String(etag), aws.Time(past)
		}, 200, ""},
		// If-None-Match false wins over If-Modified-Since true: 304.
		{"If-None-Match equal + If-Modified-Since past", func(in *s3.GetObjectInput) {
			in.IfNoneMatch, in.IfModifiedSince = aws.String(etag), aws.Time(past)
		}, 304, ""},
		// If-None-Match true: If-Modified-Since is ignored.
		{"If-None-Match other + If-Modified-Since future", func(in *s3.GetObjectInput) {
			in.IfNoneMatch, in.IfModifiedSince = aws.String(`"00000000000000000000000000000000"`), aws.Time(future)
		}, 200, ""},
	}
	for _, cse := range cases {
		t.Run(cse.name, func(t *testing.T) {
			in := &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")}
			cse.in(in)
			out, err := c.GetObject(ctx(t), in)
			if cse.status == 200 {
				if err != nil {
					t.Fatalf("want 200: %v", err)
				}
				b, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if !bytes.Equal(b, body) {
					t.Fatalf("body %q", b)
				}
				return
			}
			if err == nil {
				out.Body.Close()
			}
			wantErr(t, err, cse.status, cse.code)
			// The same through HEAD.
			hin := &s3.HeadObjectInput{Bucket: in.Bucket, Key: in.Key, IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch,
				IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince}
			_, err = c.HeadObject(ctx(t), hin)
			wantErr(t, err, cse.status, "")
		})
	}
	t.Run("304 raw", func(t *testing.T) {
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "k", header: map[string]string{"If-None-Match": etag}})
		if r.status != 304 || len(r.body) != 0 || r.header.Get("ETag") != etag || r.header.Get("X-Amz-Request-Id") == "" {
			t.Fatalf("304: status %d body %q etag %q", r.status, r.body, r.header.Get("ETag"))
		}
	})
}

// TestLastModified: a key's Last-Modified is the time of the commit that
// last changed it, not the branch head's.
func TestLastModified(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "a", []byte("a"))
	ha, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	// Not a wait for an event: Last-Modified has 1 s resolution, so time
	// must pass for the next commit's time to differ (the thing tested).
	time.Sleep(1100 * time.Millisecond)
	put(t, c, repo, "b", []byte("b"))
	ha2, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	hb, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("b")})
	if err != nil {
		t.Fatal(err)
	}
	la, la2, lb := aws.ToTime(ha.LastModified), aws.ToTime(ha2.LastModified), aws.ToTime(hb.LastModified)
	if !la.Equal(la2) {
		t.Fatalf("a's Last-Modified moved from %v to %v when b was written", la, la2)
	}
	if !lb.After(la) {
		t.Fatalf("b's Last-Modified %v is not after a's %v (1.1 s later)", lb, la)
	}
	if d := time.Since(la); d < 0 || d > time.Minute {
		t.Fatalf("a's Last-Modified %v is not the write's time", la)
	}
	// Listings agree, to the second.
	lo, err := c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(repo)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range lo.Contents {
		want := la
		if aws.ToString(o.Key) == "b" {
			want = lb
		}
		if got := aws.ToTime(o.LastModified).Truncate(time.Second); !got.Equal(want) {
			t.Errorf("ListObjectsV2 %s LastModified %v, want %v", aws.ToString(o.Key), got, want)
		}
	}
	// Through a branch created later, a's time is still its commit's.
	createBucket(t, c, "late."+repo)
	hl, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String("late." + repo), Key: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToTime(hl.LastModified).Equal(la) {
		t.Fatalf("a through a later branch: Last-Modified %v, want %v", aws.ToTime(hl.LastModified), la)
	}
}

// TestChecksums: x-amz-checksum-* of every algorithm is verified, stored
// and returned with ChecksumMode ENABLED; sent as a header (plain HTTP) and
// as an aws-chunked trailer (TLS).
func TestChecksums(t *testing.T) {
	e := newEnv(t)
	body := bytes.Repeat([]byte("checksum me please "), 3000) // 57 KB
	algos := []struct {
		algo types.ChecksumAlgorithm
		want string
		got  func(*s3.GetObjectOutput) *string
		head func(*s3.HeadObjectOutput) *string
		put  func(*s3.PutObjectOutput) *string
	}{
		{types.ChecksumAlgorithmCrc32, crc32b64(body), func(o *s3.GetObjectOutput) *string { return o.ChecksumCRC32 },
			func(o *s3.HeadObjectOutput) *string { return o.ChecksumCRC32 }, func(o *s3.PutObjectOutput) *string { return o.ChecksumCRC32 }},
		{types.ChecksumAlgorithmCrc32c, crc32cb64(body), func(o *s3.GetObjectOutput) *string { return o.ChecksumCRC32C },
			func(o *s3.HeadObjectOutput) *string { return o.ChecksumCRC32C }, func(o *s3.PutObjectOutput) *string { return o.ChecksumCRC32C }},
		{types.ChecksumAlgorithmSha1, sha1b64(body), func(o *s3.GetObjectOutput) *string { return o.ChecksumSHA1 },
			func(o *s3.HeadObjectOutput) *string { return o.ChecksumSHA1 }, func(o *s3.PutObjectOutput) *string { return o.ChecksumSHA1 }},
		{types.ChecksumAlgorithmSha256, sha256b64(body), func(o *s3.GetObjectOutput) *string { return o.ChecksumSHA256 },
			func(o *s3.HeadObjectOutput) *string { return o.ChecksumSHA256 }, func(o *s3.PutObjectOutput) *string { return o.ChecksumSHA256 }},
		{types.ChecksumAlgorithmCrc64nvme, crc64nvmeb64(body), func(o *s3.GetObjectOutput) *string { return o.ChecksumCRC64NVME },
			func(o *s3.HeadObjectOutput) *string { return o.ChecksumCRC64NVME }, func(o *s3.PutObjectOutput) *string { return o.ChecksumCRC64NVME }},
	}
	for _, st := range []style{pathHTTP, pathTLS} {
		c, rec := e.sdkRec(st, gatewaytest.AccessKey, gatewaytest.SecretKey)
		repo := e.repo(t)
		for _, a := range algos {
			t.Run(st.String()+"/"+string(a.algo), func(t *testing.T) {
				key := "sum-" + string(a.algo)
				p := put(t, c, repo, key, body, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = a.algo })
				sent := rec.last()
				hdr := "X-Amz-Checksum-" + string(a.algo)
				if st == pathTLS {
					if !strings.EqualFold(sent.Get("X-Amz-Trailer"), hdr) {
						t.Errorf("TLS PUT: x-amz-trailer %q, want %s", sent.Get("X-Amz-Trailer"), hdr)
					}
				} else if sent.Get(hdr) != a.want {
					t.Errorf("HTTP PUT: %s %q, want %q", hdr, sent.Get(hdr), a.want)
				}
				if got := aws.ToString(a.put(p)); got != a.want {
					t.Errorf("PutObject answered %s %q, want %q", a.algo, got, a.want)
				}
				out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(out.Body) // the SDK validates the checksum while reading
				out.Body.Close()
				if err != nil || !bytes.Equal(b, body) {
					t.Fatalf("GetObject: %d bytes, %v", len(b), err)
				}
				if got := aws.ToString(a.got(out)); got != a.want {
					t.Errorf("GetObject ChecksumMode ENABLED: %s %q, want %q", a.algo, got, a.want)
				}
				if out.ChecksumType != types.ChecksumTypeFullObject {
					t.Errorf("GetObject checksum type %q, want FULL_OBJECT", out.ChecksumType)
				}
				h, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatal(err)
				}
				if got := aws.ToString(a.head(h)); got != a.want {
					t.Errorf("HeadObject ChecksumMode ENABLED: %s %q, want %q", a.algo, got, a.want)
				}
				// Without ChecksumMode, no checksum headers.
				r := e.do(t, rawReq{method: "HEAD", bucket: repo, key: key})
				for k := range r.header {
					if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
						t.Errorf("HEAD without checksum mode answered %s", k)
					}
				}
			})
		}
	}
}

// TestBadDigest: a checksum or Content-MD5 that does not match the body is
// BadDigest and nothing is stored.
func TestBadDigest(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "keep", []byte("keep"))
	before := e.versions(t, repo)
	body := []byte("the body the server receives")
	other := []byte("some other body")
	nothing := func(t *testing.T, key string) {
		t.Helper()
		sameVersions(t, key, e.versions(t, repo), before)
		_, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String(key)})
		wantErr(t, err, 404, "")
	}
	sdkCases := []struct {
		name string
		opt  putOpt
		code string
	}{
		{"crc32", func(in *s3.PutObjectInput) { in.ChecksumCRC32 = aws.String(crc32b64(other)) }, "BadDigest"},
		{"crc32c", func(in *s3.PutObjectInput) { in.ChecksumCRC32C = aws.String(crc32cb64(other)) }, "BadDigest"},
		{"sha1", func(in *s3.PutObjectInput) { in.ChecksumSHA1 = aws.String(sha1b64(other)) }, "BadDigest"},
		{"sha256", func(in *s3.PutObjectInput) { in.ChecksumSHA256 = aws.String(sha256b64(other)) }, "BadDigest"},
		{"crc64nvme", func(in *s3.PutObjectInput) { in.ChecksumCRC64NVME = aws.String(crc64nvmeb64(other)) }, "BadDigest"},
		{"content-md5", func(in *s3.PutObjectInput) { in.ContentMD5 = aws.String(md5b64(other)) }, "BadDigest"},
		{"content-md5 not base64 of 16 bytes", func(in *s3.PutObjectInput) { in.ContentMD5 = aws.String("bm90IGFuIG1kNQ==") }, "InvalidDigest"},
	}
	for _, cse := range sdkCases {
		t.Run(cse.name, func(t *testing.T) {
			key := "bad-" + strings.ReplaceAll(cse.name, " ", "-")
			in := &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String(key), Body: bytes.NewReader(body)}
			cse.opt(in)
			_, err := c.PutObject(ctx(t), in)
			wantErr(t, err, 400, cse.code)
			nothing(t, key)
		})
	}
	t.Run("content-md5 right", func(t *testing.T) {
		put(t, c, repo, "md5-ok", body, func(in *s3.PutObjectInput) { in.ContentMD5 = aws.String(md5b64(body)) })
		before = e.versions(t, repo)
	})

	// aws-chunked with an unsigned trailer, by hand: the right CRC32 is
	// accepted, a wrong one is BadDigest.
	chunked := func(key, trailerSum string) rawResp {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", len(body), body, trailerSum)
		return e.do(t, rawReq{method: "PUT", bucket: repo, key: key, body: b.Bytes(),
			payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
			header: map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
				"X-Amz-Decoded-Content-Length": strconv.Itoa(len(body))}})
	}
	t.Run("trailer right", func(t *testing.T) {
		r := chunked("trailer-ok", crc32b64(body))
		if r.status != 200 || !isCommitID(r.header.Get("X-Amz-Version-Id")) {
			t.Fatalf("aws-chunked PUT with the right trailer: %d %s", r.status, r.body)
		}
		b, _ := get(t, c, repo, "trailer-ok", "")
		if !bytes.Equal(b, body) {
			t.Fatalf("stored %q", b)
		}
		before = e.versions(t, repo)
	})
	t.Run("trailer wrong", func(t *testing.T) {
		wantRawErr(t, chunked("trailer-bad", crc32b64(other)), 400, "BadDigest")
		nothing(t, "trailer-bad")
	})
	t.Run("header wrong raw", func(t *testing.T) {
		r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "raw-bad", body: body,
			header: map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}})
		wantRawErr(t, r, 400, "BadDigest")
		nothing(t, "raw-bad")
	})
	t.Run("signed payload hash wrong", func(t *testing.T) {
		r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "sha-bad", body: body,
			payloadHash: fmt.Sprintf("%x", sha256sum(other))})
		if r.status != 400 {
			t.Fatalf("PUT with a wrong x-amz-content-sha256: %d %s", r.status, r.body)
		}
		wantRawErr(t, r, 400, "XAmzContentSHA256Mismatch")
		nothing(t, "sha-bad")
	})
}

// TestCopyObject: within a bucket, across repos, across refs (tag ->
// branch), by version id, and metadata COPY vs REPLACE.
func TestCopyObject(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	src := e.repo(t)
	dst := e.repo(t)
	v1body := []byte("version one")
	p1 := put(t, c, src, "dir/sp ace+plus%.txt", v1body, func(in *s3.PutObjectInput) {
		in.ContentType = aws.String("text/plain")
		in.Metadata = map[string]string{"origin": "src"}
	})
	e.tag(t, src, "v1", "main")
	v2body := []byte("version two")
	p2 := put(t, c, src, "dir/sp ace+plus%.txt", v2body, func(in *s3.PutObjectInput) {
		in.ContentType = aws.String("text/markdown")
		in.Metadata = map[string]string{"origin": "src2"}
	})
	createBucket(t, c, "dev."+src)
	srcKey := "dir/sp ace+plus%.txt"
	cs := func(bucket, key string) *string { return aws.String(bucket + "/" + escapeKey(key)) }

	type want struct {
		body  []byte
		ctype string
		md    map[string]string
		srcV  string
	}
	cases := []struct {
		name      string
		in        *s3.CopyObjectInput
		readAt    string
		readKey   string
		want      want
		checkHead bool
	}{
		{"same bucket", &s3.CopyObjectInput{Bucket: aws.String(src), Key: aws.String("copy-same"), CopySource: cs(src, srcKey)},
			src, "copy-same", want{v2body, "text/markdown", map[string]string{"origin": "src2"}, aws.ToString(p2.VersionId)}, true},
		{"across repos", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("from/other repo"), CopySource: cs(src, srcKey)},
			dst, "from/other repo", want{v2body, "text/markdown", map[string]string{"origin": "src2"}, aws.ToString(p2.VersionId)}, true},
		{"tag to branch", &s3.CopyObjectInput{Bucket: aws.String("dev." + src), Key: aws.String(srcKey), CopySource: cs("v1."+src, srcKey)},
			"dev." + src, srcKey, want{v1body, "text/plain", map[string]string{"origin": "src"}, aws.ToString(p1.VersionId)}, true},
		{"by versionId", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("old"),
			CopySource: aws.String(src + "/" + escapeKey(srcKey) + "?versionId=" + aws.ToString(p1.VersionId))},
			dst, "old", want{v1body, "text/plain", map[string]string{"origin": "src"}, aws.ToString(p1.VersionId)}, true},
		{"metadata COPY ignores request metadata", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("copy-directive"),
			CopySource: cs(src, srcKey), MetadataDirective: types.MetadataDirectiveCopy,
			Metadata: map[string]string{"origin": "ignored"}, ContentType: aws.String("application/ignored")},
			dst, "copy-directive", want{v2body, "text/markdown", map[string]string{"origin": "src2"}, aws.ToString(p2.VersionId)}, true},
		{"metadata REPLACE", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("replace-directive"),
			CopySource: cs(src, srcKey), MetadataDirective: types.MetadataDirectiveReplace,
			Metadata: map[string]string{"fresh": "yes"}, ContentType: aws.String("application/json")},
			dst, "replace-directive", want{v2body, "application/json", map[string]string{"fresh": "yes"}, aws.ToString(p2.VersionId)}, true},
		{"onto itself with REPLACE", &s3.CopyObjectInput{Bucket: aws.String(src), Key: aws.String(srcKey),
			CopySource: cs(src, srcKey), MetadataDirective: types.MetadataDirectiveReplace,
			Metadata: map[string]string{"origin": "self"}, ContentType: aws.String("text/plain")},
			src, srcKey, want{v2body, "text/plain", map[string]string{"origin": "self"}, aws.ToString(p2.VersionId)}, true},
	}
	for _, cse := range cases {
		t.Run(cse.name, func(t *testing.T) {
			out, err := c.CopyObject(ctx(t), cse.in)
			if err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			v := aws.ToString(out.VersionId)
			if !isCommitID(v) {
				t.Fatalf("CopyObject: x-amz-version-id %q", v)
			}
			if got := aws.ToString(out.CopySourceVersionId); got != cse.want.srcV {
				t.Errorf("x-amz-copy-source-version-id %q, want %q", got, cse.want.srcV)
			}
			if out.CopyObjectResult == nil || aws.ToString(out.CopyObjectResult.ETag) != `"`+md5hex(cse.want.body)+`"` {
				t.Errorf("CopyObjectResult %+v, want ETag of the source", out.CopyObjectResult)
			}
			b, g := get(t, c, cse.readAt, cse.readKey, "")
			if !bytes.Equal(b, cse.want.body) {
				t.Fatalf("copy reads %q, want %q", b, cse.want.body)
			}
			if aws.ToString(g.VersionId) != v {
				t.Errorf("copy's version %q, want the copy's commit %q", aws.ToString(g.VersionId), v)
			}
			if aws.ToString(g.ContentType) != cse.want.ctype || fmt.Sprint(g.Metadata) != fmt.Sprint(cse.want.md) {
				t.Errorf("copy's Content-Type %q metadata %v; want %q %v", aws.ToString(g.ContentType), g.Metadata, cse.want.ctype, cse.want.md)
			}
		})
	}
	t.Run("checksums travel with the copy", func(t *testing.T) {
		body := []byte("checksummed source")
		put(t, c, src, "summed", body, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c })
		out, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("summed-copy"), CopySource: cs(src, "summed")})
		if err != nil {
			t.Fatal(err)
		}
		if out.CopyObjectResult == nil || aws.ToString(out.CopyObjectResult.ChecksumCRC32C) != crc32cb64(body) {
			t.Errorf("CopyObjectResult checksum %+v, want CRC32C %s", out.CopyObjectResult, crc32cb64(body))
		}
		h, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(dst), Key: aws.String("summed-copy"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(h.ChecksumCRC32C) != crc32cb64(body) {
			t.Fatalf("copy's CRC32C %q, want %q", aws.ToString(h.ChecksumCRC32C), crc32cb64(body))
		}
	})
	// main's copy source is unchanged by the copy to dev.
	b, _ := get(t, c, "v1."+src, srcKey, "")
	if !bytes.Equal(b, v1body) {
		t.Fatalf("tag v1 reads %q", b)
	}

	refusals := []struct {
		name   string
		in     *s3.CopyObjectInput
		status int
		code   string
	}{
		{"onto itself without REPLACE", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("old"), CopySource: cs(dst, "old")}, 400, "InvalidRequest"},
		{"missing source key", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"), CopySource: cs(src, "nosuchkey")}, 404, "NoSuchKey"},
		{"missing source bucket", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"), CopySource: cs("nosuchrepo", "k")}, 404, "NoSuchBucket"},
		{"missing source version", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"),
			CopySource: aws.String(src + "/" + escapeKey(srcKey) + "?versionId=0123456789abcdef0123456789abcdef")}, 404, "NoSuchVersion"},
		{"copy-source-if-match fails", &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"), CopySource: cs(src, srcKey),
			CopySourceIfMatch: aws.String(`"00000000000000000000000000000000"`)}, 412, "PreconditionFailed"},
	}
	before := e.versions(t, dst)
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := c.CopyObject(ctx(t), r.in)
			wantErr(t, err, r.status, r.code)
			sameVersions(t, r.name, e.versions(t, dst), before)
		})
	}
}
