package test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// Object-level behaviours checked against what AWS documents (or, where it
// documents nothing, what AWS was observed to answer).

// mpUpload uploads parts (numbered from 1) of key with c and returns the
// upload id and the completed-part list.
func mpUpload(t *testing.T, c *s3.Client, bucket, key string, algo types.ChecksumAlgorithm, parts ...[]byte) (string, []types.CompletedPart) {
	t.Helper()
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if algo != "" {
		in.ChecksumAlgorithm = algo
	}
	cu, err := c.CreateMultipartUpload(ctx(t), in)
	if err != nil {
		t.Fatalf("CreateMultipartUpload %q: %v", key, err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		pin := &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cu.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)}
		if algo != "" {
			pin.ChecksumAlgorithm = algo
		}
		o, err := c.UploadPart(ctx(t), pin)
		if err != nil {
			t.Fatalf("UploadPart %d of %q: %v", i+1, key, err)
		}
		done = append(done, types.CompletedPart{ETag: o.ETag, PartNumber: aws.Int32(int32(i + 1)),
			ChecksumCRC32: o.ChecksumCRC32})
	}
	return aws.ToString(cu.UploadId), done
}

func mpComplete(t *testing.T, c *s3.Client, bucket, key, id string, parts []types.CompletedPart) *s3.CompleteMultipartUploadOutput {
	t.Helper()
	out, err := c.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload %q: %v", key, err)
	}
	return out
}

// TestGetObjectAttributes: GET ?attributes with x-amz-object-attributes.
func TestGetObjectAttributes(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum,
		types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}
	attrs := func(t *testing.T, key, version string, f func(*s3.GetObjectAttributesInput)) (*s3.GetObjectAttributesOutput, error) {
		in := &s3.GetObjectAttributesInput{Bucket: aws.String(repo), Key: aws.String(key), ObjectAttributes: all}
		if version != "" {
			in.VersionId = aws.String(version)
		}
		if f != nil {
			f(in)
		}
		return c.GetObjectAttributes(ctx(t), in)
	}

	body := []byte("single part body")
	v1 := put(t, c, repo, "single", body)
	t.Run("single part", func(t *testing.T) {
		out, err := attrs(t, "single", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.ETag); got != md5hex(body) {
			t.Errorf("ETag %q, want %q (unquoted MD5)", got, md5hex(body))
		}
		if aws.ToInt64(out.ObjectSize) != int64(len(body)) || out.StorageClass != types.StorageClassStandard {
			t.Errorf("size %d storage class %q", aws.ToInt64(out.ObjectSize), out.StorageClass)
		}
		// aws-sdk-go-v2 sends CRC32 with every PutObject: it is stored.
		if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32) != crc32b64(body) ||
			out.Checksum.ChecksumType != types.ChecksumTypeFullObject {
			t.Errorf("checksum %+v, want CRC32 %s FULL_OBJECT", out.Checksum, crc32b64(body))
		}
		if out.ObjectParts != nil {
			t.Errorf("ObjectParts %+v on a single-part object, want none (as AWS)", out.ObjectParts)
		}
		if aws.ToString(out.VersionId) != aws.ToString(v1.VersionId) || out.LastModified == nil {
			t.Errorf("version %q (want %q), last-modified %v", aws.ToString(out.VersionId), aws.ToString(v1.VersionId), out.LastModified)
		}
	})
	t.Run("only what is asked", func(t *testing.T) {
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "single", query: "attributes",
			header: map[string]string{"X-Amz-Object-Attributes": "ObjectSize"}})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		s := string(r.body)
		if !strings.Contains(s, "<GetObjectAttributesResponse") || !strings.Contains(s, fmt.Sprintf("<ObjectSize>%d</ObjectSize>", len(body))) ||
			strings.Contains(s, "<ETag>") || strings.Contains(s, "<Checksum>") || strings.Contains(s, "<StorageClass>") {
			t.Fatalf("ObjectSize only: %s", s)
		}
	})
	t.Run("an older version", func(t *testing.T) {
		put(t, c, repo, "single", []byte("newer"))
		out, err := attrs(t, "single", aws.ToString(v1.VersionId), nil)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ETag) != md5hex(body) || aws.ToInt64(out.ObjectSize) != int64(len(body)) ||
			aws.ToString(out.VersionId) != aws.ToString(v1.VersionId) {
			t.Fatalf("version %s: etag %q size %d version %q", aws.ToString(v1.VersionId), aws.ToString(out.ETag),
				aws.ToInt64(out.ObjectSize), aws.ToString(out.VersionId))
		}
	})

	p1, p2, p3 := bytes.Repeat([]byte("1"), 5<<20), bytes.Repeat([]byte("2"), 5<<20), []byte("third")
	t.Run("multipart with checksums", func(t *testing.T) {
		id, parts := mpUpload(t, c, repo, "mp-crc", types.ChecksumAlgorithmCrc32, p1, p2, p3)
		mpComplete(t, c, repo, "mp-crc", id, parts)
		out, err := attrs(t, "mp-crc", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		op := out.ObjectParts
		if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 || len(op.Parts) != 3 || aws.ToBool(op.IsTruncated) {
			t.Fatalf("ObjectParts %+v, want 3 parts listed", op)
		}
		for i, want := range [][]byte{p1, p2, p3} {
			p := op.Parts[i]
			if aws.ToInt32(p.PartNumber) != int32(i+1) || aws.ToInt64(p.Size) != int64(len(want)) ||
				aws.ToString(p.ChecksumCRC32) != crc32b64(want) {
				t.Errorf("part %d: number %d size %d crc32 %q, want %d %d %q", i+1, aws.ToInt32(p.PartNumber),
					aws.ToInt64(p.Size), aws.ToString(p.ChecksumCRC32), i+1, len(want), crc32b64(want))
			}
		}
		if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32) == "" || out.Checksum.ChecksumType != types.ChecksumTypeComposite {
			t.Errorf("object checksum %+v, want a COMPOSITE CRC32", out.Checksum)
		}
		if !strings.HasSuffix(aws.ToString(out.ETag), "-3") || aws.ToInt64(out.ObjectSize) != int64(len(p1)+len(p2)+len(p3)) {
			t.Errorf("etag %q size %d", aws.ToString(out.ETag), aws.ToInt64(out.ObjectSize))
		}
		// Pagination: two parts, then the rest after the marker.
		pg, err := attrs(t, "mp-crc", "", func(in *s3.GetObjectAttributesInput) { in.MaxParts = aws.Int32(2) })
		if err != nil {
			t.Fatal(err)
		}
		op = pg.ObjectParts
		if op == nil || len(op.Parts) != 2 || !aws.ToBool(op.IsTruncated) || aws.ToString(op.NextPartNumberMarker) != "2" ||
			aws.ToInt32(op.MaxParts) != 2 || aws.ToInt32(op.TotalPartsCount) != 3 {
			t.Fatalf("max-parts 2: %+v", op)
		}
		pg, err = attrs(t, "mp-crc", "", func(in *s3.GetObjectAttributesInput) {
			in.MaxParts, in.PartNumberMarker = aws.Int32(2), op.NextPartNumberMarker
		})
		if err != nil {
			t.Fatal(err)
		}
		op = pg.ObjectParts
		if op == nil || len(op.Parts) != 1 || aws.ToInt32(op.Parts[0].PartNumber) != 3 || aws.ToBool(op.IsTruncated) ||
			aws.ToString(op.PartNumberMarker) != "2" {
			t.Fatalf("after marker 2: %+v", op)
		}
		// An invalid x-amz-max-parts is ignored, as S3 does.
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "mp-crc", query: "attributes",
			header: map[string]string{"X-Amz-Object-Attributes": "ObjectParts", "X-Amz-Max-Parts": "lots"}})
		if r.status != 200 || strings.Count(string(r.body), "<Part>") != 3 {
			t.Fatalf("invalid max-parts: %d %s", r.status, r.body)
		}
	})
	t.Run("multipart without checksums", func(t *testing.T) {
		// A client that sends no checksums of its own.
		nc := s3.New(c.Options(), func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
		id, parts := mpUpload(t, nc, repo, "mp-plain", "", p1, p3)
		mpComplete(t, nc, repo, "mp-plain", id, parts)
		out, err := attrs(t, "mp-plain", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		// AWS: without an additional checksum no Part element is listed.
		if out.ObjectParts == nil || aws.ToInt32(out.ObjectParts.TotalPartsCount) != 2 || len(out.ObjectParts.Parts) != 0 {
			t.Fatalf("ObjectParts %+v, want TotalPartsCount 2 and no parts", out.ObjectParts)
		}
		if out.Checksum != nil {
			t.Errorf("checksum %+v on an object without checksums", out.Checksum)
		}
	})
	t.Run("errors", func(t *testing.T) {
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "single", query: "attributes"})
		wantRawErr(t, r, 400, "InvalidRequest")
		r = e.do(t, rawReq{method: "GET", bucket: repo, key: "single", query: "attributes",
			header: map[string]string{"X-Amz-Object-Attributes": "ETag,ETags"}})
		wantRawErr(t, r, 400, "InvalidArgument")
		_, err := attrs(t, "missing", "", nil)
		wantErr(t, err, 404, "NoSuchKey")
		d := deleteKey(t, c, repo, "single")
		r = e.do(t, rawReq{method: "GET", bucket: repo, key: "single", query: "attributes",
			header: map[string]string{"X-Amz-Object-Attributes": "ETag"}})
		wantRawErr(t, r, 404, "NoSuchKey")
		if r.header.Get("X-Amz-Delete-Marker") != "true" {
			t.Errorf("deleted key: no x-amz-delete-marker: %v", r.header)
		}
		_, err = attrs(t, "single", aws.ToString(d.VersionId), nil)
		wantErr(t, err, 405, "MethodNotAllowed")
	})
}

// TestPartNumberOutOfRange: GET and HEAD of a part beyond the object's
// part count are 400 InvalidPartNumber.
func TestPartNumberOutOfRange(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "single", []byte("0123456789"))
	id, parts := mpUpload(t, c, repo, "mp", "", bytes.Repeat([]byte("a"), 5<<20), []byte("b"))
	mpComplete(t, c, repo, "mp", id, parts)
	for _, tc := range []struct {
		key  string
		part int32
	}{{"single", 2}, {"mp", 3}, {"mp", 10000}} {
		t.Run(fmt.Sprintf("%s part %d", tc.key, tc.part), func(t *testing.T) {
			_, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String(tc.key), PartNumber: aws.Int32(tc.part)})
			wantErr(t, err, 400, "InvalidPartNumber")
			_, err = c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String(tc.key), PartNumber: aws.Int32(tc.part)})
			wantErr(t, err, 400, "")
			r := e.do(t, rawReq{method: "GET", bucket: repo, key: tc.key, query: fmt.Sprintf("partNumber=%d", tc.part)})
			wantRawErr(t, r, 400, "InvalidPartNumber")
		})
	}
	out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("mp"), PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if aws.ToInt64(out.ContentLength) != 1 || aws.ToInt32(out.PartsCount) != 2 {
		t.Fatalf("part 2: length %d, parts count %d", aws.ToInt64(out.ContentLength), aws.ToInt32(out.PartsCount))
	}
}

// TestUploadPartCopyRange: x-amz-copy-source-range as AWS answers it: a
// value not of the form bytes=first-last, or one that does not fit the
// source, is 400 InvalidArgument; nothing is stored as the part.
func TestUploadPartCopyRange(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "src", []byte("0123456789"))
	cu, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(repo), Key: aws.String("dst")})
	if err != nil {
		t.Fatal(err)
	}
	copyPart := func(rng string) error {
		_, err := c.UploadPartCopy(ctx(t), &s3.UploadPartCopyInput{Bucket: aws.String(repo), Key: aws.String("dst"),
			UploadId: cu.UploadId, PartNumber: aws.Int32(1), CopySource: aws.String(repo + "/src"), CopySourceRange: aws.String(rng)})
		return err
	}
	for _, rng := range []string{"bytes=0-10", "bytes=10-12", "bytes=0-21", "bytes=abc", "0-2", "bytes=5-2", "bytes=0-", "bytes=-3", "bytes=0-2,4-5"} {
		t.Run(rng, func(t *testing.T) {
			wantErr(t, copyPart(rng), 400, "InvalidArgument")
			lp, err := c.ListParts(ctx(t), &s3.ListPartsInput{Bucket: aws.String(repo), Key: aws.String("dst"), UploadId: cu.UploadId})
			if err != nil || len(lp.Parts) != 0 {
				t.Fatalf("after a refused copy: %v, %d parts", err, len(lp.Parts))
			}
		})
	}
	if err := copyPart("bytes=2-9"); err != nil {
		t.Fatalf("a valid range: %v", err)
	}
	mpComplete(t, c, repo, "dst", aws.ToString(cu.UploadId), []types.CompletedPart{{PartNumber: aws.Int32(1),
		ETag: aws.String(`"` + md5hex([]byte("23456789")) + `"`)}})
	if b, _ := get(t, c, repo, "dst", ""); string(b) != "23456789" {
		t.Fatalf("copied part: %q", b)
	}
}

// TestMultipartResendPart is ceph s3-tests' test_multipart_upload_resend_part:
// a part uploaded again (same number) replaces the earlier one, and
// completion with the ascending part list uses the newest upload of each
// number.
func TestMultipartResendPart(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	const partSize = 5 << 20
	data := make([]byte, 3*partSize+1234)
	for i := range data {
		data[i] = byte(i*7 + i/partSize)
	}
	for _, resend := range [][]int{{0}, {1}, {2}, {1, 2}, {0, 1, 2, 3}} {
		t.Run(fmt.Sprint(resend), func(t *testing.T) {
			key := fmt.Sprintf("resend-%v", resend)
			cu, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(repo), Key: aws.String(key),
				ContentType: aws.String("text/bla"), Metadata: map[string]string{"foo": "bar"}})
			if err != nil {
				t.Fatal(err)
			}
			var parts []types.CompletedPart
			for i := 0; i*partSize < len(data); i++ {
				part := data[i*partSize : min((i+1)*partSize, len(data))]
				up := func() *s3.UploadPartOutput {
					o, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: aws.String(repo), Key: aws.String(key), UploadId: cu.UploadId,
						PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(part)})
					if err != nil {
						t.Fatalf("part %d: %v", i+1, err)
					}
					return o
				}
				o := up()
				parts = append(parts, types.CompletedPart{ETag: o.ETag, PartNumber: aws.Int32(int32(i + 1))})
				for _, r := range resend {
					if r == i {
						up()
					}
				}
			}
			mpComplete(t, c, repo, key, aws.ToString(cu.UploadId), parts)
			b, out := get(t, c, repo, key, "")
			if !bytes.Equal(b, data) || aws.ToString(out.ContentType) != "text/bla" || out.Metadata["foo"] != "bar" {
				t.Fatalf("object: %d bytes (equal %v), type %q, meta %v", len(b), bytes.Equal(b, data), aws.ToString(out.ContentType), out.Metadata)
			}
			for _, step := range []int{1000000, 10000000} {
				for off := 0; off < len(data); off += step {
					end := min(off+step, len(data)) - 1
					g, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String(key),
						Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
					if err != nil {
						t.Fatal(err)
					}
					var buf bytes.Buffer
					_, _ = buf.ReadFrom(g.Body)
					g.Body.Close()
					if !bytes.Equal(buf.Bytes(), data[off:end+1]) {
						t.Fatalf("range %d-%d differs", off, end)
					}
				}
			}
		})
	}
	t.Run("resent with other bytes: the newest wins", func(t *testing.T) {
		first := bytes.Repeat([]byte("x"), partSize)
		second := bytes.Repeat([]byte("y"), partSize)
		id, parts := mpUpload(t, c, repo, "newest", "", first, []byte("end"))
		o, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: aws.String(repo), Key: aws.String("newest"), UploadId: aws.String(id),
			PartNumber: aws.Int32(1), Body: bytes.NewReader(second)})
		if err != nil {
			t.Fatal(err)
		}
		// The ETag of the replaced upload no longer names a part.
		_, err = c.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{Bucket: aws.String("" + repo), Key: aws.String("newest"),
			UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		wantErr(t, err, 400, "InvalidPart")
		parts[0].ETag, parts[0].ChecksumCRC32 = o.ETag, o.ChecksumCRC32
		mpComplete(t, c, repo, "newest", id, parts)
		if b, _ := get(t, c, repo, "newest", ""); !bytes.Equal(b, append(append([]byte(nil), second...), "end"...)) {
			t.Fatalf("object is not made of the newest part 1 (%d bytes)", len(b))
		}
	})
}

// TestConditionalWritesAsAWS: the answers AWS documents for conditional
// PutObject, DeleteObject and CompleteMultipartUpload.
func TestConditionalWritesAsAWS(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	p := put(t, c, repo, "k", []byte("v1"))
	etag := aws.ToString(p.ETag)
	other := `"` + md5hex([]byte("other")) + `"`
	put(t, c, repo, "gone", []byte("soon deleted"))
	deleteKey(t, c, repo, "gone")
	putWith := func(key string, hdr map[string]string) rawResp {
		return e.do(t, rawReq{method: "PUT", bucket: repo, key: key, body: []byte("conditional"), header: hdr})
	}
	unchanged := func(t *testing.T, before []verEntry) {
		t.Helper()
		sameVersions(t, t.Name(), e.versions(t, repo), before)
	}
	t.Run("PUT", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			key    string
			hdr    map[string]string
			status int
			code   string
		}{
			{"If-None-Match with an ETag", "k", map[string]string{"If-None-Match": etag}, 501, "NotImplemented"},
			{"If-None-Match with another ETag", "k", map[string]string{"If-None-Match": other}, 501, "NotImplemented"},
			{"If-None-Match ETag on a missing key", "new", map[string]string{"If-None-Match": other}, 501, "NotImplemented"},
			{"If-Match and If-None-Match", "k", map[string]string{"If-Match": etag, "If-None-Match": "*"}, 501, "NotImplemented"},
			{"If-Match on a missing key", "missing", map[string]string{"If-Match": etag}, 404, "NoSuchKey"},
			{"If-Match * on a missing key", "missing", map[string]string{"If-Match": "*"}, 404, "NoSuchKey"},
			{"If-Match on a delete marker", "gone", map[string]string{"If-Match": `"` + md5hex([]byte("soon deleted")) + `"`}, 404, "NoSuchKey"},
			{"If-Match wrong ETag", "k", map[string]string{"If-Match": other}, 412, "PreconditionFailed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.versions(t, repo)
				wantRawErr(t, putWith(tc.key, tc.hdr), tc.status, tc.code)
				unchanged(t, before)
			})
		}
		if r := putWith("k", map[string]string{"If-Match": etag}); r.status != 200 {
			t.Fatalf("If-Match right ETag: %d %s", r.status, r.body)
		}
	})
	t.Run("DELETE", func(t *testing.T) {
		cur := put(t, c, repo, "d", []byte("to delete"))
		del := func(key, ifMatch string) error {
			_, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String(key), IfMatch: aws.String(ifMatch)})
			return err
		}
		for _, tc := range []struct {
			name, key, ifMatch string
			status             int
			code               string
		}{
			{"wrong ETag", "d", other, 412, "PreconditionFailed"},
			{"missing key", "missing", aws.ToString(cur.ETag), 404, "NoSuchKey"},
			{"* on a missing key", "missing", "*", 404, "NoSuchKey"},
			{"current version a delete marker", "gone", `"` + md5hex([]byte("soon deleted")) + `"`, 404, "NoSuchKey"},
			{"* on a delete marker", "gone", "*", 404, "NoSuchKey"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.versions(t, repo)
				wantErr(t, del(tc.key, tc.ifMatch), tc.status, tc.code)
				unchanged(t, before)
			})
		}
		r := e.do(t, rawReq{method: "DELETE", bucket: repo, key: "d", header: map[string]string{"If-None-Match": "*"}})
		wantRawErr(t, r, 501, "NotImplemented")
		if err := del("d", aws.ToString(cur.ETag)); err != nil {
			t.Fatalf("If-Match right ETag: %v", err)
		}
		put(t, c, repo, "d2", []byte("x"))
		if err := del("d2", "*"); err != nil {
			t.Fatalf("If-Match * on an existing key: %v", err)
		}
		_, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("d2")})
		wantErr(t, err, 404, "")
	})
	t.Run("CompleteMultipartUpload", func(t *testing.T) {
		complete := func(key string, f func(*s3.CompleteMultipartUploadInput)) (string, []types.CompletedPart, error) {
			id, parts := mpUpload(t, c, repo, key, "", []byte("one part"))
			in := &s3.CompleteMultipartUploadInput{Bucket: aws.String(repo), Key: aws.String(key), UploadId: aws.String(id),
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
			f(in)
			_, err := c.CompleteMultipartUpload(ctx(t), in)
			return id, parts, err
		}
		cur := put(t, c, repo, "m", []byte("current"))
		for _, tc := range []struct {
			name   string
			key    string
			f      func(*s3.CompleteMultipartUploadInput)
			status int
			code   string
		}{
			{"If-Match on a missing key", "missing", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = cur.ETag }, 404, "NoSuchKey"},
			{"If-Match on a delete marker", "gone", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = aws.String("*") }, 404, "NoSuchKey"},
			{"If-Match wrong ETag", "m", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = aws.String(other) }, 412, "PreconditionFailed"},
			{"If-None-Match * on an existing key", "m", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }, 412, "PreconditionFailed"},
			{"If-None-Match with an ETag", "m", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = cur.ETag }, 501, "NotImplemented"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.versions(t, repo)
				id, parts, err := complete(tc.key, tc.f)
				wantErr(t, err, tc.status, tc.code)
				unchanged(t, before)
				// Nothing was consumed: the upload completes without the condition.
				mpComplete(t, c, repo, tc.key, id, parts)
			})
		}
		if _, _, err := complete("m", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = aws.String("*") }); err != nil {
			t.Fatalf("If-Match * on an existing key: %v", err)
		}
		if _, _, err := complete("fresh", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }); err != nil {
			t.Fatalf("If-None-Match * on a new key: %v", err)
		}
	})
}

// presignAt signs presigned URLs as of a given time.
type presignAt struct {
	s3.HTTPPresignerV4
	at time.Time
}

func (p presignAt) PresignHTTP(ctx context.Context, cr aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, opts ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.HTTPPresignerV4.PresignHTTP(ctx, cr, r, payloadHash, service, region, p.at, opts...)
}

// TestPresignedExpired: a presigned request past X-Amz-Date +
// X-Amz-Expires is 403 AccessDenied "Request has expired", whatever the
// method, and does nothing.
func TestPresignedExpired(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "k", []byte("presigned"))
	send := func(t *testing.T, method, u string, body []byte, hdr http.Header) rawResp {
		req, err := http.NewRequestWithContext(ctx(t), method, u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := (&http.Client{Transport: e.transport(false)}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return rawResp{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
	}
	for _, tc := range []struct {
		name    string
		signed  time.Time
		expires time.Duration
	}{
		{"a second past", time.Now().Add(-3 * time.Second), time.Second},
		{"an hour past", time.Now().Add(-2 * time.Hour), time.Hour},
		{"signed days ago", time.Now().Add(-50 * time.Hour), 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// (The presigner is set per call: the client's is made after
			// NewPresignClient's options run.)
			at := func(o *s3.PresignOptions) {
				o.Expires = tc.expires
				o.Presigner = presignAt{o.Presigner, tc.signed}
			}
			ps := s3.NewPresignClient(c)
			g, err := ps.PresignGetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")}, at)
			if err != nil {
				t.Fatal(err)
			}
			doc := wantRawErr(t, send(t, "GET", g.URL, nil, g.SignedHeader), 403, "AccessDenied")
			if doc.Message != "Request has expired" {
				t.Errorf("message %q, want %q", doc.Message, "Request has expired")
			}
			if r := send(t, "HEAD", g.URL, nil, g.SignedHeader); r.status != 403 {
				t.Errorf("HEAD: %d", r.status)
			}
			before := e.versions(t, repo)
			pp, err := ps.PresignPutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("k")}, at)
			if err != nil {
				t.Fatal(err)
			}
			doc = wantRawErr(t, send(t, "PUT", pp.URL, []byte("overwritten"), pp.SignedHeader), 403, "AccessDenied")
			if doc.Message != "Request has expired" {
				t.Errorf("PUT message %q", doc.Message)
			}
			sameVersions(t, "expired PUT", e.versions(t, repo), before)
		})
	}
	t.Run("not yet expired", func(t *testing.T) {
		g, err := s3.NewPresignClient(c).PresignGetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")},
			func(o *s3.PresignOptions) {
				o.Expires = time.Hour
				o.Presigner = presignAt{o.Presigner, time.Now().Add(-time.Minute)}
			})
		if err != nil {
			t.Fatal(err)
		}
		if r := send(t, "GET", g.URL, nil, g.SignedHeader); r.status != 200 || string(r.body) != "presigned" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

// TestUserMetadataBytes: x-amz-meta-* values come back exactly as the
// client sent them: UTF-8 from the SDKs, and the raw latin-1 bytes that
// Python's http.client sends for a str header (how boto3 users and ceph
// s3-tests' test_object_set_get_unicode_metadata send "é"), through
// PutObject, CopyObject (COPY and REPLACE) and multipart uploads.
func TestUserMetadataBytes(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	values := map[string]string{"utf8": "Hello Worldé 日本", "latin1": "Hello World\xe9", "mixed": "\xc3\xa9\xff ok"}
	hdr := map[string]string{"Content-Disposition": "attachment; filename=\"r\xe9sum\xe9.txt\""}
	for k, v := range values {
		hdr["X-Amz-Meta-"+k] = v
	}
	check := func(t *testing.T, key string) {
		t.Helper()
		for _, m := range []string{"GET", "HEAD"} {
			r := e.do(t, rawReq{method: m, bucket: repo, key: key})
			if r.status != 200 {
				t.Fatalf("%s %s: %d %s", m, key, r.status, r.body)
			}
			for k, v := range values {
				if got := r.header.Values("X-Amz-Meta-" + k); len(got) != 1 || got[0] != v {
					t.Errorf("%s %s: x-amz-meta-%s = %q, want %q", m, key, k, got, v)
				}
			}
			if got := r.header.Get("Content-Disposition"); got != hdr["Content-Disposition"] {
				t.Errorf("%s %s: Content-Disposition %q, want %q", m, key, got, hdr["Content-Disposition"])
			}
		}
	}
	t.Run("PutObject", func(t *testing.T) {
		if r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "put", body: []byte("x"), header: hdr}); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		check(t, "put")
		out, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("put")})
		if err != nil || out.Metadata["utf8"] != values["utf8"] {
			t.Fatalf("SDK metadata %q: %v", out.Metadata, err)
		}
	})
	t.Run("SDK", func(t *testing.T) {
		if _, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("sdk"), Body: bytes.NewReader([]byte("x")),
			Metadata: map[string]string{"x": "é", "y": "日本語"}}); err != nil {
			t.Fatal(err)
		}
		out, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("sdk")})
		if err != nil || out.Metadata["x"] != "é" || out.Metadata["y"] != "日本語" {
			t.Fatalf("metadata %q: %v", out.Metadata, err)
		}
	})
	t.Run("CopyObject", func(t *testing.T) {
		r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "copied", header: map[string]string{"X-Amz-Copy-Source": repo + "/put"}})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		check(t, "copied")
		rh := map[string]string{"X-Amz-Copy-Source": repo + "/sdk", "X-Amz-Metadata-Directive": "REPLACE"}
		for k, v := range hdr {
			rh[k] = v
		}
		if r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "replaced", header: rh}); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		check(t, "replaced")
	})
	t.Run("multipart", func(t *testing.T) {
		r := e.do(t, rawReq{method: "POST", bucket: repo, key: "mp", query: "uploads", header: hdr})
		var init struct {
			UploadID string `xml:"UploadId"`
		}
		if r.status != 200 || xml.Unmarshal(r.body, &init) != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		o, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: aws.String(repo), Key: aws.String("mp"), UploadId: aws.String(init.UploadID),
			PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part"))})
		if err != nil {
			t.Fatal(err)
		}
		mpComplete(t, c, repo, "mp", init.UploadID, []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: o.ETag}})
		check(t, "mp")
	})
}

type echoListXML struct {
	Prefix                string   `xml:"Prefix"`
	Delimiter             string   `xml:"Delimiter"`
	EncodingType          string   `xml:"EncodingType"`
	ContinuationToken     *string  `xml:"ContinuationToken"`
	NextContinuationToken string   `xml:"NextContinuationToken"`
	IsTruncated           bool     `xml:"IsTruncated"`
	Keys                  []string `xml:"Contents>Key"`
	CommonPrefixes        []string `xml:"CommonPrefixes>Prefix"`
}

// TestListEcho: ListObjects v1 and v2 echo Prefix, Delimiter and keys as
// they are unless encoding-type=url asks otherwise; v1 never encodes its
// Prefix (AWS does not, and botocore, which adds encoding-type=url to
// every listing, does not decode it); an empty continuation-token is no
// token.
func TestListEcho(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	for _, k := range []string{"\nfirst", "\na\nb", "plain", "sp ace"} {
		put(t, c, repo, k, []byte(k))
	}
	list := func(t *testing.T, q url.Values) echoListXML {
		t.Helper()
		r := e.do(t, rawReq{method: "GET", bucket: repo, query: strings.ReplaceAll(q.Encode(), "+", "%20")})
		if r.status != 200 {
			t.Fatalf("?%s: %d %s", q.Encode(), r.status, r.body)
		}
		var x echoListXML
		if err := xml.Unmarshal(r.body, &x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, v2 := range []bool{false, true} {
		name := "v1"
		if v2 {
			name = "v2"
		}
		t.Run(name, func(t *testing.T) {
			q := url.Values{"prefix": {"\n"}, "delimiter": {"\n"}}
			if v2 {
				q.Set("list-type", "2")
			}
			x := list(t, q)
			if x.Prefix != "\n" || x.Delimiter != "\n" || x.EncodingType != "" ||
				fmt.Sprint(x.Keys) != fmt.Sprint([]string{"\nfirst"}) || fmt.Sprint(x.CommonPrefixes) != fmt.Sprint([]string{"\na\n"}) {
				t.Fatalf("raw: %+v", x)
			}
			q.Set("encoding-type", "url")
			x = list(t, q)
			wantPrefix := "%0A"
			if !v2 {
				wantPrefix = "\n" // as AWS: v1's Prefix is not encoded
			}
			if x.Prefix != wantPrefix || x.Delimiter != "%0A" || x.EncodingType != "url" ||
				fmt.Sprint(x.Keys) != fmt.Sprint([]string{"%0Afirst"}) || fmt.Sprint(x.CommonPrefixes) != fmt.Sprint([]string{"%0Aa%0A"}) {
				t.Fatalf("encoding-type=url: %+v", x)
			}
		})
	}
	t.Run("v2 empty continuation-token", func(t *testing.T) {
		x := list(t, url.Values{"list-type": {"2"}, "continuation-token": {""}, "max-keys": {"2"}})
		if x.ContinuationToken != nil || len(x.Keys) != 2 || x.Keys[0] != "\na\nb" || !x.IsTruncated || x.NextContinuationToken == "" {
			t.Fatalf("empty token: %+v", x)
		}
		// The SDK paginator's first request has no token; all pages.
		if got := keysOf(t, c, repo); len(got) != 4 {
			t.Fatalf("keys %q", got)
		}
	})
	t.Run("boto3 list_objects", func(t *testing.T) {
		botoList(t, e, repo)
	})
}

// TestKeysOnTheWire: keys that cannot be keys are 400 on GET and HEAD too
// (InvalidURI when they do not decode as UTF-8 or hold NUL, KeyTooLongError
// past 1024 bytes); "..", "//", "./" and a trailing "/" are plain keys.
func TestKeysOnTheWire(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	for i, tc := range []struct {
		path, code string
	}{
		{"/" + repo + "/a%FFb", "InvalidURI"},
		{"/" + repo + "/%C0%AF", "InvalidURI"},
		{"/" + repo + "/nul%00", "InvalidURI"},
		{"/" + repo + "/" + strings.Repeat("k", 1025), "KeyTooLongError"},
	} {
		t.Run(fmt.Sprintf("%d %s", i, tc.code), func(t *testing.T) {
			wantRawErr(t, e.do(t, rawReq{method: "GET", path: tc.path}), 400, tc.code)
			if r := e.do(t, rawReq{method: "HEAD", path: tc.path}); r.status != 400 || len(r.body) != 0 {
				t.Fatalf("HEAD: %d %q", r.status, r.body)
			}
		})
	}
	for _, k := range []string{"..", "//", "a/", "x/../y", "a//b", "./", "/lead", "../up"} {
		t.Run("plain "+k, func(t *testing.T) {
			put(t, c, repo, k, []byte("key "+k))
			if b, _ := get(t, c, repo, k, ""); string(b) != "key "+k {
				t.Fatalf("GET %q: %q", k, b)
			}
			if _, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String(k)}); err != nil {
				t.Fatalf("HEAD %q: %v", k, err)
			}
			r := e.do(t, rawReq{method: "GET", bucket: repo, key: k})
			if r.status != 200 || string(r.body) != "key "+k {
				t.Fatalf("raw GET %q: %d %s", k, r.status, r.body)
			}
		})
	}
	got := keysOf(t, c, repo)
	if want := sortedCopy([]string{"..", "//", "a/", "x/../y", "a//b", "./", "/lead", "../up"}); !equalStrings(got, want) {
		t.Fatalf("listing %q, want %q", got, want)
	}
}

// TestConcurrentPutDelete: 16 goroutines PUT and DELETE (no version id)
// one key; afterwards ListObjectVersions holds exactly the acknowledged
// writes (versions with their ETags, delete markers), newest first in the
// order of the branch's commits, IsLatest on the newest only.
func TestConcurrentPutDelete(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	const writers, rounds = 16, 6
	type ack struct {
		version string
		marker  bool
		etag    string
	}
	var mu sync.Mutex
	acks := map[string]ack{}
	var wg sync.WaitGroup
	errc := make(chan error, writers*rounds)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if (w+i)%3 == 2 {
					out, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String("k")})
					if err != nil {
						errc <- fmt.Errorf("writer %d delete %d: %w", w, i, err)
						continue
					}
					if v := aws.ToString(out.VersionId); v != "" {
						if !aws.ToBool(out.DeleteMarker) {
							errc <- fmt.Errorf("writer %d delete %d: version %s without x-amz-delete-marker", w, i, v)
						}
						mu.Lock()
						acks[v] = ack{version: v, marker: true}
						mu.Unlock()
					}
					continue
				}
				body := []byte(fmt.Sprintf("writer %02d round %d", w, i))
				out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("k"), Body: bytes.NewReader(body)})
				if err != nil {
					errc <- fmt.Errorf("writer %d put %d: %w", w, i, err)
					continue
				}
				v := aws.ToString(out.VersionId)
				mu.Lock()
				if _, dup := acks[v]; dup {
					errc <- fmt.Errorf("version %s acknowledged twice", v)
				}
				acks[v] = ack{version: v, etag: `"` + md5hex(body) + `"`}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	// The commit order: the branch's first-parent history, newest first.
	ref, err := e.srv.Meta.Resolve(ctx(t), repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	log, err := e.srv.Meta.Log(ctx(t), ref.Commit, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []verEntry
	for _, cm := range log {
		a, ok := acks[cm.ID]
		if !ok {
			continue
		}
		want = append(want, verEntry{Marker: a.marker, Key: "k", VersionID: a.version, ETag: a.etag, IsLatest: len(want) == 0})
		delete(acks, cm.ID)
	}
	if len(acks) != 0 {
		t.Fatalf("%d acknowledged writes are not commits of the branch: %v", len(acks), acks)
	}
	got := e.versions(t, repo)
	if len(got) != len(want) {
		t.Fatalf("%d versions listed, %d acknowledged:\n got  %v\n want %v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Marker != w.Marker || g.Key != w.Key || g.VersionID != w.VersionID || g.IsLatest != w.IsLatest || (!w.Marker && g.ETag != w.ETag) {
			t.Fatalf("entry %d: got %v (etag %s), want %v (etag %s)\n got  %v\n want %v", i, g, g.ETag, w, w.ETag, got, want)
		}
	}
	// What GetObject answers is the newest entry.
	if want[0].Marker {
		wantErr(t, getErr(t, c, repo, "k", ""), 404, "NoSuchKey")
	} else if _, out := get(t, c, repo, "k", ""); aws.ToString(out.VersionId) != want[0].VersionID {
		t.Fatalf("GET answers version %s, the listing's newest is %s", aws.ToString(out.VersionId), want[0].VersionID)
	}
}

// botoList runs boto3's list_objects and list_objects_v2 (which add
// encoding-type=url and decode the answer) with a newline prefix, as ceph
// s3-tests' test_bucket_list_prefix_unreadable does; it fails without boto3
// (scripts/install-test-deps.sh).
func botoList(t *testing.T, e *env, bucket string) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("no python3 for boto3: %v (run scripts/install-test-deps.sh)", err)
	}
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import boto3: %v: %s (run scripts/install-test-deps.sh)", py, err, out)
	}
	const script = `
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
b = sys.argv[4]
r = s3.list_objects(Bucket=b, Prefix="\n", Delimiter="\n")
assert r["Prefix"] == "\n", repr(r["Prefix"])
assert r["Delimiter"] == "\n", repr(r["Delimiter"])
assert [o["Key"] for o in r["Contents"]] == ["\nfirst"], r["Contents"]
assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["\na\n"], r["CommonPrefixes"]
r = s3.list_objects_v2(Bucket=b, Prefix="\n", Delimiter="\n")
assert r["Prefix"] == "\n", repr(r["Prefix"])
assert [o["Key"] for o in r["Contents"]] == ["\nfirst"], r["Contents"]
r = s3.list_objects_v2(Bucket=b, ContinuationToken="")
assert len(r["Contents"]) == 4, r
print("ok")
`
	cmd := exec.Command(py, "-c", script, e.srv.URL, gatewaytest.AccessKey, gatewaytest.SecretKey, bucket)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "BOTO") {
			env = append(env, kv)
		}
	}
	dir := t.TempDir()
	cmd.Env = append(env, "AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"BOTO_DISABLE_CRT=true", "AWS_EC2_METADATA_DISABLED=true")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
}
