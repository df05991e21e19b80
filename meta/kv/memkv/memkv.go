// Package memkv implements kv.Store in memory, for unit tests.
//
// Guarantees: the committed state is an immutable sorted structure
// (chunks of entries, copied on write), so a transaction's snapshot is a
// pointer that later commits never change: reads are snapshot-isolated.
// Write transactions are serialized: Begin(true) waits until the previous
// write transaction ended, so each one reads the latest committed state
// and commits never conflict (Commit never returns kv.ErrConflict). Read
// transactions never wait. Nothing is durable: Sync only checks that the
// store is open, and the data is gone when the process ends.
package memkv

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// entryOverhead is what one write costs beyond its key and value bytes in
// the transaction's byte budget.
const entryOverhead = 24

// DefaultLimits match badgerkv's defaults (15% of a 16 MiB memtable), so
// that code exercising transaction overflow behaves alike on both.
var DefaultLimits = kv.Limits{MaxTxnBytes: 16 << 20 * 15 / 100, MaxTxnEntries: (16 << 20 * 15 / 100) / 64, MaxValueBytes: 1 << 30}

// Store is an in-memory kv.Store.
type Store struct {
	cur    atomic.Pointer[tree]
	wmu    sync.Mutex // held by the open write transaction
	lim    kv.Limits
	closed atomic.Bool
	dump   dumpState // backup.go; guarded by wmu
}

var (
	_ kv.Store    = (*Store)(nil)
	_ kv.Dumper   = (*Store)(nil)
	_ kv.Txn      = (*txn)(nil)
	_ kv.Iterator = (*iter)(nil)
)

// New returns an empty store with the given limits (zero fields take
// DefaultLimits').
func New(lim kv.Limits) *Store {
	if lim.MaxTxnBytes == 0 {
		lim.MaxTxnBytes = DefaultLimits.MaxTxnBytes
	}
	if lim.MaxTxnEntries == 0 {
		lim.MaxTxnEntries = DefaultLimits.MaxTxnEntries
	}
	if lim.MaxValueBytes == 0 {
		lim.MaxValueBytes = DefaultLimits.MaxValueBytes
	}
	s := &Store{lim: lim}
	s.cur.Store(&tree{})
	return s
}

func (s *Store) Begin(write bool) (kv.Txn, error) {
	if s.closed.Load() {
		return nil, errs.E("memkv.Begin", errs.Invalid, "store is closed")
	}
	t := &txn{s: s, write: write}
	if write {
		s.wmu.Lock()
		t.pending = map[string]*[]byte{}
	}
	t.snap = s.cur.Load()
	return t, nil
}

func (s *Store) Sync(ctx context.Context) error {
	if s.closed.Load() {
		return errs.E("memkv.Sync", errs.Invalid, "store is closed")
	}
	return nil
}

func (s *Store) Limits() kv.Limits { return s.lim }

func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// ---- transactions ----

type txn struct {
	s       *Store
	snap    *tree
	write   bool
	done    bool
	pending map[string]*[]byte // key -> value; nil pointer = delete
	bytes   int64
	entries int64
}

func (t *txn) Get(key []byte) ([]byte, error) {
	if t.done {
		return nil, errs.E("memkv.Get", errs.Invalid, "transaction ended")
	}
	if v, ok := t.pending[string(key)]; ok {
		if v == nil {
			return nil, kv.NotFound("memkv.Get", key)
		}
		return *v, nil
	}
	if v, ok := t.snap.get(key); ok {
		return v, nil
	}
	return nil, kv.NotFound("memkv.Get", key)
}

func (t *txn) put(key []byte, v *[]byte) error {
	switch {
	case t.done:
		return errs.E("memkv.Set", errs.Invalid, "transaction ended")
	case !t.write:
		return errs.E("memkv.Set", errs.Invalid, "read-only transaction")
	case len(key) == 0:
		return errs.E("memkv.Set", errs.Invalid, "empty key")
	}
	size := int64(len(key) + entryOverhead)
	if v != nil {
		if int64(len(*v)) > t.s.lim.MaxValueBytes {
			return errs.E("memkv.Set", errs.TooLarge, "value of %d bytes exceeds %d", len(*v), t.s.lim.MaxValueBytes)
		}
		size += int64(len(*v))
	}
	if t.bytes+size > t.s.lim.MaxTxnBytes || t.entries+1 > t.s.lim.MaxTxnEntries {
		return kv.ErrTxnTooBig
	}
	t.bytes += size
	t.entries++
	t.pending[string(key)] = v
	return nil
}

func (t *txn) Set(key, value []byte) error {
	v := append([]byte{}, value...)
	return t.put(key, &v)
}

func (t *txn) Delete(key []byte) error { return t.put(key, nil) }

func (t *txn) Commit() error {
	if t.done {
		return errs.E("memkv.Commit", errs.Invalid, "transaction ended")
	}
	if t.write {
		if len(t.pending) > 0 {
			// Writers are serialized: t.snap is still the current state.
			t.s.cur.Store(t.snap.apply(sortedWrites(t.pending)))
			t.s.noteCommit(t.pending) // backup.go
		}
	}
	t.end()
	return nil
}

func (t *txn) Discard() {
	if !t.done {
		t.end()
	}
}

func (t *txn) end() {
	t.done = true
	t.pending = nil
	if t.write {
		t.s.wmu.Unlock()
	}
}

type write struct {
	key []byte
	val *[]byte // nil = delete
}

func sortedWrites(m map[string]*[]byte) []write {
	ws := make([]write, 0, len(m))
	for k, v := range m {
		ws = append(ws, write{[]byte(k), v})
	}
	sort.Slice(ws, func(i, j int) bool { return bytes.Compare(ws[i].key, ws[j].key) < 0 })
	return ws
}

// Iter merges the snapshot with the transaction's own writes (copied when
// the iterator is made, so later writes do not show).
func (t *txn) Iter(o kv.IterOptions) kv.Iterator {
	it := &iter{t: t.snap, prefix: append([]byte(nil), o.Prefix...), reverse: o.Reverse}
	for k, v := range t.pending {
		if bytes.HasPrefix([]byte(k), o.Prefix) {
			it.pend = append(it.pend, write{[]byte(k), v})
		}
	}
	sort.Slice(it.pend, func(i, j int) bool { return bytes.Compare(it.pend[i].key, it.pend[j].key) < 0 })
	it.Seek(o.Start)
	return it
}

// ---- the committed state: sorted chunks, copied on write ----

const maxChunk = 128

type entry struct{ key, val []byte }

// tree is an immutable sorted map: chunks of entries in key order, each
// non-empty and holding at most 2*maxChunk entries. A commit copies the
// chunk list and the chunks it changes; everything else is shared.
type tree struct{ chunks [][]entry }

// chunkFor returns the index of the chunk that holds key or would: the
// first whose last key >= key (the last chunk when key is beyond all).
func (t *tree) chunkFor(key []byte) int {
	i := sort.Search(len(t.chunks), func(i int) bool {
		c := t.chunks[i]
		return bytes.Compare(c[len(c)-1].key, key) >= 0
	})
	if i == len(t.chunks) && i > 0 {
		i--
	}
	return i
}

func (t *tree) get(key []byte) ([]byte, bool) {
	if len(t.chunks) == 0 {
		return nil, false
	}
	c := t.chunks[t.chunkFor(key)]
	j := sort.Search(len(c), func(j int) bool { return bytes.Compare(c[j].key, key) >= 0 })
	if j < len(c) && bytes.Equal(c[j].key, key) {
		return c[j].val, true
	}
	return nil, false
}

// apply returns a new tree with ws (sorted by key) applied.
func (t *tree) apply(ws []write) *tree {
	nt := &tree{}
	ci := 0
	for len(ws) > 0 {
		var c []entry
		var mine []write
		if len(t.chunks) == 0 {
			mine, ws = ws, nil
		} else {
			target := t.chunkFor(ws[0].key)
			nt.chunks = append(nt.chunks, t.chunks[ci:target]...) // untouched: shared
			c, ci = t.chunks[target], target+1
			n := len(ws)
			if ci < len(t.chunks) {
				last := c[len(c)-1].key
				n = sort.Search(len(ws), func(i int) bool { return bytes.Compare(ws[i].key, last) > 0 })
			}
			mine, ws = ws[:n], ws[n:]
		}
		nt.chunks = append(nt.chunks, split(merge(c, mine))...)
	}
	nt.chunks = append(nt.chunks, t.chunks[ci:]...)
	return nt
}

// merge returns c (sorted) with ws (sorted) applied, as a new slice.
func merge(c []entry, ws []write) []entry {
	out := make([]entry, 0, len(c)+len(ws))
	i, j := 0, 0
	for i < len(c) || j < len(ws) {
		switch {
		case j == len(ws) || (i < len(c) && bytes.Compare(c[i].key, ws[j].key) < 0):
			out = append(out, c[i])
			i++
		default:
			if i < len(c) && bytes.Equal(c[i].key, ws[j].key) {
				i++
			}
			if ws[j].val != nil {
				out = append(out, entry{ws[j].key, *ws[j].val})
			}
			j++
		}
	}
	return out
}

// split cuts c into chunks of at most 2*maxChunk entries (none when empty).
func split(c []entry) [][]entry {
	var out [][]entry
	for len(c) > 2*maxChunk {
		out = append(out, c[:maxChunk:maxChunk])
		c = c[maxChunk:]
	}
	if len(c) > 0 {
		out = append(out, c)
	}
	return out
}

// ---- iteration ----

// iter merges a cursor over the snapshot with the sorted pending writes.
type iter struct {
	t       *tree
	prefix  []byte
	reverse bool
	pend    []write
	// cursor positions: snapshot chunk ci, entry ei; pending index pi.
	ci, ei, pi int
	key, val   []byte
	valid      bool
}

func (i *iter) Valid() bool            { return i.valid }
func (i *iter) Key() []byte            { return i.key }
func (i *iter) Value() ([]byte, error) { return i.val, nil }
func (i *iter) Err() error             { return nil }
func (i *iter) Close()                 {}

// snapAt reports the snapshot entry at the cursor.
func (i *iter) snapAt() (entry, bool) {
	if i.ci < 0 || i.ci >= len(i.t.chunks) {
		return entry{}, false
	}
	return i.t.chunks[i.ci][i.ei], true
}

func (i *iter) snapStep() {
	if i.reverse {
		if i.ei--; i.ei < 0 {
			if i.ci--; i.ci >= 0 {
				i.ei = len(i.t.chunks[i.ci]) - 1
			}
		}
		return
	}
	if i.ei++; i.ei >= len(i.t.chunks[i.ci]) {
		i.ci, i.ei = i.ci+1, 0
	}
}

func (i *iter) pendAt() (write, bool) {
	if i.pi < 0 || i.pi >= len(i.pend) {
		return write{}, false
	}
	return i.pend[i.pi], true
}

func (i *iter) pendStep() {
	if i.reverse {
		i.pi--
	} else {
		i.pi++
	}
}

func (i *iter) Seek(key []byte) {
	if !i.reverse {
		if bytes.Compare(key, i.prefix) < 0 {
			key = i.prefix
		}
		// First entry >= key.
		i.ci, i.ei = len(i.t.chunks), 0
		if len(i.t.chunks) > 0 {
			ci := i.t.chunkFor(key)
			c := i.t.chunks[ci]
			ei := sort.Search(len(c), func(j int) bool { return bytes.Compare(c[j].key, key) >= 0 })
			i.ci, i.ei = ci, ei
			if ei == len(c) {
				i.ci, i.ei = ci+1, 0
			}
		}
		i.pi = sort.Search(len(i.pend), func(j int) bool { return bytes.Compare(i.pend[j].key, key) >= 0 })
	} else {
		end := kv.PrefixEnd(i.prefix)
		if len(key) == 0 || (end != nil && bytes.Compare(key, end) >= 0) {
			key = end
		}
		// Last entry <= key (the very last one when key is nil), skipping
		// the prefix's end itself.
		i.ci, i.ei = -1, 0
		if len(i.t.chunks) > 0 {
			if key == nil {
				i.ci = len(i.t.chunks) - 1
				i.ei = len(i.t.chunks[i.ci]) - 1
			} else {
				ci := i.t.chunkFor(key)
				c := i.t.chunks[ci]
				ei := sort.Search(len(c), func(j int) bool { return bytes.Compare(c[j].key, key) > 0 }) - 1
				i.ci, i.ei = ci, ei
				if ei < 0 {
					if i.ci = ci - 1; i.ci >= 0 {
						i.ei = len(i.t.chunks[i.ci]) - 1
					}
				}
			}
		}
		i.pi = len(i.pend) - 1
		if key != nil {
			i.pi = sort.Search(len(i.pend), func(j int) bool { return bytes.Compare(i.pend[j].key, key) > 0 }) - 1
		}
		for e, ok := i.snapAt(); ok && end != nil && bytes.Compare(e.key, end) >= 0; e, ok = i.snapAt() {
			i.snapStep()
		}
	}
	i.settle()
}

func (i *iter) Next() {
	if !i.valid {
		return
	}
	// Step past the current key in both sources.
	if e, ok := i.snapAt(); ok && bytes.Equal(e.key, i.key) {
		i.snapStep()
	}
	if w, ok := i.pendAt(); ok && bytes.Equal(w.key, i.key) {
		i.pendStep()
	}
	i.settle()
}

// settle makes the nearer of the two sources' heads current (pending wins
// on a tie), skipping pending deletes, and ends outside the prefix.
func (i *iter) settle() {
	for {
		e, eok := i.snapAt()
		w, wok := i.pendAt()
		if !eok && !wok {
			i.valid = false
			return
		}
		usePend := wok
		if eok && wok {
			c := bytes.Compare(w.key, e.key)
			if i.reverse {
				c = -c
			}
			usePend = c <= 0
			if c == 0 {
				i.snapStep() // shadowed by the pending write
			}
		}
		var k, v []byte
		if usePend {
			if w.val == nil { // a delete: the key is gone
				i.pendStep()
				continue
			}
			k, v = w.key, *w.val
		} else {
			k, v = e.key, e.val
		}
		if !bytes.HasPrefix(k, i.prefix) {
			i.valid = false
			return
		}
		i.key, i.val, i.valid = k, v, true
		return
	}
}
