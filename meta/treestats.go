package meta

import (
	"container/list"
	"context"
	"sync"
)

// TreeStats is what a live tree holds: its number of keys and the sum of
// their sizes in bytes.
type TreeStats struct {
	Objects int64
	Bytes   int64
}

// statsCacheEntries bounds the process-wide cache of per-node stats. An
// entry costs about 160 heap bytes (hash 32, stats 16, list element 48,
// cache item 16, map slot about 50), so the cache holds at most about 10 MiB.
// A 1M-key tree has about 50,000 leaves and 2,000 internal nodes: its stats
// fit whole.
const statsCacheEntries = 1 << 16

// treeStatsCache caches the stats of tree nodes by node hash. A node hash
// is the SHA-256 of the node's encoding, which holds its values (leaves) or
// its children's hashes (internal nodes): the stats of a hash are the same
// in every store, so one cache serves all the stores of the process and
// never needs invalidating.
var treeStatsCache = newStatsCache(statsCacheEntries)

// RootStats returns the number of keys and their total size in the live
// tree at root (a commit's Root). Keys whose current content was purged are
// counted with their recorded size.
//
// Cost: stats are cached per tree node (leaf and internal) in a bounded
// LRU keyed by node hash. The first call on a tree reads all of its nodes,
// O(keys). A later tree that shares subtrees with a cached one (any commit
// after it: a commit rewrites only the nodes on the paths to the keys it
// changed) reads only its new nodes and the cached stats of the shared
// subtrees: O(changed keys × tree depth) node reads, and a root already
// cached costs one cache lookup.
func (s *Store) RootStats(ctx context.Context, root Hash) (TreeStats, error) {
	st, _, err := rootStats(ctx, readNodes{s}, treeStatsCache, root)
	return st, err
}

// rootStats computes the stats of root through cache and reports how many
// nodes it read from src (for tests of the cache's effect).
func rootStats(ctx context.Context, src nodeSource, cache *statsCache, root Hash) (TreeStats, int, error) {
	reads := 0
	var walk func(h Hash) (TreeStats, error)
	walk = func(h Hash) (TreeStats, error) {
		if h.IsZero() {
			return TreeStats{}, nil
		}
		if st, ok := cache.get(h); ok {
			return st, nil
		}
		if err := ctxErr(ctx, "meta.RootStats"); err != nil {
			return TreeStats{}, err
		}
		n, err := src.getNode(h)
		if err != nil {
			return TreeStats{}, err
		}
		reads++
		var st TreeStats
		if n.leaf {
			for _, v := range n.vals {
				e, err := DecodeEntry(v)
				if err != nil {
					return TreeStats{}, err
				}
				if e.Deleted {
					continue
				}
				st.Objects++
				st.Bytes += e.Size
			}
		} else {
			for _, k := range n.kids {
				ks, err := walk(k)
				if err != nil {
					return TreeStats{}, err
				}
				st.Objects += ks.Objects
				st.Bytes += ks.Bytes
			}
		}
		cache.add(h, st)
		return st, nil
	}
	st, err := walk(root)
	return st, reads, err
}

// statsCache is a count-bounded LRU of node hash -> TreeStats.
type statsCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[Hash]*list.Element
}

type statsItem struct {
	h  Hash
	st TreeStats
}

func newStatsCache(max int) *statsCache {
	return &statsCache{max: max, ll: list.New(), items: map[Hash]*list.Element{}}
}

func (c *statsCache) get(h Hash) (TreeStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[h]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*statsItem).st, true
	}
	return TreeStats{}, false
}

// add caches st under h, evicting the least recently used entries past
// the bound.
func (c *statsCache) add(h Hash, st TreeStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[h]; ok {
		return
	}
	c.items[h] = c.ll.PushFront(&statsItem{h, st})
	for c.ll.Len() > c.max {
		e := c.ll.Back()
		c.ll.Remove(e)
		delete(c.items, e.Value.(*statsItem).h)
	}
}

func (c *statsCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
