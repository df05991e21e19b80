package meta

import (
	"container/list"
	"sync"
)

// nodeCache is a byte-bounded LRU of decoded tree nodes. Nodes are
// immutable and content-addressed, so a cached node is always correct.
//
// The bound is on heap bytes, not encoded bytes: each node is charged
// nodeMemSize (its encoding plus the decoded node's slice headers and
// hashes plus the cache's own per-entry bookkeeping), so the cache's
// accounted size follows what it keeps alive on the Go heap
// (TestNodeCacheAccountingMatchesHeap checks it against a measured heap
// delta). Charging only the encoding left out about half of it: a cache
// "of 64 MiB" held about 135 MiB.
type nodeCache struct {
	mu    sync.Mutex
	max   int
	size  int // sum of nodeMemSize over the cached nodes; <= max after every add
	ll    *list.List
	items map[Hash]*list.Element
}

type cacheItem struct {
	h    Hash
	n    *node
	cost int
}

// Per-node heap costs beyond the encoding (64-bit): the node struct (88
// bytes, size class 96); per key a slice header (24) and, in a leaf, per
// value one more; in an internal node per child a Hash (32); and per cache
// entry a cacheItem (48), its list.Element (48) and the map's slot (key 32 +
// pointer 8, with the map's load factor and metadata about 64).
const (
	nodeStructBytes     = 96
	sliceHeaderBytes    = 24
	cacheEntryBytes     = 48 + 48 + 64
	allocRoundingFactor = 8 // Go's size classes waste up to 1/8 of an allocation
)

// nodeMemSize is what caching n costs on the heap, in bytes.
func nodeMemSize(n *node) int {
	b := n.size + len(n.keys)*sliceHeaderBytes + len(n.vals)*sliceHeaderBytes + len(n.kids)*len(Hash{})
	return nodeStructBytes + cacheEntryBytes + b + b/allocRoundingFactor
}

// newNodeCache returns a cache that keeps at most maxBytes (as nodeMemSize
// counts them).
func newNodeCache(maxBytes int) *nodeCache {
	return &nodeCache{max: maxBytes, ll: list.New(), items: map[Hash]*list.Element{}}
}

// get returns the cached node with hash h, or nil.
func (c *nodeCache) get(h Hash) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[h]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheItem).n
	}
	return nil
}

// add caches n under h (a no-op when h is cached already) and evicts the
// least recently used nodes until the cache is within its bound. A node
// larger than the whole bound is not cached.
func (c *nodeCache) add(h Hash, n *node) {
	cost := nodeMemSize(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[h]; ok || cost > c.max {
		return
	}
	c.items[h] = c.ll.PushFront(&cacheItem{h, n, cost})
	c.size += cost
	for c.size > c.max {
		e := c.ll.Back()
		it := e.Value.(*cacheItem)
		c.ll.Remove(e)
		delete(c.items, it.h)
		c.size -= it.cost
	}
}

// bytes returns the cache's accounted size and its number of nodes.
func (c *nodeCache) bytes() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size, c.ll.Len()
}

// commitCache is a count-bounded LRU of decoded commits ("repo/id" ->
// *Commit, immutable). It was an unbounded map: every commit a write read
// as its parent stayed cached, about 600 heap bytes per commit, so the
// gateway's memory grew with the number of commits ever made.
type commitCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type commitItem struct {
	k string
	c *Commit
}

// commitCacheSize is how many commits the cache keeps (a few MiB).
const commitCacheSize = 8192

func newCommitCache(max int) *commitCache {
	return &commitCache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// Load returns the cached commit k, if any.
func (c *commitCache) Load(k string) (*Commit, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*commitItem).c, true
	}
	return nil, false
}

// Store caches cm under k, evicting the least recently used commit when
// the cache is full.
func (c *commitCache) Store(k string, cm *Commit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.Value.(*commitItem).c = cm
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&commitItem{k, cm})
	for c.ll.Len() > c.max {
		e := c.ll.Back()
		c.ll.Remove(e)
		delete(c.items, e.Value.(*commitItem).k)
	}
}

// Delete drops k from the cache.
func (c *commitCache) Delete(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.Remove(e)
		delete(c.items, k)
	}
}

// Len is the number of cached commits.
func (c *commitCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
