package recovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type ack struct {
	key, version, sha string
	at                time.Time // when the answer arrived
}

// TestOnlineBackupUnderWrites: `tusk backup` taken while writers PUT
// restores to a consistent state holding every write acknowledged before
// the backup started, byte-equal at its version id.
func TestOnlineBackupUnderWrites(t *testing.T) {
	bin := tuskBinary(t)
	data := t.TempDir()
	s := start(t, bin, data, "--meta-mirror-interval", "-1s", "--no-pipelines")
	c := s.client(accessKey, secretKey)
	s.tusk("repo", "create", "busy")

	var mu sync.Mutex
	var acks []ack
	var stop atomic.Bool
	var wg sync.WaitGroup
	const writers, maxPuts = 4, 400
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < maxPuts && !stop.Load(); i++ {
				key := fmt.Sprintf("w%d/k%03d", w, i%50) // keys get many versions
				body := []byte(fmt.Sprintf("writer %d put %d %s", w, i, bytes.Repeat([]byte("x"), i)))
				out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("busy"), Key: aws.String(key), Body: bytes.NewReader(body)})
				if err != nil {
					continue // unacknowledged: no claim either way
				}
				sum := sha256.Sum256(body)
				mu.Lock()
				acks = append(acks, ack{key, aws.ToString(out.VersionId), hex.EncodeToString(sum[:]), time.Now()})
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(700 * time.Millisecond)
	file := filepath.Join(t.TempDir(), "meta.dump")
	started := time.Now()
	s.tusk("backup", file)
	time.Sleep(300 * time.Millisecond) // writes go on after the backup too
	stop.Store(true)
	wg.Wait()
	s.kill()

	var before []ack
	for _, a := range acks {
		if a.at.Before(started) {
			before = append(before, a)
		}
	}
	if len(before) < 20 || len(before) == len(acks) {
		t.Fatalf("%d writes acknowledged before the backup started, %d in all: the test needs writes on both sides", len(before), len(acks))
	}

	if out, err := runTusk(bin, "", "restore", file, "--data-dir", data); err == nil {
		t.Fatalf("restore over an existing store was not refused:\n%s", out)
	}
	if out, err := runTusk(bin, "", "restore", file, "--data-dir", data, "--force"); err != nil {
		t.Fatalf("restore --force: %v\n%s", err, out)
	}
	trunc := filepath.Join(t.TempDir(), "cut.dump")
	b, _ := os.ReadFile(file)
	os.WriteFile(trunc, b[:len(b)-10], 0o600)
	// A truncated file fails the restore and changes nothing: the store
	// just restored stays in place (the checks below read it).
	if out, err := runTusk(bin, "", "restore", trunc, "--data-dir", data, "--force"); err == nil {
		t.Fatalf("a truncated backup was restored:\n%s", out)
	}

	s = start(t, bin, data, "--meta-mirror-interval", "-1s", "--no-pipelines")
	c = s.client(accessKey, secretKey)
	for _, a := range before {
		sum, err := getSHA(c, "busy", a.key, a.version)
		if err != nil || sum != a.sha {
			t.Errorf("%s@%s acknowledged before the backup: %v (sha %s, want %s)", a.key, a.version, err, sum, a.sha)
		}
	}
	// Consistent: every version the restored store lists reads back, and
	// is one of the writes made.
	made := map[string]string{}
	for _, a := range acks {
		made[a.key+"@"+a.version] = a.sha
	}
	var km, vm *string
	n := 0
	for {
		out, err := c.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String("busy"), KeyMarker: km, VersionIdMarker: vm})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			n++
			id := aws.ToString(v.Key) + "@" + aws.ToString(v.VersionId)
			sum, err := getSHA(c, "busy", aws.ToString(v.Key), aws.ToString(v.VersionId))
			if want, ok := made[id]; err != nil || (ok && sum != want) {
				t.Errorf("restored version %s: %v (sha %s, want %s)", id, err, sum, want)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		km, vm = out.NextKeyMarker, out.NextVersionIdMarker
	}
	if n < len(before) {
		t.Errorf("the restored store lists %d versions, fewer than the %d acknowledged before the backup", n, len(before))
	}
	t.Logf("%d writes acknowledged before the backup, %d in all; %d versions restored", len(before), len(acks), n)
}
