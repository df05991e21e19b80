package gateway_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// A version removed from every view loses its bytes at the next GC, while
// an ancestor commit still names it. Copying it out of that commit must
// fail, not make a new version (on a branch) whose bytes are gone.
func TestCopyFromCommitWhoseBytesGCFreedIsRefused(t *testing.T) {
	ctx := context.Background()
	srv := gatewaytest.Start(t, gateway.Config{GCInterval: -1})
	c := client(srv)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cpgc")}); err != nil {
		t.Fatal(err)
	}
	v1, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cpgc"), Key: aws.String("k"), Body: strings.NewReader("first version")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cpgc"), Key: aws.String("k"), Body: strings.NewReader("second")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("cpgc"), Key: aws.String("k"), VersionId: v1.VersionId}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.GC(ctx, gateway.GCOptions{Retention: 7 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if blobFiles(t, srv.DataDir)[sha([]byte("first version"))] {
		t.Fatal("GC kept the removed version's bytes: the premise of this test (they are gone) does not hold")
	}
	old := (*v1.VersionId)[:16] + ".cpgc"
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("cpgc"), Key: aws.String("copy"), CopySource: aws.String(old + "/k")})
	if err == nil {
		out, gerr := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cpgc"), Key: aws.String("copy")})
		if gerr == nil {
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			t.Logf("read %q", b)
		}
		t.Fatalf("copy of a version whose bytes are gone succeeded; reading the copy: %v", gerr)
	}
}
