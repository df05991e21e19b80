package test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Findings of a review against AWS semantics, kept as regressions.
func TestReviewRegressions(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)

	t.Run("conditional DeleteObject", func(t *testing.T) {
		b := e.repo(t)
		p := put(t, c, b, "cond", []byte("v1"))
		// Wrong ETag: 412 and nothing deleted.
		r := e.do(t, rawReq{method: "DELETE", bucket: b, key: "cond", header: map[string]string{"If-Match": `"nope"`}})
		wantRawErr(t, r, 412, "PreconditionFailed")
		if got, _ := get(t, c, b, "cond", ""); string(got) != "v1" {
			t.Fatalf("object changed after a refused conditional delete: %q", got)
		}
		// Absent key with If-Match: 404 NoSuchKey.
		r = e.do(t, rawReq{method: "DELETE", bucket: b, key: "never", header: map[string]string{"If-Match": "*"}})
		wantRawErr(t, r, 404, "NoSuchKey")
		// Right ETag: deleted, with a delete marker.
		r = e.do(t, rawReq{method: "DELETE", bucket: b, key: "cond", header: map[string]string{"If-Match": *p.ETag}})
		if r.status != 204 || r.header.Get("X-Amz-Delete-Marker") != "true" {
			t.Fatalf("conditional delete: %d %v", r.status, r.header)
		}
	})

	t.Run("delete of an absent key is a delete marker", func(t *testing.T) {
		b := e.repo(t)
		out, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("ghost")})
		if err != nil || out.VersionId == nil || !isCommitID(*out.VersionId) || out.DeleteMarker == nil || !*out.DeleteMarker {
			t.Fatalf("DeleteObject of an absent key: %+v %v", out, err)
		}
		vs := e.versions(t, b)
		if len(vs) != 1 || !vs[0].Marker || vs[0].VersionID != *out.VersionId || !vs[0].IsLatest {
			t.Fatalf("versions %v", vs)
		}
	})

	t.Run("DeleteObjects reports the same marker for repeated and absent keys", func(t *testing.T) {
		b := e.repo(t)
		put(t, c, b, "a", []byte("x"))
		out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("a")}, {Key: aws.String("zz")}}}})
		if err != nil || len(out.Deleted) != 3 {
			t.Fatalf("DeleteObjects: %+v %v", out, err)
		}
		v := aws.ToString(out.Deleted[0].DeleteMarkerVersionId)
		for _, d := range out.Deleted {
			if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) != v || !isCommitID(v) {
				t.Fatalf("entry %s: marker %v version %q, want one shared commit %q", aws.ToString(d.Key), aws.ToBool(d.DeleteMarker), aws.ToString(d.DeleteMarkerVersionId), v)
			}
		}
	})

	t.Run("aws-chunked encoding without a STREAMING payload is refused", func(t *testing.T) {
		b := e.repo(t)
		r := e.do(t, rawReq{method: "PUT", bucket: b, key: "framed", payloadHash: "UNSIGNED-PAYLOAD",
			header: map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5"},
			body:   []byte("5\r\nhello\r\n0\r\n\r\n")})
		wantRawErr(t, r, 400, "InvalidRequest")
		if vs := e.versions(t, b); len(vs) != 0 {
			t.Fatalf("a refused write left versions: %v", vs)
		}
	})

	t.Run("the message of a payload hash mismatch is the verifier's", func(t *testing.T) {
		b := e.repo(t)
		r := e.do(t, rawReq{method: "PUT", bucket: b, key: "h", body: []byte("hello"),
			payloadHash: "0000000000000000000000000000000000000000000000000000000000000000"})
		doc := wantRawErr(t, r, 400, "XAmzContentSHA256Mismatch")
		if doc.Message == "reading body" || doc.Message == "" {
			t.Fatalf("message %q hides the cause", doc.Message)
		}
	})
}
