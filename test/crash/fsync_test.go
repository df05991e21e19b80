package crash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

type syncKind int

const (
	fileSync syncKind = iota
	dirSync
	metaSync
)

// syncEvent is one fsync reported by a test hook, stamped with the global
// sequence number taken right after the sync returned.
type syncEvent struct {
	seq  int64
	kind syncKind
	path string // file or directory synced (blob syncs)
	sha  string // file syncs: SHA-256 of the synced file's content
	head int64  // meta syncs: first-parent depth of main's head after the sync (-1: unknown)
}

// syncLog records sync events from the hooks (called concurrently).
type syncLog struct {
	seq    atomic.Int64
	mu     sync.Mutex
	events []syncEvent
}

func (l *syncLog) add(e syncEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// putRecord is one PutObject as the client saw it.
type putRecord struct {
	key, version, sha string
	start, end        int64 // sequence numbers before sending, after the answer
	depth             int64
}

// TestFsyncBeforeAck proves through the injected sync hooks that every
// acknowledged PutObject was preceded, between its request and its answer,
// by (a) an fsync of a file holding exactly its bytes, (b) then an fsync of
// the directory its blob lives in (blobs/<hh>/<hh>/), and (c) then a
// metadata sync after which main's head was at or past its commit.
func TestFsyncBeforeAck(t *testing.T) {
	const (
		repo    = "fsync"
		puts    = 200
		clients = 16
	)
	log := &syncLog{}
	var srvp atomic.Pointer[gateway.Server]
	cfg := gateway.Config{
		OnBlobSync: func(p string, dir bool) {
			e := syncEvent{seq: log.seq.Add(1), kind: dirSync, path: p}
			if !dir {
				e.kind = fileSync
				// The file was just fsynced and is not yet renamed: hash what
				// is on disk now.
				if b, err := os.ReadFile(p); err == nil {
					s := sha256.Sum256(b)
					e.sha = hex.EncodeToString(s[:])
				}
			}
			log.add(e)
		},
		OnMetaSync: func() {
			e := syncEvent{seq: log.seq.Add(1), kind: metaSync, head: -1}
			// Runs on the committer goroutine after Sync: no commit can
			// happen meanwhile, so main's head now is what was synced.
			if s := srvp.Load(); s != nil {
				if r, err := s.Meta.Resolve(context.Background(), repo, "main"); err == nil {
					e.head = r.Commit.Depth
				}
			}
			log.add(e)
		},
	}
	srv := gatewaytest.Start(t, cfg)
	srvp.Store(srv.Server)
	drv, ok := srv.Blobs.Driver().(*disk.Driver)
	if !ok {
		t.Fatalf("blob driver is %T, want *disk.Driver", srv.Blobs.Driver())
	}
	blobRoot := drv.Root()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newClient(srv.URL, gatewaytest.AccessKey, gatewaytest.SecretKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}

	var (
		next    atomic.Int64
		mu      sync.Mutex
		records []putRecord
		wg      sync.WaitGroup
	)
	firstSeq := log.seq.Load()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for {
				i := next.Add(1) - 1
				if i >= puts {
					return
				}
				// Distinct random content: every PUT stores a new blob.
				body := make([]byte, 1+rng.IntN(64<<10))
				for j := 0; j+8 <= len(body); j += 8 {
					v := rng.Uint64()
					copy(body[j:], []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24), byte(v >> 32), byte(v >> 40), byte(v >> 48), byte(v >> 56)})
				}
				copy(body, fmt.Sprintf("put %d ", i))
				s := sha256.Sum256(body)
				rec := putRecord{key: fmt.Sprintf("k/%03d", i%50), sha: hex.EncodeToString(s[:])}
				rec.start = log.seq.Add(1)
				out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String(rec.key),
					Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
				rec.end = log.seq.Add(1)
				if err != nil {
					t.Errorf("PutObject %s: %v", rec.key, err)
					continue
				}
				rec.version = aws.ToString(out.VersionId)
				mu.Lock()
				records = append(records, rec)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	lastSeq := log.seq.Load()
	if len(records) != puts {
		t.Fatalf("%d of %d PUTs acknowledged", len(records), puts)
	}

	log.mu.Lock()
	events := append([]syncEvent(nil), log.events...)
	log.mu.Unlock()
	sort.Slice(events, func(i, j int) bool { return events[i].seq < events[j].seq })

	var nFile, nDir, nMeta int
	for _, e := range events {
		if e.seq <= firstSeq || e.seq > lastSeq {
			continue
		}
		switch e.kind {
		case fileSync:
			nFile++
		case dirSync:
			nDir++
		case metaSync:
			nMeta++
		}
	}

	covered := 0
	for _, r := range records {
		cm, err := srv.Meta.GetCommit(ctx, repo, r.version)
		if err != nil {
			t.Errorf("PUT %s: version %s is not a commit: %v", r.key, r.version, err)
			continue
		}
		r.depth = cm.Depth
		blobDir := filepath.Join(blobRoot, filepath.FromSlash(path.Dir(blob.Key(r.sha))))
		if b, err := os.ReadFile(filepath.Join(blobDir, r.sha)); err != nil {
			t.Errorf("PUT %s version %s: blob file: %v", r.key, r.version, err)
			continue
		} else if s := sha256.Sum256(b); hex.EncodeToString(s[:]) != r.sha {
			t.Errorf("PUT %s version %s: blob file %s holds other bytes", r.key, r.version, r.sha)
			continue
		}
		// (a) the bytes were fsynced in a file after the request started;
		f := first(events, func(e syncEvent) bool {
			return e.kind == fileSync && e.sha == r.sha && e.seq > r.start && e.seq < r.end
		})
		if f == nil {
			t.Errorf("PUT %s version %s answered (seq %d..%d) with no fsync of a file holding its bytes before the answer",
				r.key, r.version, r.start, r.end)
			continue
		}
		// (b) then the blob's directory blobs/<hh>/<hh> was fsynced (the
		// rename into place is durable);
		d := first(events, func(e syncEvent) bool {
			return e.kind == dirSync && e.path == blobDir && e.seq > f.seq && e.seq < r.end
		})
		if d == nil {
			t.Errorf("PUT %s version %s answered with no fsync of the blob's directory %s between its file sync (seq %d) and the answer (seq %d)",
				r.key, r.version, blobDir, f.seq, r.end)
			continue
		}
		// (c) then metadata was synced with the commit in it.
		m := first(events, func(e syncEvent) bool {
			return e.kind == metaSync && e.seq > d.seq && e.seq < r.end && e.head >= r.depth
		})
		if m == nil {
			t.Errorf("PUT %s version %s (depth %d) answered at seq %d with no metadata sync holding its commit after its blob's directory sync (seq %d)",
				r.key, r.version, r.depth, r.end, d.seq)
			continue
		}
		covered++
	}
	t.Logf("%d PUTs from %d clients, %d of %d acknowledged PUTs covered by file fsync -> blob dir fsync -> meta sync before the answer",
		puts, clients, covered, len(records))
	t.Logf("sync events during the PUTs: %d file fsyncs, %d directory fsyncs, %d metadata syncs (%.2f commits per metadata sync)",
		nFile, nDir, nMeta, float64(puts)/float64(max(nMeta, 1)))
	if covered != len(records) {
		t.Errorf("%d acknowledged PUTs lack a durable chain of syncs before their answer", len(records)-covered)
	}
	if nMeta > puts {
		t.Errorf("%d metadata syncs for %d PUTs: more than one per commit", nMeta, puts)
	}
	if nMeta == puts {
		t.Logf("note: no group commit happened (one metadata sync per PUT)")
	}
}

// first returns the earliest event that satisfies ok, or nil.
func first(events []syncEvent, ok func(syncEvent) bool) *syncEvent {
	for i := range events {
		if ok(events[i]) {
			return &events[i]
		}
	}
	return nil
}
