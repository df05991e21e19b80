package s3api

// End-to-end tests with real clients (aws-sdk-go-v2 and minio-go) against
// an httptest.Server running the S3 handler over the in-memory backend,
// authenticated by the real SigV4 verifier.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tusk-data/tusk/s3api/sigv4"
)

type sdkEnv struct {
	be   *fakeBackend
	auth *fakeAuth
	srv  *httptest.Server
}

// newSDKEnv starts the handler; withTLS makes the AWS SDK stream
// aws-chunked bodies with trailing checksums (it does not without TLS).
func newSDKEnv(t *testing.T, withTLS bool) *sdkEnv {
	t.Helper()
	be, auth := newFakeBackend(), newFakeAuth()
	be.auth = auth
	h := New(Config{
		Backend: be, Auth: auth, Region: "us-east-1",
		Verifier: &sigv4.Verifier{Creds: auth, Region: "us-east-1"},
	})
	var srv *httptest.Server
	if withTLS {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return &sdkEnv{be: be, auth: auth, srv: srv}
}

func (e *sdkEnv) awsClient(accessKey, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.srv.URL),
		UsePathStyle: true,
		Credentials:  awscreds.NewStaticCredentialsProvider(accessKey, secret, ""),
		HTTPClient:   e.srv.Client(),
		Retryer:      aws.NopRetryer{},
	})
}

func (e *sdkEnv) minioClient(t *testing.T) *minio.Client {
	t.Helper()
	u, _ := url.Parse(e.srv.URL)
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        miniocreds.NewStaticV4("AKIDADMIN", "admin-secret", ""),
		Secure:       false,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestAWSSDK(t *testing.T) {
	e := newSDKEnv(t, true)
	ctx := context.Background()
	c := e.awsClient("AKIDADMIN", "admin-secret")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk")})
	must(err)
	// Creating it again in us-east-1: 200, as AWS's legacy answer.
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk")})
	must(err)

	t.Run("odd keys", func(t *testing.T) {
		for _, k := range oddKeys {
			out, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("sdk"), Key: aws.String(k), Body: strings.NewReader("body of " + k),
				Metadata: map[string]string{"origin": "sdk"}, ContentType: aws.String("text/plain"),
			})
			if err != nil {
				t.Fatalf("put %q: %v", k, err)
			}
			if aws.ToString(out.VersionId) == "" || aws.ToString(out.ETag) == "" {
				t.Fatalf("put %q: no version or etag", k)
			}
		}
		for _, k := range oddKeys {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String(k), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatalf("get %q: %v", k, err)
			}
			body, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if string(body) != "body of "+k || out.Metadata["origin"] != "sdk" || aws.ToString(out.ContentType) != "text/plain" {
				t.Fatalf("get %q: %q %v", k, body, out.Metadata)
			}
		}
		var got []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("sdk"), MaxKeys: aws.Int32(5)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			must(err)
			for _, o := range page.Contents {
				got = append(got, aws.ToString(o.Key))
			}
		}
		want := append([]string(nil), oddKeys...)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("listed %q\nwant %q", got, want)
		}
		// Delimiter "/" at the root and under "a/".
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sdk"), Delimiter: aws.String("/"), Prefix: aws.String("a/")})
		must(err)
		var keys, prefixes []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, cp := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
		if fmt.Sprint(keys) != "[a/ a/b]" || fmt.Sprint(prefixes) != "[a//]" {
			t.Fatalf("keys %q prefixes %q", keys, prefixes)
		}
	})

	t.Run("checksums", func(t *testing.T) {
		for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
			types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
			key := "sum-" + string(algo)
			// A non-seekable body makes the SDK stream aws-chunked with a trailer.
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("sdk"), Key: aws.String(key), ChecksumAlgorithm: algo,
				Body: io.NopCloser(strings.NewReader("checksummed")), ContentLength: aws.Int64(11),
			})
			if err != nil {
				t.Fatalf("%s: %v", algo, err)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			must(err)
			var v *string
			switch algo {
			case types.ChecksumAlgorithmCrc32:
				v = head.ChecksumCRC32
			case types.ChecksumAlgorithmCrc32c:
				v = head.ChecksumCRC32C
			case types.ChecksumAlgorithmCrc64nvme:
				v = head.ChecksumCRC64NVME
			case types.ChecksumAlgorithmSha1:
				v = head.ChecksumSHA1
			case types.ChecksumAlgorithmSha256:
				v = head.ChecksumSHA256
			}
			if aws.ToString(v) == "" {
				t.Fatalf("%s: no checksum returned", algo)
			}
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			must(err)
			b, err := io.ReadAll(got.Body) // the SDK validates the checksum here
			got.Body.Close()
			if err != nil || string(b) != "checksummed" {
				t.Fatalf("%s: %q %v", algo, b, err)
			}
		}
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("sdk"), Key: aws.String("bad-sum"), Body: strings.NewReader("data"),
			ChecksumCRC32: aws.String("AAAAAA=="),
		})
		if apiCode(err) != "BadDigest" {
			t.Fatalf("bad checksum: %v", err)
		}
	})

	t.Run("conditional put", func(t *testing.T) {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String("once"), Body: strings.NewReader("1"), IfNoneMatch: aws.String("*")})
		must(err)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String("once"), Body: strings.NewReader("2"), IfNoneMatch: aws.String("*")})
		if apiCode(err) != "PreconditionFailed" {
			t.Fatalf("%v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String("missing")})
		var nsk *types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Fatalf("missing key: %v", err)
		}
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nosuch")})
		var nf *types.NotFound
		if !errors.As(err, &nf) {
			t.Fatalf("head missing bucket: %v", err)
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String("a"), Range: aws.String("bytes=100-")})
		if apiCode(err) != "InvalidRange" {
			t.Fatalf("range: %v", err)
		}
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String("forged"), Body: strings.NewReader("x"),
			Metadata: map[string]string{"tusk-inputs": "images@abc:cats/1.jpg"}})
		if apiCode(err) != "InvalidArgument" {
			t.Fatalf("forged provenance: %v", err)
		}
		bad := e.awsClient("AKIDADMIN", "wrong-secret")
		_, err = bad.ListBuckets(ctx, &s3.ListBucketsInput{})
		if apiCode(err) != "SignatureDoesNotMatch" {
			t.Fatalf("bad secret: %v", err)
		}
		unknown := e.awsClient("AKIDNOBODY", "x")
		_, err = unknown.ListBuckets(ctx, &s3.ListBucketsInput{})
		if apiCode(err) != "InvalidAccessKeyId" {
			t.Fatalf("unknown key: %v", err)
		}
		reader := e.awsClient("AKIDREADER", "reader-secret")
		_, err = reader.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String("r"), Body: strings.NewReader("x")})
		if apiCode(err) != "AccessDenied" {
			t.Fatalf("reader write: %v", err)
		}
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("sdk"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		if err != nil {
			t.Fatalf("suspend: %v", err)
		}
		_, err = c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("sdk")})
		if apiCode(err) != "NoSuchBucketPolicy" {
			t.Fatalf("policy: %v", err)
		}
		_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("sdk"),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
		if apiCode(err) != "NotImplemented" {
			t.Fatalf("put tagging: %v", err)
		}
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("sdk"), Key: aws.String("mp"),
			UploadId: aws.String("nosuchupload"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
		if apiCode(err) != "NoSuchUpload" {
			t.Fatalf("multipart: %v", err)
		}
	})

	t.Run("bucket probes", func(t *testing.T) {
		v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("sdk")})
		must(err)
		if v.Status != types.BucketVersioningStatusSuspended { // suspended above
			t.Fatalf("%v", v.Status)
		}
		loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("sdk")})
		must(err)
		if loc.LocationConstraint != "" {
			t.Fatalf("%v", loc.LocationConstraint)
		}
		acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("sdk")})
		must(err)
		if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
			t.Fatalf("%+v", acl)
		}
		lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		must(err)
		if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "sdk" {
			t.Fatalf("%+v", lb)
		}
		tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("sdk"), Key: aws.String("a")})
		must(err)
		if len(tags.TagSet) != 0 {
			t.Fatalf("%+v", tags)
		}
	})

	t.Run("copy, versions, delete", func(t *testing.T) {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("copies")})
		must(err)
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("dev.copies")})
		must(err)
		cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String("dev.copies"), Key: aws.String("copy of sp ace"),
			CopySource: aws.String("sdk/" + url.PathEscape("sp ace")),
		})
		must(err)
		if aws.ToString(cp.VersionId) == "" || cp.CopyObjectResult == nil || aws.ToString(cp.CopyObjectResult.ETag) == "" {
			t.Fatalf("%+v", cp)
		}
		for i := 0; i < 3; i++ {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("dev.copies"), Key: aws.String("v"), Body: strings.NewReader(fmt.Sprint(i))})
			must(err)
		}
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("dev.copies"), Key: aws.String("v")})
		must(err)
		var versions, markers int
		var km, vm *string
		for {
			out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("dev.copies"), MaxKeys: aws.Int32(2), KeyMarker: km, VersionIdMarker: vm})
			must(err)
			versions += len(out.Versions)
			markers += len(out.DeleteMarkers)
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			km, vm = out.NextKeyMarker, out.NextVersionIdMarker
		}
		if versions != 4 || markers != 1 {
			t.Fatalf("versions %d markers %d", versions, markers)
		}
		del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("dev.copies"), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("copy of sp ace")}, {Key: aws.String("never")}},
		}})
		must(err)
		if len(del.Deleted) != 2 || len(del.Errors) != 0 {
			t.Fatalf("%+v", del)
		}
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("dev.copies")})
		must(err)
		if len(out.Contents) != 0 {
			t.Fatalf("%+v", out.Contents)
		}
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("dev.copies")})
		must(err)
	})

	t.Run("presigned get", func(t *testing.T) {
		ps := s3.NewPresignClient(c)
		req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String("x/../y")}, s3.WithPresignExpires(time.Minute))
		must(err)
		resp, err := e.srv.Client().Get(req.URL)
		must(err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "body of x/../y" {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		resp, err := e.srv.Client().Get(e.srv.URL + "/sdk/a")
		must(err)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("anonymous read of a private repo: %d", resp.StatusCode)
		}
		e.auth.mu.Lock()
		e.auth.public["sdk"] = true
		e.auth.mu.Unlock()
		resp, err = e.srv.Client().Get(e.srv.URL + "/sdk/a")
		must(err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "body of a" {
			t.Fatalf("anonymous read of a public repo: %d %s", resp.StatusCode, b)
		}
		req, _ := http.NewRequest("PUT", e.srv.URL+"/sdk/a", strings.NewReader("x"))
		resp, err = e.srv.Client().Do(req)
		must(err)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("anonymous write: %d", resp.StatusCode)
		}
	})
}

func TestMinioClient(t *testing.T) {
	e := newSDKEnv(t, false)
	ctx := context.Background()
	c := e.minioClient(t)
	if err := c.MakeBucket(ctx, "mini", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.BucketExists(ctx, "mini"); err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if ok, err := c.BucketExists(ctx, "nosuch"); err != nil || ok {
		t.Fatalf("exists nosuch: %v %v", ok, err)
	}
	for _, k := range oddKeys {
		body := "minio " + k
		info, err := c.PutObject(ctx, "mini", k, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{
			UserMetadata: map[string]string{"Who": "minio"}, ContentType: "text/x-test",
		})
		if err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		if info.VersionID == "" {
			t.Fatalf("put %q: no version id", k)
		}
	}
	for _, k := range oddKeys {
		obj, err := c.GetObject(ctx, "mini", k, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || string(b) != "minio "+k {
			t.Fatalf("get %q: %q %v", k, b, err)
		}
		st, err := c.StatObject(ctx, "mini", k, minio.StatObjectOptions{})
		if err != nil || st.UserMetadata["Who"] != "minio" || st.ContentType != "text/x-test" {
			t.Fatalf("stat %q: %+v %v", k, st, err)
		}
	}
	t.Run("list", func(t *testing.T) {
		var keys []string
		for o := range c.ListObjects(ctx, "mini", minio.ListObjectsOptions{Recursive: true, MaxKeys: 7}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			keys = append(keys, o.Key)
		}
		want := append([]string(nil), oddKeys...)
		sort.Strings(want)
		if fmt.Sprint(keys) != fmt.Sprint(want) {
			t.Fatalf("listed %q\nwant %q", keys, want)
		}
		var top []string
		for o := range c.ListObjects(ctx, "mini", minio.ListObjectsOptions{Prefix: "a/", UseV1: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			top = append(top, o.Key)
		}
		sort.Strings(top)
		if fmt.Sprint(top) != "[a/ a// a/b]" {
			t.Fatalf("%q", top)
		}
		var versions int
		for o := range c.ListObjects(ctx, "mini", minio.ListObjectsOptions{WithVersions: true, Recursive: true, MaxKeys: 3}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			versions++
		}
		if versions != len(oddKeys) {
			t.Fatalf("%d versions", versions)
		}
	})
	t.Run("range", func(t *testing.T) {
		opts := minio.GetObjectOptions{}
		if err := opts.SetRange(2, 4); err != nil {
			t.Fatal(err)
		}
		obj, err := c.GetObject(ctx, "mini", "a", opts)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj)
		obj.Close()
		if string(b) != "nio" {
			t.Fatalf("%q", b)
		}
	})
	t.Run("copy and remove", func(t *testing.T) {
		_, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mini", Object: "copied"}, minio.CopySrcOptions{Bucket: "mini", Object: "sp ace"})
		if err != nil {
			t.Fatal(err)
		}
		obj, _ := c.GetObject(ctx, "mini", "copied", minio.GetObjectOptions{})
		b, _ := io.ReadAll(obj)
		obj.Close()
		if string(b) != "minio sp ace" {
			t.Fatalf("%q", b)
		}
		if err := c.RemoveObject(ctx, "mini", "copied", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		ch := make(chan minio.ObjectInfo, len(oddKeys))
		for _, k := range oddKeys {
			ch <- minio.ObjectInfo{Key: k}
		}
		close(ch)
		for rerr := range c.RemoveObjects(ctx, "mini", ch, minio.RemoveObjectsOptions{}) {
			t.Fatalf("remove %q: %v", rerr.ObjectName, rerr.Err)
		}
		n := 0
		for o := range c.ListObjects(ctx, "mini", minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			n++
		}
		if n != 0 {
			t.Fatalf("%d keys left", n)
		}
		if err := c.RemoveBucket(ctx, "mini"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("error codes", func(t *testing.T) {
		// (HEAD answers carry no body: minio-go guesses the code from the
		// status, so StatObject is not used here.)
		for o := range c.ListObjects(ctx, "nosuch", minio.ListObjectsOptions{}) {
			if minio.ToErrorResponse(o.Err).Code != "NoSuchBucket" {
				t.Fatalf("%v", o.Err)
			}
		}
		_, err := c.PutObject(ctx, "nosuch", "k", bytes.NewReader(nil), 0, minio.PutObjectOptions{})
		if minio.ToErrorResponse(err).Code != "NoSuchBucket" {
			t.Fatalf("%v", err)
		}
	})
}
