package gateway_test

import (
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/gateway"
)

// A CompleteMultipartUpload retried while the first is still completing (a
// client that timed out, or whose connection a gateway kill cut, retries)
// answers the committed result: 200 with the same version and ETag, and one
// commit in all. A retry with another part list is NoSuchUpload, as on AWS.
func TestCompleteMultipartRetriedConcurrently(t *testing.T) {
	e := newMPEnv(t, gateway.Config{})
	if _, err := e.c.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String("retry")}); err != nil {
		t.Fatal(err)
	}
	before := e.head("retry", "main")
	for round := 0; round < 5; round++ {
		id := e.create("retry", "obj")
		parts := []types.CompletedPart{e.part("retry", "obj", id, 1, randBytes(uint64(round), 5*mib)),
			e.part("retry", "obj", id, 2, []byte("tail"))}
		const n = 6
		outs := make([]*s3.CompleteMultipartUploadOutput, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = e.complete("retry", "obj", id, parts)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: completion %d of %d: %v", round, i, n, errs[i])
			}
			if aws.ToString(outs[i].VersionId) != aws.ToString(outs[0].VersionId) || aws.ToString(outs[i].ETag) != aws.ToString(outs[0].ETag) {
				t.Fatalf("round %d: completion %d answered %s %s, completion 0 %s %s", round, i,
					aws.ToString(outs[i].VersionId), aws.ToString(outs[i].ETag), aws.ToString(outs[0].VersionId), aws.ToString(outs[0].ETag))
			}
		}
		// A later retry with the same parts: the same answer.
		again, err := e.complete("retry", "obj", id, parts)
		if err != nil || aws.ToString(again.VersionId) != aws.ToString(outs[0].VersionId) {
			t.Fatalf("round %d: retried completion: %+v %v", round, again, err)
		}
		// Another part list: NoSuchUpload.
		if _, err := e.complete("retry", "obj", id, parts[:1]); apiCode(err) != "NoSuchUpload" {
			t.Fatalf("round %d: completion with other parts: %v, want NoSuchUpload", round, err)
		}
	}
	// One commit per upload.
	c, err := e.srv.Meta.GetCommit(e.ctx, "retry", e.head("retry", "main"))
	if err != nil {
		t.Fatal(err)
	}
	log, err := e.srv.Meta.Log(e.ctx, c, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(log) - 1; log[len(log)-1].ID != before || got != 5 {
		t.Fatalf("%d commits for 5 completed uploads", got)
	}
}
