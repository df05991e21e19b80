package meta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/tusk-data/tusk/internal/errs"
)

// Hash identifies a tree node: the SHA-256 of its encoding. The zero Hash is
// the empty tree.
type Hash [32]byte

// IsZero reports whether h is the empty tree.
func (h Hash) IsZero() bool { return h == Hash{} }

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Node size bounds (bytes of encoding). A node is split when it grows past
// maxNodeSize and merged with a sibling when it shrinks below minNodeSize.
// A one-key commit rewrites one node per level of its two trees, so these
// bound its metadata bytes: about 12 KiB at 1M keys
// (TestOneKeyCommitWritesOnePath; 8 KiB nodes wrote 26 KiB).
const (
	maxNodeSize    = 2 << 10
	targetNodeSize = 1 << 10
	minNodeSize    = 256
)

// node is a decoded B+-tree node. In a leaf, vals[i] is the value of
// keys[i]; in an internal node, keys[i] is the first key of child kids[i].
type node struct {
	leaf bool
	keys [][]byte
	vals [][]byte
	kids []Hash
	size int // encoded size
}

func (n *node) entrySize(i int) int {
	s := uvarintLen(len(n.keys[i])) + len(n.keys[i])
	if n.leaf {
		s += uvarintLen(len(n.vals[i])) + len(n.vals[i])
	} else {
		s += 32
	}
	return s
}

func uvarintLen(x int) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// encodedSize is the length of n's encoding.
func (n *node) encodedSize() int {
	size := 1 + uvarintLen(len(n.keys))
	for i := range n.keys {
		size += n.entrySize(i)
	}
	return size
}

func (n *node) encode() []byte {
	b, _ := n.encodeDecoded()
	return b
}

// encodeDecoded returns n's encoding, allocated once at its exact size,
// and the node as decodeNode would return it from that encoding (its keys
// and values are slices of the encoding, not of n's), without parsing it
// again.
func (n *node) encodeDecoded() ([]byte, *node) {
	size := n.encodedSize()
	buf := make([]byte, 0, size)
	d := &node{leaf: n.leaf, size: size, keys: make([][]byte, len(n.keys))}
	if n.leaf {
		buf = append(buf, 0)
		d.vals = make([][]byte, len(n.keys))
	} else {
		buf = append(buf, 1)
		d.kids = append([]Hash(nil), n.kids...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(n.keys)))
	for i, k := range n.keys {
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		p := len(buf)
		buf = append(buf, k...)
		d.keys[i] = buf[p:len(buf):len(buf)]
		if n.leaf {
			v := n.vals[i]
			buf = binary.AppendUvarint(buf, uint64(len(v)))
			p = len(buf)
			buf = append(buf, v...)
			d.vals[i] = buf[p:len(buf):len(buf)]
		} else {
			buf = append(buf, n.kids[i][:]...)
		}
	}
	return buf, d
}

func decodeNode(b []byte) (*node, error) {
	bad := func(what string) error {
		return errs.E("meta.decodeNode", errs.Internal, "corrupt tree node: %s", what)
	}
	if len(b) < 2 {
		return nil, bad("short")
	}
	n := &node{leaf: b[0] == 0, size: len(b)}
	p := 1
	cnt, l := binary.Uvarint(b[p:])
	if l <= 0 {
		return nil, bad("count")
	}
	p += l
	if cnt > uint64(len(b)) {
		return nil, bad("count")
	}
	n.keys = make([][]byte, 0, cnt)
	if n.leaf {
		n.vals = make([][]byte, 0, cnt)
	} else {
		n.kids = make([]Hash, 0, cnt)
	}
	for i := uint64(0); i < cnt; i++ {
		var k, v []byte
		var ok bool
		if k, p, ok = lenPrefixed(b, p); !ok {
			return nil, bad("key")
		}
		n.keys = append(n.keys, k)
		if n.leaf {
			if v, p, ok = lenPrefixed(b, p); !ok {
				return nil, bad("value")
			}
			n.vals = append(n.vals, v)
		} else {
			if len(b)-p < 32 {
				return nil, bad("child")
			}
			var h Hash
			copy(h[:], b[p:p+32])
			n.kids = append(n.kids, h)
			p += 32
		}
	}
	if p != len(b) {
		return nil, bad("trailing bytes")
	}
	return n, nil
}

// lenPrefixed reads a uvarint length at b[p:] and that many bytes after
// it: the bytes and the position past them; ok false when b is too short.
func lenPrefixed(b []byte, p int) (v []byte, next int, ok bool) {
	n, l := binary.Uvarint(b[p:])
	if l <= 0 || uint64(len(b)-p-l) < n {
		return nil, p, false
	}
	p += l
	return b[p : p+int(n)], p + int(n), true
}

// nodeSource reads nodes by hash; nodeSink stores new nodes. The committer
// implements both over its KV transaction; readers over a read txn.
type nodeSource interface {
	getNode(h Hash) (*node, error)
}

type nodeSink interface {
	nodeSource
	putNode(n *node) (Hash, error)
}

// Mut is one change to a tree: set Key to Val, or delete Key when Val is nil.
type Mut struct {
	Key []byte
	Val []byte
}

// child is a (first key, hash, encoded size) triple produced while rebuilding.
type child struct {
	first []byte
	hash  Hash
	size  int
}

// treeGet returns the value of key in the tree at root, or nil, false.
func treeGet(src nodeSource, root Hash, key []byte) ([]byte, bool, error) {
	h := root
	for !h.IsZero() {
		n, err := src.getNode(h)
		if err != nil {
			return nil, false, err
		}
		if n.leaf {
			i := sort.Search(len(n.keys), func(i int) bool { return bytes.Compare(n.keys[i], key) >= 0 })
			if i < len(n.keys) && bytes.Equal(n.keys[i], key) {
				return n.vals[i], true, nil
			}
			return nil, false, nil
		}
		h = n.kids[childFor(n, key)]
	}
	return nil, false, nil
}

// childFor returns the index of the child of internal node n whose range
// holds key (keys before the first child's first key go to child 0).
func childFor(n *node, key []byte) int {
	i := sort.Search(len(n.keys), func(i int) bool { return bytes.Compare(n.keys[i], key) > 0 })
	if i > 0 {
		i--
	}
	return i
}

// treeApply applies muts (sorted by key, unique) to the tree at root and
// returns the new root. Only nodes on the paths to changed keys are
// rewritten: O(len(muts) x log n) node writes at most.
func treeApply(dst nodeSink, root Hash, muts []Mut) (Hash, error) {
	if len(muts) == 0 {
		return root, nil
	}
	for i := 1; i < len(muts); i++ {
		if bytes.Compare(muts[i-1].Key, muts[i].Key) >= 0 {
			return root, errs.E("meta.treeApply", errs.Internal, "mutations not sorted and unique")
		}
	}
	var kids []child
	var err error
	if root.IsZero() {
		n := &node{leaf: true}
		kids, err = applyLeaf(dst, n, muts)
	} else {
		n, err2 := dst.getNode(root)
		if err2 != nil {
			return root, err2
		}
		kids, err = applyNode(dst, n, muts)
	}
	if err != nil {
		return root, err
	}
	// Grow: while more than one node, build a level above.
	for len(kids) > 1 {
		kids, err = chunkInternal(dst, kids)
		if err != nil {
			return root, err
		}
	}
	if len(kids) == 0 {
		return Hash{}, nil
	}
	// Shrink: an internal root with a single child is replaced by it.
	h := kids[0].hash
	for {
		n, err := dst.getNode(h)
		if err != nil {
			return root, err
		}
		if n.leaf || len(n.kids) != 1 {
			if n.leaf && len(n.keys) == 0 {
				return Hash{}, nil
			}
			return h, nil
		}
		h = n.kids[0]
	}
}

func applyNode(dst nodeSink, n *node, muts []Mut) ([]child, error) {
	if n.leaf {
		return applyLeaf(dst, n, muts)
	}
	// Partition muts among children.
	out := make([]child, 0, len(n.kids)+1)
	mi := 0
	for ci := range n.kids {
		j := mi
		if ci+1 < len(n.kids) {
			for j < len(muts) && bytes.Compare(muts[j].Key, n.keys[ci+1]) < 0 {
				j++
			}
		} else {
			j = len(muts)
		}
		if j == mi {
			out = append(out, child{first: n.keys[ci], hash: n.kids[ci], size: -1})
			continue
		}
		cn, err := dst.getNode(n.kids[ci])
		if err != nil {
			return nil, err
		}
		sub, err := applyNode(dst, cn, muts[mi:j])
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
		mi = j
	}
	out, err := mergeUnderfull(dst, out)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return chunkInternal(dst, out)
}

// mergeUnderfull merges every rebuilt child smaller than minNodeSize with a
// neighbour (all children of one parent are on the same level). Each pass
// either removes a child or leaves only children of at least minNodeSize,
// so it terminates.
func mergeUnderfull(dst nodeSink, kids []child) ([]child, error) {
	for len(kids) >= 2 {
		i := -1
		for k := range kids {
			if kids[k].size >= 0 && kids[k].size < minNodeSize {
				i = k
				break
			}
		}
		if i < 0 {
			return kids, nil
		}
		a, b := i, i+1
		if b == len(kids) {
			a, b = i-1, i
		}
		na, err := dst.getNode(kids[a].hash)
		if err != nil {
			return nil, err
		}
		nb, err := dst.getNode(kids[b].hash)
		if err != nil {
			return nil, err
		}
		m := &node{leaf: na.leaf}
		m.keys = append(append(m.keys, na.keys...), nb.keys...)
		if m.leaf {
			m.vals = append(append(m.vals, na.vals...), nb.vals...)
		} else {
			m.kids = append(append(m.kids, na.kids...), nb.kids...)
		}
		repl, err := chunk(dst, m)
		if err != nil {
			return nil, err
		}
		if len(repl) > 1 {
			for k := range repl {
				if repl[k].size < minNodeSize {
					repl[k].size = minNodeSize // chunk keeps every part of a split large enough
				}
			}
		}
		rest := append([]child{}, kids[b+1:]...)
		kids = append(append(kids[:a], repl...), rest...)
	}
	return kids, nil
}

func applyLeaf(dst nodeSink, n *node, muts []Mut) ([]child, error) {
	m := &node{leaf: true, keys: make([][]byte, 0, len(n.keys)+len(muts)), vals: make([][]byte, 0, len(n.keys)+len(muts))}
	i, j := 0, 0
	for i < len(n.keys) || j < len(muts) {
		switch {
		case j == len(muts) || (i < len(n.keys) && bytes.Compare(n.keys[i], muts[j].Key) < 0):
			m.keys = append(m.keys, n.keys[i])
			m.vals = append(m.vals, n.vals[i])
			i++
		case i == len(n.keys) || bytes.Compare(muts[j].Key, n.keys[i]) < 0:
			if muts[j].Val != nil {
				m.keys = append(m.keys, muts[j].Key)
				m.vals = append(m.vals, muts[j].Val)
			}
			j++
		default: // equal
			if muts[j].Val != nil {
				m.keys = append(m.keys, muts[j].Key)
				m.vals = append(m.vals, muts[j].Val)
			}
			i++
			j++
		}
	}
	if len(m.keys) == 0 {
		return nil, nil
	}
	return chunk(dst, m)
}

func chunkInternal(dst nodeSink, kids []child) ([]child, error) {
	m := &node{leaf: false, keys: make([][]byte, 0, len(kids)), kids: make([]Hash, 0, len(kids))}
	for _, k := range kids {
		m.keys = append(m.keys, k.first)
		m.kids = append(m.kids, k.hash)
	}
	return chunk(dst, m)
}

// chunk splits the entries of m into nodes of about targetNodeSize when m
// is larger than maxNodeSize, stores them and returns them as children.
func chunk(dst nodeSink, m *node) ([]child, error) {
	total := 16
	for i := range m.keys {
		total += m.entrySize(i)
	}
	parts := 1
	if total > maxNodeSize {
		parts = (total + targetNodeSize - 1) / targetNodeSize
	}
	per := total / parts
	var out []child
	start, acc := 0, 0
	emit := func(end int) error {
		n := &node{leaf: m.leaf, keys: m.keys[start:end]}
		if m.leaf {
			n.vals = m.vals[start:end]
		} else {
			n.kids = m.kids[start:end]
		}
		h, err := dst.putNode(n)
		if err != nil {
			return err
		}
		out = append(out, child{first: n.keys[0], hash: h, size: n.size})
		start, acc = end, 0
		return nil
	}
	consumed := 16
	for i := range m.keys {
		es := m.entrySize(i)
		acc += es
		consumed += es
		if acc >= per && len(out) < parts-1 && i+1 < len(m.keys) && total-consumed >= minNodeSize {
			if err := emit(i + 1); err != nil {
				return nil, err
			}
		}
	}
	if start < len(m.keys) {
		if err := emit(len(m.keys)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hashNode encodes n, sets its size and returns its hash and encoding.
func hashNode(n *node) (Hash, []byte) {
	b := n.encode()
	n.size = len(b)
	return sha256.Sum256(b), b
}

// hashNodeDecoded is hashNode that also returns the node decoded from its
// encoding (see encodeDecoded), for the node cache.
func hashNodeDecoded(n *node) (Hash, []byte, *node) {
	b, d := n.encodeDecoded()
	n.size = len(b)
	return sha256.Sum256(b), b, d
}

// cursor iterates a tree in key order.
type cursor struct {
	src   nodeSource
	stack []frame
	err   error
	// lazy cursors (used by diff) may rest at an internal frame: they stand
	// at the start of the child subtree kids[i] without having loaded it, so
	// that equal subtrees are skipped unread.
	lazy bool
}

type frame struct {
	n *node
	i int
}

// seekLazy is seek for a lazy cursor (see cursor.lazy).
func seekLazy(src nodeSource, root Hash, key []byte) *cursor {
	c := &cursor{src: src, lazy: true}
	c.position(root, key)
	return c
}

// seek positions a new cursor at the first key >= key.
func seek(src nodeSource, root Hash, key []byte) *cursor {
	c := &cursor{src: src}
	c.position(root, key)
	return c
}

func (c *cursor) position(root Hash, key []byte) {
	src := c.src
	if root.IsZero() {
		return
	}
	h := root
	for {
		n, err := src.getNode(h)
		if err != nil {
			c.err = err
			c.stack = nil
			return
		}
		if n.leaf {
			i := sort.Search(len(n.keys), func(i int) bool { return bytes.Compare(n.keys[i], key) >= 0 })
			c.stack = append(c.stack, frame{n, i})
			break
		}
		i := childFor(n, key)
		c.stack = append(c.stack, frame{n, i})
		h = n.kids[i]
	}
	c.settle()
}

// settle moves the cursor forward until it rests on a valid leaf entry or
// the end.
func (c *cursor) settle() {
	for len(c.stack) > 0 {
		top := &c.stack[len(c.stack)-1]
		if top.i < len(top.n.keys) {
			if top.n.leaf || c.lazy {
				return
			}
			if !c.push() {
				return
			}
			continue
		}
		c.stack = c.stack[:len(c.stack)-1]
		if len(c.stack) > 0 {
			c.stack[len(c.stack)-1].i++
		}
	}
}

func (c *cursor) valid() bool { return len(c.stack) > 0 }

// resting reports whether a lazy cursor stands at an unloaded subtree.
func (c *cursor) resting() bool { return len(c.stack) > 0 && !c.stack[len(c.stack)-1].n.leaf }

// descend loads the subtree a lazy cursor rests at, one level.
func (c *cursor) descend() {
	if c.push() {
		c.settle()
	}
}

// push loads the child the top frame stands at onto the stack; false,
// with c.err set and the cursor ended, when it cannot be read.
func (c *cursor) push() bool {
	top := c.stack[len(c.stack)-1]
	n, err := c.src.getNode(top.n.kids[top.i])
	if err != nil {
		c.err = err
		c.stack = nil
		return false
	}
	c.stack = append(c.stack, frame{n, 0})
	return true
}

func (c *cursor) key() []byte {
	t := c.stack[len(c.stack)-1]
	return t.n.keys[t.i]
}

func (c *cursor) val() []byte {
	t := c.stack[len(c.stack)-1]
	return t.n.vals[t.i]
}

func (c *cursor) next() {
	c.stack[len(c.stack)-1].i++
	c.settle()
}

// treeDiff calls fn for every key whose value differs between the trees at
// a and b (va nil: added in b; vb nil: removed in b), in key order, skipping
// subtrees whose hashes are equal. Keys outside [from, to) are not
// reported (to nil = no upper bound).
func treeDiff(src nodeSource, a, b Hash, from, to []byte, fn func(k, va, vb []byte) error) error {
	if a == b {
		return nil
	}
	ca, cb := seekLazy(src, a, from), seekLazy(src, b, from)
	for {
		if ca.err != nil {
			return ca.err
		}
		if cb.err != nil {
			return cb.err
		}
		// Skip shared subtrees: when both cursors stand at the start of
		// equal nodes at some level, jump both past them.
		skipShared(ca, cb)
		if ca.err != nil || cb.err != nil {
			continue
		}
		av, bv := ca.valid(), cb.valid()
		if av && ca.resting() && (!bv || bytes.Compare(ca.key(), cb.key()) <= 0) {
			ca.descend()
			continue
		}
		if bv && cb.resting() && (!av || bytes.Compare(cb.key(), ca.key()) <= 0) {
			cb.descend()
			continue
		}
		if !av && !bv {
			return nil
		}
		// k is the smaller of the two keys: at or past to, so is all
		// that is left of both trees.
		var k []byte
		switch {
		case av && (!bv || bytes.Compare(ca.key(), cb.key()) < 0):
			k = ca.key()
			if to != nil && bytes.Compare(k, to) >= 0 {
				return nil
			}
			if err := fn(k, ca.val(), nil); err != nil {
				return err
			}
			ca.next()
		case bv && (!av || bytes.Compare(cb.key(), ca.key()) < 0):
			k = cb.key()
			if to != nil && bytes.Compare(k, to) >= 0 {
				return nil
			}
			if err := fn(k, nil, cb.val()); err != nil {
				return err
			}
			cb.next()
		default:
			k = ca.key()
			if to != nil && bytes.Compare(k, to) >= 0 {
				return nil
			}
			if !bytes.Equal(ca.val(), cb.val()) {
				if err := fn(k, ca.val(), cb.val()); err != nil {
					return err
				}
			}
			ca.next()
			cb.next()
		}
	}
}

// skipShared advances both cursors past identical subtrees they both start
// at. Each cursor's frames record, per level, the node and the child index.
// When both cursors sit at index 0 of leaf... the check is done from the top:
// at the highest level where both stand on a child boundary with the same
// child hash and are at the first entry of everything below it, skip it.
func skipShared(ca, cb *cursor) {
	for ca.valid() && cb.valid() {
		ha, la := boundary(ca)
		hb, lb := boundary(cb)
		if ha == nil || hb == nil {
			return
		}
		// Find a common hash among the candidate subtrees both cursors start.
		found := false
		for i := len(ha) - 1; i >= 0 && !found; i-- {
			for j := len(hb) - 1; j >= 0; j-- {
				if ha[i] == hb[j] {
					skipFrame(ca, la[i])
					skipFrame(cb, lb[j])
					found = true
					break
				}
			}
		}
		if !found {
			return
		}
	}
}

// boundary returns, for every level at which the cursor stands at the very
// start of a subtree (all deeper frames at index 0), that subtree's hash and
// the frame index of its parent. Leaves are included as the hash of the leaf
// node when the cursor is at entry 0 of it.
func boundary(c *cursor) ([]Hash, []int) {
	var hs []Hash
	var ls []int
	if c.resting() {
		top := len(c.stack) - 1
		hs = append(hs, c.stack[top].n.kids[c.stack[top].i])
		ls = append(ls, top)
	}
	// Walk from the bottom up while frames below are at index 0.
	for lvl := len(c.stack) - 1; lvl >= 1; lvl-- {
		if c.stack[lvl].i != 0 {
			break
		}
		parent := c.stack[lvl-1]
		hs = append(hs, parent.n.kids[parent.i])
		ls = append(ls, lvl-1)
	}
	return hs, ls
}

// skipFrame moves the cursor past the child at frame lvl.
func skipFrame(c *cursor, lvl int) {
	c.stack = c.stack[:lvl+1]
	c.stack[lvl].i++
	c.settle()
}

// verifyTree checks the structural invariants of the tree at root (sorted
// keys, first keys matching, sizes bounded) and returns its key count. For
// tests.
func verifyTree(src nodeSource, root Hash) (int, error) {
	if root.IsZero() {
		return 0, nil
	}
	var prev []byte
	count := 0
	var walk func(h Hash, first []byte, depth int) (int, error)
	leafDepth := -1
	walk = func(h Hash, first []byte, depth int) (int, error) {
		n, err := src.getNode(h)
		if err != nil {
			return 0, err
		}
		if len(n.keys) == 0 {
			return 0, fmt.Errorf("empty node %s", h)
		}
		if first != nil && !bytes.Equal(first, n.keys[0]) {
			return 0, fmt.Errorf("node %s first key %q, parent says %q", h, n.keys[0], first)
		}
		if n.leaf {
			if leafDepth >= 0 && leafDepth != depth {
				return 0, fmt.Errorf("unbalanced: leaves at %d and %d", leafDepth, depth)
			}
			leafDepth = depth
			for _, k := range n.keys {
				if prev != nil && bytes.Compare(prev, k) >= 0 {
					return 0, fmt.Errorf("keys out of order: %q then %q", prev, k)
				}
				prev = k
				count++
			}
			return depth, nil
		}
		for i, kh := range n.kids {
			if _, err := walk(kh, n.keys[i], depth+1); err != nil {
				return 0, err
			}
		}
		return depth, nil
	}
	_, err := walk(root, nil, 0)
	return count, err
}
