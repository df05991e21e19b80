package blob

import (
	"context"
	"io"
)

// Stager is a Driver that can write an object's bytes before the object
// has a key, and give it its key afterwards (blob/disk: an O_TMPFILE file
// linked into place). Store.Put uses it, when the driver has it, to write a
// blob once and then name it at its content address directly, with no
// temporary key and no Move.
type Stager interface {
	// Stage writes r (size bytes, -1 when unknown) to a new object that no
	// key names yet, and makes its bytes durable. Errors are those of
	// Driver.Put; on error nothing remains. The caller must Close the
	// returned Staged.
	Stage(ctx context.Context, r io.Reader, size int64) (Staged, error)
}

// Staged is an object written by Stager.Stage and not yet visible.
type Staged interface {
	// Publish makes the object key, replacing any old value, atomically
	// (key is its old value or the whole object, never partial) and
	// durably (as Driver.Put), with Driver.Put's key errors. It may be
	// called once; a failed Publish leaves key as it was.
	Publish(ctx context.Context, key string) error
	// Close releases the object: unpublished, it is deleted (nothing of it
	// remains); published, only resources held for it are released.
	// Closing twice is harmless.
	Close() error
}
