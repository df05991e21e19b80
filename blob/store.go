package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"sync/atomic"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// Store is the content-addressed blob store the rest of Tusk uses. It is
// safe for concurrent use; all state lives in its Driver.
type Store struct {
	d Driver
	// composeKey keys the content addresses of composed blobs (compose.go).
	composeKey atomic.Pointer[[]byte]
}

// New returns a Store over d. d must not be nil.
func New(d Driver) *Store {
	if d == nil {
		panic("blob.New: nil Driver")
	}
	return &Store{d: d}
}

// Driver returns the driver the Store was built over.
func (s *Store) Driver() Driver { return s.d }

// PutOptions tune one Put.
type PutOptions struct {
	// Size is the exact length of the stream, or -1 when unknown. When it is
	// >= 0 and the stream is shorter or longer, Put fails with errs.Invalid,
	// Code "IncompleteBody". The zero value means "exactly 0 bytes"; pass -1
	// for unknown.
	Size int64
	// Verify, when non-nil, is called with the blob's Info once the whole
	// stream has been stored under a temporary key and before it becomes
	// visible at its content address (for example to compare Content-MD5 or
	// a signed payload hash). If it returns an error, the temporary copy is
	// deleted and Put returns that error unchanged.
	Verify func(Info) error
}

// Info describes a stored blob.
type Info struct {
	Hash string // SHA-256 of the content, lowercase hex; the blob's address
	Size int64  // length in bytes
	MD5  []byte // MD5 of the content (16 bytes), for S3 ETags
}

// Put streams r into the store and returns its Info. The content is written
// once to a temporary key ("tmp/<random>") while its size, MD5 and SHA-256
// are computed beside the write; then opts.Verify runs; then the temporary
// key is moved to the content address Key(hash), or deleted when that
// content is already stored (same hash, same size). A driver that is a
// Stager (blob/disk) is used instead to write the content with no key and
// publish it at Key(hash) directly: no temporary key, no Move. Memory stays
// bounded whatever the size of the stream.
//
// Put returns only after the blob is durable (as durable as the driver's
// Put and Move promise). On any error (r failing, ctx cancelled, size
// mismatch, Verify refusing, driver error) Put returns a zero Info, nothing
// of this call remains under tmp/ (cleanup is best effort: if the backend
// refuses even the delete, CleanTemp removes it later) and nothing under
// blobs/ is partial. r's own error is returned wrapped (errs.KindOf sees
// through to its kind); a nil r is errs.Invalid.
func (s *Store) Put(ctx context.Context, r io.Reader, opts PutOptions) (Info, error) {
	const op = "blob.Put"
	if r == nil {
		return Info{}, errs.E(op, errs.Invalid, "nil reader")
	}
	if opts.Size < -1 {
		return Info{}, errs.E(op, errs.Invalid, "negative size %d", opts.Size)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, &errs.Error{Op: op, Msg: "upload interrupted", Err: err}
	}
	if st, ok := s.d.(Stager); ok {
		return s.putStaged(ctx, st, r, opts)
	}
	tmp := TempPrefix + randomName()
	h := newHasher()
	src := &source{ctx: ctx, r: r, want: opts.Size, h: h}
	err := s.d.Put(ctx, tmp, src, opts.Size)
	if err == nil {
		err = src.done()
	}
	if serr := src.close(); serr != nil {
		// The stream's own failure, whatever the driver made of it.
		err = serr
	}
	md5sum, sha := h.finish()
	if err != nil {
		s.discard(ctx, tmp)
		return Info{}, err
	}
	info := Info{Hash: hex.EncodeToString(sha), Size: src.n, MD5: md5sum}
	if opts.Verify != nil {
		if err := opts.Verify(info); err != nil {
			s.discard(ctx, tmp)
			return Info{}, err
		}
	}
	final := Key(info.Hash)
	a, err := s.d.Stat(ctx, final)
	switch {
	case err == nil && a.Size == info.Size:
		// Already stored: keep the old copy.
		s.discard(ctx, tmp)
		return info, nil
	case err == nil || errs.Is(err, errs.NotExist):
		// Absent, or a damaged copy of the wrong size: replace it.
		if err := s.d.Move(ctx, tmp, final); err != nil {
			s.discard(ctx, tmp)
			return Info{}, err
		}
		return info, nil
	default:
		s.discard(ctx, tmp)
		return Info{}, err
	}
}

// putStaged is Put over a Stager: the stream is staged (written and made
// durable with no key), verified, and published at its content address, or
// dropped when that content is already stored. Same contract as Put, with
// no temporary key and no Move.
func (s *Store) putStaged(ctx context.Context, st Stager, r io.Reader, opts PutOptions) (Info, error) {
	h := newHasher()
	src := &source{ctx: ctx, r: r, want: opts.Size, h: h}
	sg, err := st.Stage(ctx, src, opts.Size)
	if err == nil {
		defer sg.Close()
		err = src.done()
	}
	if serr := src.close(); serr != nil {
		// The stream's own failure, whatever the driver made of it.
		err = serr
	}
	md5sum, sha := h.finish()
	if err != nil {
		return Info{}, err
	}
	info := Info{Hash: hex.EncodeToString(sha), Size: src.n, MD5: md5sum}
	if opts.Verify != nil {
		if err := opts.Verify(info); err != nil {
			return Info{}, err
		}
	}
	final := Key(info.Hash)
	a, err := s.d.Stat(ctx, final)
	switch {
	case err == nil && a.Size == info.Size:
		// Already stored: keep the old copy (the deferred Close drops ours).
		return info, nil
	case err == nil || errs.Is(err, errs.NotExist):
		// Absent, or a damaged copy of the wrong size: replace it.
		if err := sg.Publish(ctx, final); err != nil {
			return Info{}, err
		}
		return info, nil
	default:
		return Info{}, err
	}
}

// discard deletes a temporary key, even when ctx is already cancelled.
func (s *Store) discard(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_ = s.d.Delete(ctx, key) // best effort: CleanTemp removes what is left
}

// Open streams length bytes of the blob hash starting at off (length -1:
// to the end; a length reaching past the end is cut at the end). The caller
// must Close the reader. errs.Invalid for a malformed hash or an off past the
// end, errs.NotExist when the blob is absent.
func (s *Store) Open(ctx context.Context, hash string, off, length int64) (io.ReadCloser, error) {
	if err := CheckHash(hash); err != nil {
		return nil, err
	}
	if off < 0 || length < -1 {
		return nil, errs.E("blob.Open", errs.Invalid, "bad range: offset %d, length %d", off, length)
	}
	return s.d.Get(ctx, Key(hash), off, length)
}

// Stat returns the size of blob hash: errs.Invalid for a malformed hash,
// errs.NotExist when absent.
func (s *Store) Stat(ctx context.Context, hash string) (int64, error) {
	if err := CheckHash(hash); err != nil {
		return 0, err
	}
	a, err := s.d.Stat(ctx, Key(hash))
	if err != nil {
		return 0, err
	}
	return a.Size, nil
}

// Delete removes blob hash for good (garbage collection, purges). Deleting
// an absent blob is not an error; a malformed hash is errs.Invalid.
func (s *Store) Delete(ctx context.Context, hash string) error {
	if err := CheckHash(hash); err != nil {
		return err
	}
	return s.d.Delete(ctx, Key(hash))
}

// List calls fn for every stored blob, in no particular order, with its
// hash and size; it stops at and returns fn's first error. Keys under blobs/
// that are not well-formed blob keys are skipped. Blobs stored or deleted
// while List runs may or may not be reported.
func (s *Store) List(ctx context.Context, fn func(hash string, size int64) error) error {
	return s.d.List(ctx, BlobPrefix, func(a Attrs) error {
		h, ok := hashOfKey(a.Key)
		if !ok {
			return nil
		}
		return fn(h, a.Size)
	})
}

// CleanTemp deletes temporary keys (tmp/...) last modified more than
// olderThan ago: leftovers of uploads interrupted by a crash. olderThan must
// exceed the longest upload in progress, whose temporary key would otherwise
// be removed under it (that upload then fails; nothing partial is
// published). It returns the first listing or delete error.
func (s *Store) CleanTemp(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan)
	return s.d.List(ctx, TempPrefix, func(a Attrs) error {
		if !a.ModTime.Before(cutoff) {
			return nil
		}
		return s.d.Delete(ctx, a.Key)
	})
}

func randomName() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
