package kv

import (
	"context"

	"github.com/tusk-data/tusk/internal/errs"
)

// Store is an ordered key-value store. Keys and values are byte strings;
// keys order bytewise. Implementations are safe for concurrent use.
type Store interface {
	// Begin starts a transaction. A read transaction (write false) is a
	// consistent snapshot of every transaction committed before Begin, and
	// sees none committed later. A write transaction reads the same kind of
	// snapshot plus its own writes; its Commit applies all its writes
	// atomically, and write transactions are serializable: an
	// implementation either serializes them (memkv) or fails Commit with
	// ErrConflict when a transaction committed since Begin changed a key it
	// read (badgerkv). Every transaction must end with Commit or Discard.
	Begin(write bool) (Txn, error)
	// Sync makes every committed transaction durable: after Sync returns
	// nil they survive a crash. Commit alone need not be durable (the
	// committer syncs once per batch of transactions).
	Sync(ctx context.Context) error
	// Limits reports how much one write transaction may hold.
	Limits() Limits
	// Close releases the store. Transactions must have ended.
	Close() error
}

// Limits bounds one write transaction. A Set or Delete that would take a
// transaction past any of them fails with ErrTxnTooBig and is not applied;
// the transaction stays usable (it may be committed with what it holds).
type Limits struct {
	// MaxTxnBytes bounds the sum over the transaction's writes of key and
	// value sizes plus a per-entry overhead the store defines.
	MaxTxnBytes int64
	// MaxTxnEntries bounds the number of writes (Set and Delete).
	MaxTxnEntries int64
	// MaxValueBytes bounds one value.
	MaxValueBytes int64
}

// Reader reads a snapshot.
type Reader interface {
	// Get returns key's value, or an error of kind errs.NotExist when key
	// is absent. The caller may keep the returned slice but must not
	// modify it.
	Get(key []byte) ([]byte, error)
	// Iter returns an iterator over the keys that opts selects, positioned
	// at the first of them. The caller must Close it.
	Iter(opts IterOptions) Iterator
}

// ReadWriter reads a snapshot and writes into the transaction it belongs
// to. It is what code that runs inside someone else's transaction (meta's
// committer) gets: it cannot commit or discard.
type ReadWriter interface {
	Reader
	// Set writes key = value. The store may keep key and value until the
	// transaction ends: the caller must not modify them. It fails with
	// ErrTxnTooBig (nothing written) when the transaction is full.
	Set(key, value []byte) error
	// Delete removes key (absent keys are fine). ErrTxnTooBig as Set.
	Delete(key []byte) error
}

// Txn is a transaction.
type Txn interface {
	ReadWriter
	// Commit applies the writes atomically (all or none) and ends the
	// transaction. A read transaction's Commit only ends it. Errors:
	// ErrConflict (see Store.Begin), or a store failure.
	Commit() error
	// Discard ends the transaction dropping its writes. It is a no-op after
	// Commit or a previous Discard, so it may be deferred.
	Discard()
}

// IterOptions select and order the keys of an iteration.
type IterOptions struct {
	// Prefix restricts the iteration to keys that start with it.
	Prefix []byte
	// Start positions the iterator as Seek(Start) does; nil = the first
	// key of the range (the last one when Reverse).
	Start []byte
	// Reverse iterates in descending key order.
	Reverse bool
	// KeysOnly hints that Value will not be called (stores may then avoid
	// reading values); Value still works.
	KeysOnly bool
}

// Iterator walks keys in order. Key and Value slices are valid until the
// next call to Next, Seek or Close and must not be modified.
type Iterator interface {
	// Valid reports whether the iterator is at a key. It is false at the
	// end and after an error (see Err).
	Valid() bool
	// Next moves to the next key (the previous one when Reverse).
	Next()
	// Seek moves to the first key >= key (when Reverse: the last key <=
	// key) within the prefix.
	Seek(key []byte)
	// Key is the current key.
	Key() []byte
	// Value is the current value.
	Value() ([]byte, error)
	// Err reports an error that ended the iteration (nil at a plain end).
	Err() error
	// Close releases the iterator.
	Close()
}

// Compacter is an optional capability of a Store: Compact reclaims space
// held by deleted or overwritten values (Badger's value-log GC). Callers
// discover it by type assertion.
type Compacter interface {
	Compact(ctx context.Context) error
}

var (
	// ErrTxnTooBig is returned by Set and Delete when the transaction is
	// full (see Limits). Match it with errors.Is; its kind is TooLarge.
	ErrTxnTooBig = errs.E("kv", errs.TooLarge, "transaction too big")
	// ErrConflict is returned by Commit when a concurrent transaction
	// changed what the transaction read. Retrying it may succeed.
	ErrConflict = errs.E("kv", errs.Conflict, "transaction conflict")
)

// NotFound returns the error Get returns for an absent key.
func NotFound(op string, key []byte) error {
	return errs.E(op, errs.NotExist, "key %q not found", key)
}

// PrefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p is empty or all 0xff).
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
