package crash

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// TestCompleteRetriedAfterKill kills `tusk serve -9` while it completes a
// multipart upload (before, during or after the commit, by round) and
// retries the same completion after the restart, as an SDK does: the retry
// answers 200 with the object made (the same version when the first attempt
// was acknowledged), never NoSuchUpload; a completion with another part
// list is NoSuchUpload, as on AWS.
func TestCompleteRetriedAfterKill(t *testing.T) {
	bin := tuskBinary(t)
	dir := t.TempDir()
	p := startServer(t, bin, filepath.Join(dir, "data"), filepath.Join(dir, "serve-0.log"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := newClient(p.url, accessKey, secretKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mpk")}); err != nil {
		t.Fatal(err)
	}
	// The first round completes undisturbed to time a completion; the
	// others are killed across [0.3, 1.1] of that time.
	const rounds = 13
	var took time.Duration
	unacked := 0 // rounds whose completion committed but was not acknowledged
	for round := range rounds {
		key := fmt.Sprintf("obj%d", round)
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpk"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		var whole []byte
		var parts []types.CompletedPart
		for n, size := range []int{5 << 20, 5 << 20, 1000} {
			body := bytes.Repeat([]byte{byte(round), byte(n)}, size/2)
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpk"), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(n + 1)), Body: bytes.NewReader(body)})
			if err != nil {
				t.Fatal(err)
			}
			whole = append(whole, body...)
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(n + 1)), ETag: out.ETag})
		}
		complete := func(cl *s3.Client, ps []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
			return cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpk"), Key: aws.String(key),
				UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: ps}})
		}
		type answer struct {
			out *s3.CompleteMultipartUploadOutput
			err error
		}
		if round == 0 {
			start := time.Now()
			if _, err := complete(c, parts); err != nil {
				t.Fatal(err)
			}
			took = time.Since(start)
			continue
		}
		first := make(chan answer, 1)
		go func() {
			out, err := complete(c, parts)
			first <- answer{out, err}
		}()
		time.Sleep(time.Duration(float64(took) * (0.3 + 0.8*float64(round-1)/float64(rounds-2))))
		p.kill()
		a := <-first

		p = startServer(t, bin, filepath.Join(dir, "data"), filepath.Join(dir, fmt.Sprintf("serve-%d.log", round+1)))
		c = newClient(p.url, accessKey, secretKey)
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpk"), Key: aws.String(key)}); err == nil && a.err != nil {
			unacked++
		}
		again, err := complete(c, parts)
		if err != nil {
			t.Fatalf("round %d: retried completion after the kill (first attempt: %v): %v", round, a.err, err)
		}
		if a.err == nil && aws.ToString(again.VersionId) != aws.ToString(a.out.VersionId) {
			t.Fatalf("round %d: acknowledged version %s, the retry answered %s", round, aws.ToString(a.out.VersionId), aws.ToString(again.VersionId))
		}
		_, md5hex, _, _, _, err := getVersion(ctx, c, "mpk", key, aws.ToString(again.VersionId))
		if sum := md5.Sum(whole); err != nil || md5hex != hex.EncodeToString(sum[:]) {
			t.Fatalf("round %d: object at the answered version: %v (md5 %s)", round, err, md5hex)
		}
		_, err = complete(c, parts[:2])
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchUpload" {
			t.Fatalf("round %d: completion with another part list: %v, want NoSuchUpload", round, err)
		}
	}
	t.Logf("a completion takes %v; %d of %d killed completions had committed without an answer", took, unacked, rounds-1)
}
