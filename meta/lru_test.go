package meta

import (
	"fmt"
	"runtime"
	"testing"
)

// testNode builds the i-th node of a synthetic tree: leaves with entry-sized
// values and internal nodes with hashes, about targetNodeSize encoded, as
// putNodeIn caches them (decoded from their own encoding).
func testNode(i int, leaf bool) (Hash, *node) {
	n := &node{leaf: leaf}
	for k := 0; n.encodedSize() < targetNodeSize; k++ {
		n.keys = append(n.keys, []byte(fmt.Sprintf("data/dir%04d/file-%08d-%03d.bin", i%1000, i, k)))
		if leaf {
			n.vals = append(n.vals, []byte(fmt.Sprintf(`{"v":"%032x","t":"2026-12-07T20:57:21Z","c":"%064x","s":100,"e":"%032x"}`, i, k, i+k)))
		} else {
			var h Hash
			copy(h[:], fmt.Sprintf("%032d", i*1000+k))
			n.kids = append(n.kids, h)
		}
	}
	h, _, d := hashNodeDecoded(n)
	return h, d
}

func heapLive() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestNodeCacheBound: the accounted size never exceeds the bound, whatever
// is added, and evictions keep the accounting exact.
func TestNodeCacheBound(t *testing.T) {
	for _, max := range []int{1, 4 << 10, 1 << 20} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			c := newNodeCache(max)
			for i := 0; i < 3000; i++ {
				h, n := testNode(i, i%3 == 0)
				c.add(h, n)
				c.add(h, n) // again: no double count
				size, count := c.bytes()
				if size > max {
					t.Fatalf("after %d adds: %d bytes accounted, bound %d", i+1, size, max)
				}
				sum := 0
				if i%500 == 0 || i == 2999 {
					for e := c.ll.Front(); e != nil; e = e.Next() {
						sum += nodeMemSize(e.Value.(*cacheItem).n)
					}
					if sum != size || count != len(c.items) {
						t.Fatalf("accounted %d bytes / %d nodes, holds %d bytes / %d nodes", size, count, sum, len(c.items))
					}
				}
			}
		})
	}
}

// TestNodeCacheAccountingMatchesHeap: the bytes the cache accounts are the
// bytes it keeps alive on the heap (measured after GC), within 25%. The
// cache bound is therefore a bound on its memory, not on its encodings.
func TestNodeCacheAccountingMatchesHeap(t *testing.T) {
	for _, leaf := range []bool{true, false} {
		t.Run(fmt.Sprintf("leaf=%v", leaf), func(t *testing.T) {
			const max = 16 << 20
			c := newNodeCache(max)
			before := heapLive()
			for i := 0; ; i++ {
				h, n := testNode(i, leaf)
				if size, _ := c.bytes(); size+nodeMemSize(n) > max {
					break
				}
				c.add(h, n)
			}
			after := heapLive()
			size, count := c.bytes()
			ratio := float64(after-before) / float64(size)
			t.Logf("%d nodes: accounted %d KiB, heap grew %d KiB (ratio %.2f)", count, size>>10, (after-before)>>10, ratio)
			if ratio < 0.8 || ratio > 1.25 {
				t.Errorf("heap grew %d bytes for %d accounted (ratio %.2f, want 0.8-1.25)", after-before, size, ratio)
			}
			runtime.KeepAlive(c)
		})
	}
}

// TestCommitCacheBound: the commit cache keeps at most its bound, the most
// recently used ones, and Delete drops an entry.
func TestCommitCacheBound(t *testing.T) {
	c := newCommitCache(3)
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("repo/%d", i)
		c.Store(k, &Commit{ID: k})
		if _, ok := c.Load("repo/0"); !ok {
			t.Fatalf("after %d stores: the recently used repo/0 was evicted", i+1)
		}
		if c.Len() > 3 {
			t.Fatalf("after %d stores: %d cached, bound 3", i+1, c.Len())
		}
	}
	for k, want := range map[string]bool{"repo/0": true, "repo/9": true, "repo/8": true, "repo/7": false, "repo/1": false} {
		if _, ok := c.Load(k); ok != want {
			t.Errorf("Load(%s): cached %v, want %v", k, ok, want)
		}
	}
	c.Delete("repo/9")
	if _, ok := c.Load("repo/9"); ok || c.Len() != 2 {
		t.Errorf("after Delete: repo/9 still cached or Len %d != 2", c.Len())
	}
}
