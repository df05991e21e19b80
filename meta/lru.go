package meta

import (
	"container/list"
	"sync"
)

// nodeCache is a byte-bounded LRU of decoded tree nodes. Nodes are
// immutable and content-addressed, so a cached node is always correct.
type nodeCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[Hash]*list.Element
}

type cacheItem struct {
	h Hash
	n *node
}

func newNodeCache(maxBytes int) *nodeCache {
	return &nodeCache{max: maxBytes, ll: list.New(), items: map[Hash]*list.Element{}}
}

func (c *nodeCache) get(h Hash) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[h]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheItem).n
	}
	return nil
}

func (c *nodeCache) add(h Hash, n *node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[h]; ok {
		return
	}
	c.items[h] = c.ll.PushFront(&cacheItem{h, n})
	c.size += n.size + 64
	for c.size > c.max && c.ll.Len() > 0 {
		e := c.ll.Back()
		it := e.Value.(*cacheItem)
		c.ll.Remove(e)
		delete(c.items, it.h)
		c.size -= it.n.size + 64
	}
}
