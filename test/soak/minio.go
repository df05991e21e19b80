package soak

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// NewMinio returns a minio-go client for the gateway at base (path-style,
// one attempt per request, as the aws-sdk-go-v2 clients here).
func NewMinio(base string) (*minio.Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	return minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
		Transport:    &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second, ResponseHeaderTimeout: 90 * time.Second},
	})
}

// minioPut is put through minio-go: a single PUT, or (size past one part)
// minio-go's own multipart upload of a 5 MiB part and the rest.
func (l *load) minioPut(ctx context.Context, b *Branch, key string, body []byte, sha, op string) {
	w := l.m.begin(b, op, key, false, sha, int64(len(body)))
	info, err := l.mc.PutObject(ctx, b.Bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{PartSize: minPart})
	l.m.end(w, info.VersionID, err)
	l.done(op, "minio PutObject "+key+" on "+b.Name, err)
}

// minioGet reads key (at version, or the current one) whole through
// minio-go; a missing key is ("", nil, nil).
func (l *load) minioGet(ctx context.Context, b *Branch, key, version string) (string, []byte, error) {
	obj, err := l.mc.GetObject(ctx, b.Bucket, key, minio.GetObjectOptions{VersionID: version})
	if err != nil {
		return "", nil, err
	}
	defer obj.Close()
	// Read first: the first read sends the one GET and keeps its answer's
	// headers for Stat (Stat first would send a HEAD and the reads then a
	// GET conditional on its ETag, which a concurrent write fails with 412).
	body, err := io.ReadAll(obj)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" && version == "" {
			return "", nil, nil
		}
		return "", nil, err
	}
	st, err := obj.Stat()
	return st.VersionID, body, err
}

// minioList is list through minio-go (v2 or v1, recursive or by delimiter).
func (l *load) minioList(ctx context.Context, b *Branch, prefix string, rng *rand.Rand) {
	recursive := rng.IntN(2) == 0
	last := ""
	for o := range l.mc.ListObjects(ctx, b.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive,
		MaxKeys: 1 + rng.IntN(20), UseV1: rng.IntN(2) == 0}) {
		if o.Err != nil {
			l.done("list", "minio ListObjects "+prefix+" on "+b.Name, o.Err)
			return
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // a common prefix
		}
		if o.Key <= last {
			l.m.violation("LIST", "minio ListObjects %s on %s: key %q after %q", prefix, b.Name, o.Key, last)
		}
		last = o.Key
		if !recursive && strings.Contains(o.Key[len(prefix):], "/") {
			l.m.violation("LIST", "minio ListObjects %s on %s by delimiter: key %q", prefix, b.Name, o.Key)
		}
		if !strings.HasPrefix(o.Key, prefix) || !l.m.everWritten(b, o.Key) {
			l.m.violation("PHANTOM", "minio ListObjects %s on %s lists key %q that no write on the branch wrote", prefix, b.Name, o.Key)
		}
	}
	l.done("list", "", nil)
}
