package blob

import (
	"context"
	"io"
	"time"
)

// Driver is what a backing store implements: a flat namespace of immutable
// objects addressed by keys that the Store chooses ("blobs/ab/cd/<sha256>",
// "tmp/<random>"). Drivers never see HTTP requests or Tusk metadata.
//
// Every method takes ctx first and returns errors classified with
// internal/errs at the driver's edge: a missing key is errs.NotExist, a
// refused or unreachable backend errs.Transient, a key the driver refuses
// errs.Invalid, a disk below its free-space floor errs.NoSpace.
//
// Keys: a driver refuses (errs.Invalid) keys that are empty, start with "/",
// contain "..", "//", "\\" or NUL, or are not valid UTF-8. It never touches a
// path outside its root.
type Driver interface {
	// Put stores r under key, replacing any old value. size is the exact
	// length when known, -1 otherwise. Put is atomic (key is absent or
	// complete, never partial) and durable when it returns nil (for disk: the
	// file and its directory are fsynced). Keys under TempPrefix are scratch
	// that the Store only Moves: their bytes must be durable, their name need
	// not be (Move makes the destination durable). If r returns an error the
	// key is left as it was and the error is returned (wrapped).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get streams length bytes of key starting at off; length -1 reads to the
	// end. errs.NotExist if key is absent; errs.Invalid if off is past the end.
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Stat returns key's attributes, errs.NotExist if absent.
	Stat(ctx context.Context, key string) (Attrs, error)
	// Delete removes key. Deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Move renames src to dst atomically and durably, replacing dst.
	// errs.NotExist if src is absent.
	Move(ctx context.Context, src, dst string) error
	// List calls fn for every key under prefix (a plain string prefix, "" for
	// all), in no particular order. It stops at and returns fn's first error.
	List(ctx context.Context, prefix string, fn func(Attrs) error) error
	// Close releases the driver's resources.
	Close() error
}

// Attrs describes one stored object.
type Attrs struct {
	Key     string
	Size    int64
	ModTime time.Time
}
