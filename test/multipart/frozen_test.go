package multipart

import (
	"bytes"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	blobs3 "github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/internal/netfreeze"
)

// TestS3BackendFrozen: while the backing store is frozen (it accepts
// connections and never answers, as a SIGSTOPped process), a PUT or GET
// through the gateway answers 503 ServiceUnavailable within a bound of the
// s3 backend's timeout instead of hanging for as long as it is frozen; once
// the store thaws, writes go through again.
func TestS3BackendFrozen(t *testing.T) {
	const ak, sk = "frozenbackendaccess", "frozenbackendsecret1"
	ep := versitygw(t, ak, sk)
	u, err := url.Parse(ep)
	if err != nil {
		t.Fatal(err)
	}
	f, err := netfreeze.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := newEnv(t, gateway.Config{Backend: "s3", S3: blobs3.Config{Endpoint: f.Addr(), Bucket: "tusk-blobs", Region: "us-east-1",
		AccessKey: ak, SecretKey: sk, Timeout: 300 * time.Millisecond}})
	e.mkBucket("frozen")
	ctx := ctxFor(t, 2*time.Minute)
	c := e.sdk(false)
	once := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
	put := func(key string, body []byte) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("frozen"), Key: aws.String(key), Body: bytes.NewReader(body)}, once)
		return err
	}
	if err := put("before", []byte("kept")); err != nil {
		t.Fatal(err)
	}

	f.Freeze()
	const bound = 20 * time.Second
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"PUT", func() error { return put("small", []byte("while frozen")) }},
		{"PUT 8 MiB", func() error { return put("large", bytes.Repeat([]byte("z"), 8*mib)) }},
		{"GET", func() error {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("frozen"), Key: aws.String("before")}, once)
			if err == nil {
				out.Body.Close()
			}
			return err
		}},
	} {
		start := time.Now()
		err := tc.call()
		took := time.Since(start)
		var ae smithy.APIError
		var re *smithyhttp.ResponseError
		if !errors.As(err, &ae) || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
			t.Errorf("%s with the store frozen: %v, want 503", tc.name, err)
		} else {
			t.Logf("%s with the store frozen: %d %s after %v", tc.name, re.HTTPStatusCode(), ae.ErrorCode(), took.Round(time.Millisecond))
		}
		if took > bound {
			t.Errorf("%s with the store frozen took %v, want under %v", tc.name, took, bound)
		}
	}

	f.Thaw()
	if err := put("after", []byte("thawed")); err != nil {
		t.Fatalf("PUT after the store thawed: %v", err)
	}
}
