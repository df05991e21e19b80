package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// Below the free-space floor, writes are refused with a clear error before
// anything is written (SPEC §9), and reads go on.
func TestWritesRefusedBelowFreeSpaceFloor(t *testing.T) {
	ctx := context.Background()
	srv := gatewaytest.Start(t, gateway.Config{GCInterval: -1, MinFree: 1 << 62})
	c := client(srv)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("full")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("full"), Key: aws.String("k"), Body: bytes.NewReader([]byte("data"))},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InsufficientStorage" || ae.ErrorMessage() == "" {
		t.Fatalf("PUT below the floor: %v, want 507 InsufficientStorage with a message", err)
	}
	t.Logf("refused with: %s", ae.ErrorMessage())
	lo, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("full")})
	if err != nil || len(lo.Versions)+len(lo.DeleteMarkers) != 0 {
		t.Fatalf("a refused write left versions: %+v %v", lo, err)
	}
	if files := blobFiles(t, srv.DataDir); len(files) != 0 {
		t.Fatalf("a refused write left blobs: %v", files)
	}
}
