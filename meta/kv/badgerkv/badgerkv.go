// Package badgerkv implements kv.Store on Badger. It is the only package
// outside tests that imports Badger.
package badgerkv

import (
	"bytes"
	"context"
	"errors"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// Options configure Open. Zero sizes take the defaults.
type Options struct {
	// Dir holds the database; ignored when InMemory.
	Dir string
	// InMemory keeps everything in memory (tests).
	InMemory bool
	// Memory: memtable size (default 16 MiB, 2 memtables), block cache
	// (default 32 MiB), index cache (default 16 MiB). The memtable size
	// sets the transaction limit (Limits: 15% of it).
	MemTableSize   int64
	BlockCacheSize int64
	IndexCacheSize int64
}

// Store is a kv.Store on a Badger database.
type Store struct{ db *badger.DB }

var (
	_ kv.Store     = (*Store)(nil)
	_ kv.Compacter = (*Store)(nil)
	_ kv.Txn       = (*txn)(nil)
	_ kv.Iterator  = (*iter)(nil)
)

// Open opens (or creates) the database. Writes are not synced on commit:
// Sync is the durability barrier.
func Open(o Options) (*Store, error) {
	if o.MemTableSize == 0 {
		o.MemTableSize = 16 << 20
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = 32 << 20
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = 16 << 20
	}
	bo := badger.DefaultOptions(o.Dir).
		WithSyncWrites(false). // the committer syncs once per batch
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(2).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(o.IndexCacheSize).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
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
