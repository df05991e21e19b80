package crash

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Admin keys given to every server these tests start.
const (
	accessKey = "TKCRASHADMINKEY00001"
	secretKey = "crash-test-secret-key-of-the-admin-0001"
)

// newClient returns an aws-sdk-go-v2 S3 client for the gateway at url
// (path-style, no retries: a request either got its answer or it did not).
func newClient(url, ak, sk string) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(ak, sk, ""),
		RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}},
	})
}

// readAll reads a GetObject body to its end and returns its size, MD5 and
// SHA-256 (hex).
func readAll(r io.ReadCloser) (n int64, md5hex, shahex string, err error) {
	defer r.Close()
	hm, hs := md5.New(), sha256.New()
	n, err = io.Copy(io.MultiWriter(hm, hs), r)
	return n, hex.EncodeToString(hm.Sum(nil)), hex.EncodeToString(hs.Sum(nil)), err
}

// getVersion reads key at versionID (or the latest when "") to its end.
func getVersion(ctx context.Context, c *s3.Client, bucket, key, versionID string) (size int64, md5hex, shahex, gotVersion, etag string, err error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return 0, "", "", "", "", err
	}
	size, md5hex, shahex, err = readAll(out.Body)
	if err != nil {
		return 0, "", "", "", "", fmt.Errorf("reading body: %w", err)
	}
	if out.ContentLength != nil && *out.ContentLength != size {
		return 0, "", "", "", "", fmt.Errorf("Content-Length %d but %d bytes read", *out.ContentLength, size)
	}
	return size, md5hex, shahex, aws.ToString(out.VersionId), unquote(aws.ToString(out.ETag)), nil
}

func unquote(s string) string { return strings.Trim(s, `"`) }
