package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

func client(srv *gatewaytest.Server) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(gatewaytest.AccessKey, gatewaytest.SecretKey, ""),
	})
}

// blobFiles counts content-addressed blob files under the disk backend.
func blobFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(filepath.Join(dir, "blobs", "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out[d.Name()] = true
		}
		return nil
	})
	return out
}

func sha(b []byte) string { s := sha256.Sum256(b); return fmt.Sprintf("%x", s) }

func TestGCDeletesOnlyUnreferencedBlobs(t *testing.T) {
	ctx := context.Background()
	srv := gatewaytest.Start(t, gateway.Config{GCInterval: -1})
	c := client(srv)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("gcrepo")}))
	must(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tmp.gcrepo")}))
	keep, onBranch, removed, tagged := []byte("kept on main"), []byte("only on the deleted branch"), []byte("removed version"), []byte("removed but tagged")
	must(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("gcrepo"), Key: aws.String("keep"), Body: bytes.NewReader(keep)}))
	must(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tmp.gcrepo"), Key: aws.String("x"), Body: bytes.NewReader(onBranch)}))
	tr, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("gcrepo"), Key: aws.String("tagged"), Body: bytes.NewReader(tagged)})
	must(tr, err)
	if _, err := srv.Meta.CreateTag(ctx, "gcrepo", "hold", "main"); err != nil {
		t.Fatal(err)
	}
	pr, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("gcrepo"), Key: aws.String("bad"), Body: bytes.NewReader(removed)})
	must(pr, err)
	// An overwritten version stays referenced by history.
	must(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("gcrepo"), Key: aws.String("keep"), Body: strings.NewReader("v2")}))

	if err := srv.Meta.DeleteBranch(ctx, "gcrepo", "tmp", true); err != nil {
		t.Fatal(err)
	}
	// Version removal (S3's DeleteObject with a versionId) leaves the bytes
	// to GC: "bad" was written after the tag, so nothing keeps it; the tag
	// keeps "tagged" alive.
	must(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("gcrepo"), Key: aws.String("bad"), VersionId: pr.VersionId}))
	must(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("gcrepo"), Key: aws.String("tagged"), VersionId: tr.VersionId}))
	if !blobFiles(t, srv.DataDir)[sha(removed)] {
		t.Fatal("version removal deleted the blob at once (only GC or a purge may)")
	}
	// Retention 0: the deleted branch's commit is collected at once.
	res, err := srv.GC(ctx, gateway.GCOptions{Retention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	files := blobFiles(t, srv.DataDir)
	if files[sha(onBranch)] || files[sha(removed)] || !files[sha(tagged)] || !files[sha(keep)] || !files[sha([]byte("v2"))] {
		t.Fatalf("after gc %+v: blobs %v", res, files)
	}
	if res.CommitsDeleted < 1 || res.BlobsDeleted < 2 {
		t.Fatalf("gc deleted too little: %+v", res)
	}
	// The tag still reads the removed version.
	tout, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("hold.gcrepo"), Key: aws.String("tagged")})
	must(tout, err)
	if b, _ := io.ReadAll(tout.Body); string(b) != string(tagged) {
		t.Fatalf("tag read %q", b)
	}
	// Old version still readable.
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gcrepo"), Key: aws.String("keep")})
	must(out, err)
	b, _ := io.ReadAll(out.Body)
	if string(b) != "v2" {
		t.Fatalf("read %q", b)
	}
}

func TestGCUnderConcurrentWritesNeverDeletesReferencedBlobs(t *testing.T) {
	ctx := context.Background()
	srv := gatewaytest.Start(t, gateway.Config{GCInterval: -1})
	c := client(srv)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("busy")}); err != nil {
		t.Fatal(err)
	}
	type ack struct{ key, version, sum string }
	var mu sync.Mutex
	var acks []ack
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				// Half the writes reuse content that GC would otherwise find
				// unreferenced (the key was overwritten), to race dedup.
				body := []byte(fmt.Sprintf("w%d-%d", w, i%7))
				key := fmt.Sprintf("k%d", (w*1000+i)%20)
				out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("busy"), Key: aws.String(key), Body: bytes.NewReader(body)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acks = append(acks, ack{key, *out.VersionId, sha(body)})
				mu.Unlock()
			}
		}(w)
	}
	for i := 0; i < 15; i++ {
		if _, err := srv.GC(ctx, gateway.GCOptions{Retention: time.Nanosecond}); err != nil {
			t.Error(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}
	srv.GC(ctx, gateway.GCOptions{Retention: time.Nanosecond})
	for _, a := range acks {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("busy"), Key: aws.String(a.key), VersionId: aws.String(a.version)})
		if err != nil {
			t.Fatalf("acknowledged version %s of %s unreadable after gc: %v", a.version, a.key, err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if sha(b) != a.sum {
			t.Fatalf("version %s of %s has wrong bytes", a.version, a.key)
		}
	}
	t.Logf("%d acknowledged writes verified after 16 concurrent gc runs", len(acks))
}
