// Package badgerkv implements kv.Store on Badger. It is the only package
// outside tests that imports Badger.
package badgerkv

import (
	"bytes"
	"context"
	"errors"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// Options configure Open. Zero sizes take the defaults.
type Options struct {
	// Dir holds the database; ignored when InMemory.
	Dir string
	// InMemory keeps everything in memory (tests).
	InMemory bool
	// Memory (zero takes the default). Badger's heap is about
	// NumMemtables x MemTableSize of memtables (the arenas, allocated
	// whole), plus the block cache (decompressed SST blocks) and the index
	// cache (SST indexes and bloom filters: with it bounded, indexes of an
	// LSM of any size are not all kept in memory), plus transient table
	// builders while a memtable is flushed or levels are compacted (Badger
	// pools them: up to several times MemTableSize during a flush). These
	// are set explicitly, not left to Badger's defaults (64 MiB x 5
	// memtables, 256 MiB block cache, unbounded indexes), so the engine's
	// memory does not grow with the number of keys (see
	// docs/architecture.md, "Memory").
	//
	// MemTableSize defaults to 16 MiB (2 memtables) and sets the
	// transaction limit (Limits: 15% of it); BlockCacheSize defaults to
	// 16 MiB (blocks are not compressed, so the cache holds slices of the
	// mmapped tables, not copies); IndexCacheSize to 8 MiB.
	MemTableSize   int64
	BlockCacheSize int64
	IndexCacheSize int64
}

// Memory defaults of Options.
const (
	DefaultMemTableSize   = 16 << 20
	NumMemtables          = 2
	DefaultBlockCacheSize = 16 << 20
	DefaultIndexCacheSize = 8 << 20
)

// Store is a kv.Store on a Badger database.
type Store struct {
	db   *badger.DB
	dump dumpState // backup.go
}

var (
	_ kv.Store     = (*Store)(nil)
	_ kv.Compacter = (*Store)(nil)
	_ kv.Dumper    = (*Store)(nil)
	_ kv.Txn       = (*txn)(nil)
	_ kv.Iterator  = (*iter)(nil)
)

// Open opens (or creates) the database. Writes are not synced on commit:
// Sync is the durability barrier.
func Open(o Options) (*Store, error) {
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = DefaultBlockCacheSize
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = DefaultIndexCacheSize
	}
	bo := badger.DefaultOptions(o.Dir).
		WithSyncWrites(false). // the committer syncs once per batch
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(NumMemtables).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(o.IndexCacheSize).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2). // Badger's minimum
		// No compression: a table builder then holds each block once (with
		// Snappy it also held the compressed copy), and a block read is a
		// slice of the mmapped table instead of a decompressed copy on the
		// heap (BenchmarkUpload's alloc profile: compressing and
		// decompressing were 45% of Badger's 0.5 GB of table buffers for
		// 20,000 small PUTs). Tree nodes are mostly hashes; the LSM grows
		// by what Snappy saved on them.
		WithCompression(options.None).
		WithBaseTableSize(2 << 20). // compaction builders hold about one table each
		WithNumLevelZeroTables(5).
		WithNumLevelZeroTablesStall(15).
		WithValueThreshold(64 << 10). // tree nodes (<= ~8 KiB) stay in the LSM: one WAL to sync
		WithLogger(nil)
	if o.InMemory {
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("")
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, errs.Wrap("badgerkv.Open", errs.Internal, err)
	}
	return &Store{db: db}, nil
}

// Begin starts a Badger transaction (optimistic: a write transaction's
// Commit fails with kv.ErrConflict when another one changed a key it read).
func (s *Store) Begin(write bool) (kv.Txn, error) {
	return &txn{t: s.db.NewTransaction(write)}, nil
}

// Sync syncs Badger's write-ahead log.
func (s *Store) Sync(ctx context.Context) error {
	return errs.Wrap("badgerkv.Sync", errs.Internal, s.db.Sync())
}

// Limits are Badger's batch limits (derived from the memtable size). The
// value limit is Badger's 1 GiB cap on one value.
func (s *Store) Limits() kv.Limits {
	return kv.Limits{MaxTxnBytes: s.db.MaxBatchSize(), MaxTxnEntries: s.db.MaxBatchCount(), MaxValueBytes: 1 << 30}
}

// Compact runs Badger's value-log GC until it finds nothing to rewrite or
// ctx ends.
func (s *Store) Compact(ctx context.Context) error {
	for ctx.Err() == nil && s.db.RunValueLogGC(0.5) == nil {
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errs.Wrap("badgerkv.Close", errs.Internal, s.db.Close())
}

// mapErr classifies Badger's errors.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrTxnTooBig):
		return kv.ErrTxnTooBig
	case errors.Is(err, badger.ErrConflict):
		return kv.ErrConflict
	case errors.Is(err, badger.ErrValueLogSize), errors.Is(err, badger.ErrEmptyKey):
		return errs.Wrap(op, errs.Invalid, err)
	}
	return errs.Wrap(op, errs.Internal, err)
}

type txn struct{ t *badger.Txn }

func (t *txn) Get(key []byte) ([]byte, error) {
	item, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, kv.NotFound("badgerkv.Get", key)
	}
	if err != nil {
		return nil, mapErr("badgerkv.Get", err)
	}
	v, err := item.ValueCopy(nil)
	return v, mapErr("badgerkv.Get", err)
}

func (t *txn) Set(key, value []byte) error { return mapErr("badgerkv.Set", t.t.Set(key, value)) }
func (t *txn) Delete(key []byte) error     { return mapErr("badgerkv.Delete", t.t.Delete(key)) }
func (t *txn) Commit() error               { return mapErr("badgerkv.Commit", t.t.Commit()) }
func (t *txn) Discard()                    { t.t.Discard() }

// Iter wraps a Badger iterator. Badger's own Prefix option is used forward
// only: in reverse, Badger would start below the prefix, so the iterator
// seeks from the prefix's end and checks the prefix itself.
func (t *txn) Iter(o kv.IterOptions) kv.Iterator {
	bo := badger.IteratorOptions{PrefetchValues: !o.KeysOnly, PrefetchSize: 64, Reverse: o.Reverse}
	if !o.Reverse {
		bo.Prefix = o.Prefix
	}
	it := &iter{it: t.t.NewIterator(bo), prefix: o.Prefix, reverse: o.Reverse, end: kv.PrefixEnd(o.Prefix)}
	it.Seek(o.Start)
	return it
}

type iter struct {
	it      *badger.Iterator
	prefix  []byte
	end     []byte // kv.PrefixEnd(prefix); nil = unbounded
	reverse bool
	buf     []byte
}

func (i *iter) Seek(key []byte) {
	if !i.reverse {
		if bytes.Compare(key, i.prefix) < 0 {
			key = i.prefix
		}
		i.it.Seek(key)
		return
	}
	if len(key) == 0 || (i.end != nil && bytes.Compare(key, i.end) >= 0) {
		key = i.end
	}
	if key == nil {
		i.it.Rewind()
		return
	}
	i.it.Seek(key)
	// Keys at or past the prefix's end are outside the range.
	for i.end != nil && i.it.Valid() && bytes.Compare(i.it.Item().Key(), i.end) >= 0 {
		i.it.Next()
	}
}

func (i *iter) Valid() bool {
	return i.it.Valid() && bytes.HasPrefix(i.it.Item().Key(), i.prefix)
}

func (i *iter) Next()       { i.it.Next() }
func (i *iter) Key() []byte { return i.it.Item().Key() }
func (i *iter) Err() error  { return nil }
func (i *iter) Close()      { i.it.Close() }

func (i *iter) Value() ([]byte, error) {
	var err error
	i.buf, err = i.it.Item().ValueCopy(i.buf[:0])
	return i.buf, mapErr("badgerkv.Value", err)
}
