package blob

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/tusk-data/tusk/internal/errs"
)

// Linker is a Driver that can make an existing local file an object
// without copying its bytes (blob/disk: a hard link).
type Linker interface {
	// Link makes the regular file src (an absolute path) the object key,
	// atomically and durably, without copying it. It fails wrapping
	// ErrCrossDevice when src cannot be linked from where the driver
	// stores objects (another file system).
	Link(ctx context.Context, src, key string) error
}

// ErrCrossDevice: a file cannot be linked into the store (it is on another
// file system); copy it instead.
var ErrCrossDevice = errors.New("the file is on another file system than the blob store")

// AddFile stores the local regular file at path (an absolute path) and
// returns its Info and whether it was linked. With link, and a driver that
// is a Linker, the file is read once to hash it and then linked at its
// content address (no copy: the blob and the file are then the same file,
// so the file must not be changed in place afterwards); otherwise, or when
// the link fails with ErrCrossDevice, it is stored as Put stores a stream
// (read once, written once). verify runs as PutOptions.Verify does, once
// the hashes are known and before the blob appears at its address. When
// the content is already stored (same hash and size) nothing is linked or
// copied. Errors are classified; a file whose size or modification time
// changes while it is hashed and linked is errs.Conflict, and nothing is
// stored.
func (s *Store) AddFile(ctx context.Context, path string, link bool, verify func(Info) error) (Info, bool, error) {
	const op = "blob.AddFile"
	if !filepath.IsAbs(path) {
		return Info{}, false, errs.E(op, errs.Invalid, "%q is not an absolute path", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Info{}, false, fileErr(op, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Info{}, false, fileErr(op, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, false, errs.E(op, errs.Invalid, "%s is not a regular file", path)
	}
	lk, isLinker := s.d.(Linker)
	if !link || !isLinker {
		info, err := s.Put(ctx, f, PutOptions{Size: fi.Size(), Verify: verify})
		return info, false, err
	}
	h := newHasher()
	src := &source{ctx: ctx, r: f, want: fi.Size(), h: h}
	_, err = io.Copy(io.Discard, src)
	if err == nil {
		err = src.done()
	}
	if serr := src.close(); serr != nil {
		err = serr
	}
	md5sum, sha := h.finish()
	if err != nil {
		return Info{}, false, err
	}
	info := Info{Hash: hex.EncodeToString(sha), Size: src.n, MD5: md5sum}
	unchanged := func() error {
		now, err := os.Stat(path)
		if err != nil {
			return fileErr(op, err)
		}
		if now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
			return errs.E(op, errs.Conflict, "%s changed while it was being added", path)
		}
		return nil
	}
	if err := unchanged(); err != nil {
		return Info{}, false, err
	}
	if verify != nil {
		if err := verify(info); err != nil {
			return Info{}, false, err
		}
	}
	final := Key(info.Hash)
	if a, err := s.d.Stat(ctx, final); err == nil && a.Size == info.Size {
		return info, false, nil
	} else if err != nil && !errs.Is(err, errs.NotExist) {
		return Info{}, false, err
	}
	err = lk.Link(ctx, path, final)
	if errors.Is(err, ErrCrossDevice) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Info{}, false, fileErr(op, err)
		}
		got, err := s.Put(ctx, f, PutOptions{Size: info.Size})
		if err == nil && got.Hash != info.Hash {
			err = errs.E(op, errs.Invalid, "%s changed while it was being added", path)
		}
		return got, false, err
	}
	if err != nil {
		return Info{}, false, err
	}
	if err := unchanged(); err != nil {
		// Changed between the hash and the link: the blob (new, made by
		// this call) would not hold the content its address names.
		_ = s.d.Delete(context.WithoutCancel(ctx), final)
		return Info{}, false, err
	}
	return info, true, nil
}

// fileErr classifies an error of reading a local file.
func fileErr(op string, err error) error {
	k := errs.Internal
	switch {
	case errors.Is(err, os.ErrNotExist):
		k = errs.NotExist
	case errors.Is(err, os.ErrPermission):
		k = errs.Permission
	}
	return &errs.Error{Op: op, Kind: k, Err: err}
}
