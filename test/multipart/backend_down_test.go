package multipart

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	blobs3 "github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/gateway"
)

// TestBackendDown: when the S3 backing store goes away, writes and reads of
// bytes answer 503 ServiceUnavailable at once (clients retry 5xx), nothing
// is committed, and metadata-only calls keep working.
func TestBackendDown(t *testing.T) {
	const ak, sk = "downbackendaccess", "downbackendsecret123"
	ep, kill := startVersitygw(t, ak, sk)
	e := newEnv(t, gateway.Config{Backend: "s3", S3: blobs3.Config{Endpoint: ep, Bucket: "tusk-blobs", Region: "us-east-1",
		AccessKey: ak, SecretKey: sk}})
	e.mkBucket("down")
	ctx := ctxFor(t, 2*time.Minute)
	c := e.sdk(false)
	put := func(key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("down"), Key: aws.String(key), Body: bytes.NewReader([]byte("bytes of " + key))},
			func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
	if err := put("before"); err != nil {
		t.Fatal(err)
	}
	kill()
	want503 := func(what string, err error) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
			t.Fatalf("%s with the backend down: %v, want 503 ServiceUnavailable", what, err)
		}
	}
	start := time.Now()
	want503("PutObject", put("after"))
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the refusal took %v", d)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("down"), Key: aws.String("before")},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	if err == nil {
		_, err = io.ReadAll(out.Body)
		out.Body.Close()
		if err == nil {
			t.Fatal("GetObject read bytes from a backend that is down")
		}
	} else {
		want503("GetObject", err)
	}
	// Metadata still answers, and the refused write left nothing.
	lo, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("down")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lo.Versions) != 1 || aws.ToString(lo.Versions[0].Key) != "before" || len(lo.DeleteMarkers) != 0 {
		t.Fatalf("versions after a refused write: %+v", lo.Versions)
	}
}
