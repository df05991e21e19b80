package test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// TestAuth: wrong secrets, unknown keys, anonymous requests and presigned
// URLs, with nothing written by any refused request.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "k", []byte("secret data"))
	before := e.versions(t, repo)
	nothing := func(t *testing.T, what string) {
		t.Helper()
		sameVersions(t, what, e.versions(t, repo), before)
	}

	for _, st := range []style{pathHTTP, pathTLS, vhostHTTP} {
		t.Run("wrong secret "+st.String(), func(t *testing.T) {
			bad := e.sdkWith(st, gatewaytest.AccessKey, "not-the-secret")
			_, err := bad.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("k"), Body: bytes.NewReader([]byte("evil"))})
			wantErr(t, err, 403, "SignatureDoesNotMatch")
			_, err = bad.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(repo)})
			wantErr(t, err, 403, "SignatureDoesNotMatch")
			_, err = bad.ListBuckets(ctx(t), &s3.ListBucketsInput{})
			wantErr(t, err, 403, "SignatureDoesNotMatch")
			nothing(t, "wrong secret")
		})
		t.Run("unknown access key "+st.String(), func(t *testing.T) {
			bad := e.sdkWith(st, "TKNOSUCHKEY000000000", gatewaytest.SecretKey)
			_, err := bad.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("k"), Body: bytes.NewReader([]byte("evil"))})
			wantErr(t, err, 403, "InvalidAccessKeyId")
			_, err = bad.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")})
			wantErr(t, err, 403, "InvalidAccessKeyId")
			nothing(t, "unknown key")
		})
	}
	t.Run("raw wrong secret", func(t *testing.T) {
		r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "k", body: []byte("evil"), accessKey: gatewaytest.AccessKey, secret: "wrong"})
		wantRawErr(t, r, 403, "SignatureDoesNotMatch")
		r = e.do(t, rawReq{method: "PUT", bucket: repo, key: "k", body: []byte("evil"), accessKey: "TKNOSUCHKEY000000000", secret: "x"})
		wantRawErr(t, r, 403, "InvalidAccessKeyId")
		nothing(t, "raw")
	})

	t.Run("clock skew", func(t *testing.T) {
		for _, d := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
			r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "skewed", body: []byte("x"), signTime: time.Now().Add(d)})
			wantRawErr(t, r, 403, "RequestTimeTooSkewed")
		}
		// Within the 15-minute window: fine.
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "k", signTime: time.Now().Add(-5 * time.Minute)})
		if r.status != 200 {
			t.Fatalf("request signed 5 minutes ago: %d %s", r.status, r.body)
		}
		nothing(t, "skewed")
	})
	t.Run("UNSIGNED-PAYLOAD with Content-MD5", func(t *testing.T) {
		body := []byte("unsigned payload, as rclone sends small files")
		r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "unsigned", body: body, payloadHash: "UNSIGNED-PAYLOAD",
			header: map[string]string{"Content-MD5": md5b64(body)}})
		if r.status != 200 || r.header.Get("ETag") != `"`+md5hex(body)+`"` {
			t.Fatalf("UNSIGNED-PAYLOAD PUT: %d %s", r.status, r.body)
		}
		if b, _ := get(t, c, repo, "unsigned", ""); !bytes.Equal(b, body) {
			t.Fatalf("stored %q", b)
		}
		deleteKey(t, c, repo, "unsigned")
		before = e.versions(t, repo)
	})
	t.Run("anonymous", func(t *testing.T) {
		for _, r := range []rawReq{
			{method: "GET"},
			{method: "GET", bucket: repo},
			{method: "GET", bucket: repo, key: "k"},
			{method: "HEAD", bucket: repo, key: "k"},
			{method: "GET", bucket: repo, query: "versions"},
			{method: "PUT", bucket: repo, key: "anon", body: []byte("anon")},
			{method: "PUT", bucket: repo, key: "k", body: []byte("anon")},
			{method: "DELETE", bucket: repo, key: "k"},
			{method: "PUT", bucket: e.name("anon")},
			{method: "DELETE", bucket: repo},
		} {
			r.anon = true
			resp := e.do(t, r)
			if r.method == "HEAD" {
				if resp.status != 403 || resp.header.Get("X-Amz-Request-Id") == "" {
					t.Fatalf("anonymous HEAD: %d", resp.status)
				}
				continue
			}
			wantRawErr(t, resp, 403, "AccessDenied")
		}
		nothing(t, "anonymous")
		if got := listBuckets(t, c); len(got) != 1 || got[0] != repo {
			t.Fatalf("buckets after anonymous writes: %q", got)
		}
	})

	pc := s3.NewPresignClient(c)
	t.Run("presigned GET and PUT", func(t *testing.T) {
		g, err := pc.PresignGetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")},
			s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(g.URL, "X-Amz-Signature=") {
			t.Fatalf("presigned URL %s", g.URL)
		}
		status, body := e.fetch(t, g.Method, g.URL, g.SignedHeader, nil)
		if status != 200 || body != "secret data" {
			t.Fatalf("presigned GET: %d %q", status, body)
		}
		p, err := pc.PresignPutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("presigned put")},
			s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		status, body = e.fetch(t, p.Method, p.URL, p.SignedHeader, []byte("uploaded via presigned URL"))
		if status != 200 {
			t.Fatalf("presigned PUT: %d %s", status, body)
		}
		if b, _ := get(t, c, repo, "presigned put", ""); string(b) != "uploaded via presigned URL" {
			t.Fatalf("presigned PUT stored %q", b)
		}
		before = e.versions(t, repo)
		// A presigned URL for one key does not sign another.
		tampered := strings.Replace(g.URL, "/k?", "/other?", 1)
		status, body = e.fetch(t, "GET", tampered, g.SignedHeader, nil)
		if status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
			t.Fatalf("tampered presigned URL: %d %s", status, body)
		}
	})
	t.Run("presigned expiry over 7 days", func(t *testing.T) {
		g, err := pc.PresignGetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")},
			s3.WithPresignExpires(8*24*time.Hour))
		if err != nil {
			t.Fatalf("presigning for 8 days: %v", err)
		}
		r := e.fetchRaw(t, g.Method, g.URL, g.SignedHeader, nil)
		if r.status == 200 {
			t.Fatalf("a presigned URL valid for 8 days was accepted")
		}
		wantRawErr(t, r, r.status, "")
		if r.status != 400 && r.status != 403 {
			t.Fatalf("8-day presigned URL: %d %s", r.status, r.body)
		}
	})
	t.Run("expired presigned URL", func(t *testing.T) {
		g, err := pc.PresignGetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")},
			s3.WithPresignExpires(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		p, err := pc.PresignPutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("late put")},
			s3.WithPresignExpires(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		// Not a wait for an event: the URLs must outlive their 1 s expiry,
		// which is what is tested.
		time.Sleep(2 * time.Second)
		for _, r := range []struct {
			method, url string
			h           http.Header
			body        []byte
		}{{g.Method, g.URL, g.SignedHeader, nil}, {p.Method, p.URL, p.SignedHeader, []byte("too late")}} {
			resp := e.fetchRaw(t, r.method, r.url, r.h, r.body)
			wantRawErr(t, resp, 403, "AccessDenied")
		}
		nothing(t, "expired presigned PUT")
	})
}

// fetchRaw sends a request to an absolute URL (a presigned one).
func (e *env) fetchRaw(t *testing.T, method, u string, h http.Header, body []byte) rawResp {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range h {
		if strings.EqualFold(k, "Host") {
			continue
		}
		req.Header[k] = v
	}
	resp, err := (&http.Client{Transport: e.transport(false)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) fetch(t *testing.T, method, u string, h http.Header, body []byte) (int, string) {
	t.Helper()
	r := e.fetchRaw(t, method, u, h, body)
	return r.status, string(r.body)
}

// TestErrorDocuments: every error answer carries x-amz-request-id and an S3
// error XML body whose RequestId is that id, whatever produced it.
func TestErrorDocuments(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "k", []byte("x"))
	cases := []struct {
		name   string
		req    rawReq
		status int
		code   string
	}{
		{"NoSuchKey", rawReq{method: "GET", bucket: repo, key: "missing"}, 404, "NoSuchKey"},
		{"NoSuchBucket", rawReq{method: "GET", bucket: "nosuchrepo"}, 404, "NoSuchBucket"},
		{"NoSuchBucket object", rawReq{method: "GET", bucket: "nosuchrepo", key: "k"}, 404, "NoSuchBucket"},
		{"NoSuchBucket ref", rawReq{method: "GET", bucket: "nosuchref." + repo, key: "k"}, 404, "NoSuchBucket"},
		{"NoSuchVersion", rawReq{method: "GET", bucket: repo, key: "k", query: "versionId=0123456789abcdef0123456789abcdef"}, 404, "NoSuchVersion"},
		{"AccessDenied anonymous", rawReq{method: "GET", bucket: repo, key: "k", anon: true}, 403, "AccessDenied"},
		{"SignatureDoesNotMatch", rawReq{method: "GET", bucket: repo, key: "k", accessKey: gatewaytest.AccessKey, secret: "bad"}, 403, "SignatureDoesNotMatch"},
		{"InvalidAccessKeyId", rawReq{method: "GET", bucket: repo, key: "k", accessKey: "TKNOSUCHKEY000000000", secret: "bad"}, 403, "InvalidAccessKeyId"},
		{"MalformedXML", rawReq{method: "POST", bucket: repo, query: "delete", body: []byte("<Delete>")}, 400, "MalformedXML"},
		{"InvalidBucketName", rawReq{method: "PUT", bucket: "Bad_Name"}, 400, "InvalidBucketName"},
		{"KeyTooLongError", rawReq{method: "GET", bucket: repo, key: strings.Repeat("x", 1100)}, 400, "KeyTooLongError"},
		{"NotImplemented", rawReq{method: "PUT", bucket: repo, query: "acl", header: map[string]string{"X-Amz-Acl": "public-read-write"}}, 501, "NotImplemented"},
		{"PreconditionFailed", rawReq{method: "GET", bucket: repo, key: "k", header: map[string]string{"If-Match": `"nope"`}}, 412, "PreconditionFailed"},
		{"BadDigest", rawReq{method: "PUT", bucket: repo, key: "d", body: []byte("x"), header: map[string]string{"Content-MD5": md5b64([]byte("y"))}}, 400, "BadDigest"},
		{"InvalidRange", rawReq{method: "GET", bucket: repo, key: "k", header: map[string]string{"Range": "bytes=9-"}}, 416, "InvalidRange"},
		{"BucketNotEmpty", rawReq{method: "DELETE", bucket: repo}, 409, "BucketNotEmpty"},
		// Creating one's own bucket again is 200 in us-east-1 (TestBucketExists).
		{"IllegalLocationConstraintException", rawReq{method: "PUT", bucket: repo, body: []byte(
			"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>")}, 400, "IllegalLocationConstraintException"},
		{"MethodNotAllowed", rawReq{method: "PATCH", bucket: repo, key: "k"}, 405, "MethodNotAllowed"},
		{"InvalidArgument tusk meta", rawReq{method: "PUT", bucket: repo, key: "m", body: []byte("x"), header: map[string]string{"X-Amz-Meta-Tusk-Inputs": "forged"}}, 400, "InvalidArgument"},
	}
	ids := map[string]bool{}
	for _, cse := range cases {
		t.Run(cse.name, func(t *testing.T) {
			r := e.do(t, cse.req)
			doc := wantRawErr(t, r, cse.status, cse.code)
			if ids[doc.RequestID] {
				t.Fatalf("request id %s reused", doc.RequestID)
			}
			ids[doc.RequestID] = true
			if doc.Message == "" {
				t.Errorf("%s without a Message", cse.code)
			}
			if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "xml") {
				t.Errorf("error Content-Type %q", ct)
			}
		})
	}
	t.Run("success carries a request id too", func(t *testing.T) {
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "k"})
		if r.status != 200 || r.header.Get("X-Amz-Request-Id") == "" {
			t.Fatalf("GET: %d request id %q", r.status, r.header.Get("X-Amz-Request-Id"))
		}
	})
}
