package meta

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/meta/kv/memkv"
)

// writeCounter is a kv.Store that counts what write transactions set:
// tree nodes and bytes (keys and values of every record). It keeps tree
// nodes in a map, not in the store beneath (so that building a 1M-key
// repo is fast): nodes are immutable and content-addressed, and nothing in
// the test deletes or scans them, so every snapshot may see them all.
type writeCounter struct {
	kv.Store
	mu        sync.Mutex
	nodes     int
	bytes     int
	nodeStore map[string][]byte
}

func newWriteCounter() *writeCounter {
	return &writeCounter{Store: memkv.New(kv.Limits{}), nodeStore: map[string][]byte{}}
}

func (c *writeCounter) Begin(write bool) (kv.Txn, error) {
	txn, err := c.Store.Begin(write)
	if err != nil {
		return txn, err
	}
	return &countTxn{Txn: txn, c: c}, nil
}

func (t *countTxn) Get(k []byte) ([]byte, error) {
	if bytes.HasPrefix(k, []byte(pNode)) {
		t.c.mu.Lock()
		defer t.c.mu.Unlock()
		if v, ok := t.c.nodeStore[string(k)]; ok {
			return v, nil
		}
		return nil, kv.NotFound("writeCounter.Get", k)
	}
	return t.Txn.Get(k)
}

// take returns the counts since the last take and resets them.
func (c *writeCounter) take() (nodes, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nodes, bytes = c.nodes, c.bytes
	c.nodes, c.bytes = 0, 0
	return nodes, bytes
}

type countTxn struct {
	kv.Txn
	c *writeCounter
}

func (t *countTxn) Set(k, v []byte) error {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if bytes.HasPrefix(k, []byte(pNode)) {
		t.c.nodes++
		t.c.nodeStore[string(k)] = v
	} else if err := t.Txn.Set(k, v); err != nil {
		return err
	}
	t.c.bytes += len(k) + len(v)
	return nil
}

// treeLevels is the number of levels of the tree at root (0: empty).
func treeLevels(src nodeSource, root Hash) (int, error) {
	levels := 0
	for h := root; !h.IsZero(); levels++ {
		n, err := src.getNode(h)
		if err != nil {
			return 0, err
		}
		if n.leaf {
			return levels + 1, nil
		}
		h = n.kids[0]
	}
	return levels, nil
}

var structure1M = flag.Bool("structure1m", true, "TestOneKeyCommitWritesOnePath also at 1M keys")

// Bounds of what a one-key commit writes, whatever the repo size: at most
// pathSlack nodes more than the levels of its two trees (a split node
// writes two, a new root one more), and at most maxCommitBytes of records.
const (
	pathSlack      = 3
	maxCommitBytes = 16 << 10
)

// TestOneKeyCommitWritesOnePath counts, not times, what a one-key commit
// writes into the store in repos of 1k, 100k and 1M keys: the tree nodes
// (at most the levels of the live and version trees plus pathSlack) and
// the bytes of every record set (nodes, commit, branch, clock: at most
// maxCommitBytes). The repos are built with bulk commits of up to 100k
// keys; each size is then measured over 20 one-key commits to keys spread
// over the repo, both overwrites and new keys.
func TestOneKeyCommitWritesOnePath(t *testing.T) {
	// Building the 1M-key repo allocates much and keeps little garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	sizes := []int{1000, 100_000, 1_000_000}
	if !*structure1M {
		sizes = sizes[:2]
	}
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := context.Background()
			wc := newWriteCounter()
			s, err := OpenStore(wc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const repo = "shape"
			if _, err := s.CreateRepo(ctx, repo, "t"); err != nil {
				t.Fatal(err)
			}
			e := Entry{Content: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 4096, ETag: "0123456789abcdef0123456789abcdef",
				Headers: map[string]string{"Content-Type": "application/octet-stream"}}
			const bulk = 100_000
			for i := 0; i < n; i += bulk {
				cs := make([]Change, 0, min(bulk, n-i))
				for j := i; j < i+bulk && j < n; j++ {
					cs = append(cs, Change{Key: fmt.Sprintf("data/%08d.bin", j*2), Entry: &e})
				}
				if _, err := s.Write(ctx, WriteRequest{Repo: repo, Branch: "main", Changes: cs}); err != nil {
					t.Fatal(err)
				}
			}
			wc.take()
			maxNodes, maxBytes, sumBytes, maxLevels := 0, 0, 0, 0
			const commits = 20
			for i := 0; i < commits; i++ {
				key := fmt.Sprintf("data/%08d.bin", (i*7919%n)*2+i%2) // odd: a new key
				if _, err := s.Write(ctx, WriteRequest{Repo: repo, Branch: "main", Changes: []Change{{Key: key, Entry: &e}}}); err != nil {
					t.Fatal(err)
				}
				nodes, b := wc.take()
				ref, err := s.Resolve(ctx, repo, "main")
				if err != nil {
					t.Fatal(err)
				}
				src := txnNodes{s, nil}
				lv, err := treeLevels(src, ref.Commit.Root)
				if err != nil {
					t.Fatal(err)
				}
				vv, err := treeLevels(src, ref.Commit.VRoot)
				if err != nil {
					t.Fatal(err)
				}
				if nodes > lv+vv+pathSlack {
					t.Errorf("commit %d wrote %d nodes; the trees have %d + %d levels", i, nodes, lv, vv)
				}
				maxNodes, maxBytes, maxLevels = max(maxNodes, nodes), max(maxBytes, b), max(maxLevels, lv+vv)
				sumBytes += b
			}
			t.Logf("%d keys: levels (live + version) %d; per one-key commit: at most %d nodes, %d bytes at most, %d on average",
				n, maxLevels, maxNodes, maxBytes, sumBytes/commits)
			if maxBytes > maxCommitBytes {
				t.Errorf("a one-key commit wrote %d bytes, more than %d", maxBytes, maxCommitBytes)
			}
		})
	}
}
