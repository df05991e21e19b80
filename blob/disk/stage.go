package disk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

var _ blob.Stager = (*Driver)(nil)

// staged is a file written and fsynced in root/.tmp but not yet under its
// key: an unnamed O_TMPFILE file (name "") when root's file system has
// them, else a named temporary file.
type staged struct {
	d         *Driver
	f         *os.File // open until Close: an unnamed file is linked through it
	name      string   // the named temporary file; "" for an unnamed one
	published bool
	closed    bool
}

// Stage implements blob.Stager with Put's checks and errors (key aside):
// the bytes are written to an unnamed file (O_TMPFILE, Linux) or, where
// root's file system has none, to a named one in root/.tmp, then fsynced.
func (d *Driver) Stage(ctx context.Context, r io.Reader, size int64) (blob.Staged, error) {
	const op = "blob/disk.Stage"
	if size < -1 {
		return nil, errs.E(op, errs.Invalid, "negative size %d", size)
	}
	if err := ctx.Err(); err != nil {
		return nil, classify(op, err)
	}
	if err := d.checkFree(op, size); err != nil {
		return nil, err
	}
	s, err := d.stage(op, "put-*", copyBody(ctx, op, r, size))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// copyBody returns the fill function that copies r (size bytes, -1 when
// unknown) into the file, with Put's errors.
func copyBody(ctx context.Context, op string, r io.Reader, size int64) func(*os.File) error {
	return func(f *os.File) error {
		w := &fileWriter{ctx: ctx, f: f, limit: size}
		bp := copyBufs.Get().(*[]byte)
		_, cerr := io.CopyBuffer(w, r, *bp)
		copyBufs.Put(bp)
		switch {
		case cerr == nil:
		case w.err == errTooLong:
			return errs.E(op, errs.Invalid, "body is longer than its declared size %d", size).Because(errs.IncompleteBody)
		case w.err != nil && cerr == w.err:
			return classify(op, cerr)
		default:
			return &errs.Error{Op: op, Msg: "reading body", Err: cerr}
		}
		if size >= 0 && w.n != size {
			return errs.E(op, errs.Invalid, "body is %d bytes, shorter than its declared size %d", w.n, size).Because(errs.IncompleteBody)
		}
		return nil
	}
}

// stage creates the file (unnamed when d.tmpfile, else named after
// pattern in root/.tmp), fills it with fill, fsyncs it and reports the
// sync (path: the named file, or /proc/self/fd/N of the unnamed one, which
// OnSync may read during the call). fill's error is returned as is. On
// error nothing remains.
func (d *Driver) stage(op, pattern string, fill func(*os.File) error) (_ *staged, err error) {
	var f *os.File
	name := ""
	if d.tmpfile.Load() {
		f, err = openTmpfile(d.tmp)
	} else {
		f, err = os.CreateTemp(d.tmp, pattern)
		if err == nil {
			name = f.Name()
		}
	}
	if err != nil {
		return nil, classify(op, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			if name != "" {
				os.Remove(name)
			}
		}
	}()
	if err := fill(f); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, classify(op, err)
	}
	if name != "" {
		d.synced(name, false)
	} else {
		d.synced(fdPath(f), false)
	}
	return &staged{d: d, f: f, name: name}, nil
}

// Publish implements blob.Staged: the file is linked (unnamed) or renamed
// (named) to key, key's missing directories are made (each new one's
// parent fsynced) and key's directory fsynced.
func (s *staged) Publish(ctx context.Context, key string) error {
	const op = "blob/disk.Publish"
	p, err := s.d.path(op, key)
	if err != nil {
		return err
	}
	return s.publish(ctx, op, p, true)
}

// publish makes the staged file p. With syncDir, p's directory is fsynced
// afterwards, then the parents of the fresh directories on its path (see
// syncNew; a failure there leaves p visible but maybe not durable, and is
// reported). Until the link or rename, p is left as it was.
func (s *staged) publish(ctx context.Context, op, p string, syncDir bool) error {
	if s.published || s.closed {
		return errs.E(op, errs.Internal, "staged file already published or closed")
	}
	if err := ctx.Err(); err != nil {
		return classify(op, err)
	}
	dir := filepath.Dir(p)
	// Try the link first: the key's directory usually exists, which saves
	// a stat per write; a missing one (ENOENT) is made and the link retried.
	err := s.place(p)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		if err := s.d.mkdirs(dir); err != nil {
			return classifyWrite(op, err)
		}
		err = s.place(p)
	}
	if err != nil {
		return classifyWrite(op, err)
	}
	s.published = true
	if !syncDir {
		// A scratch name need not be durable, nor the directories made
		// for it (they stay marked fresh for the next durable write).
		return nil
	}
	return classify(op, s.d.syncNew(dir))
}

// place links or renames the file to p, replacing p. An unnamed file is
// linked to p directly when p is absent (one directory entry made, no
// rename); when p exists it is linked to a fresh name in root/.tmp and
// renamed over p, so p is never absent or partial.
func (s *staged) place(p string) error {
	if s.name != "" {
		return os.Rename(s.name, p)
	}
	err := linkFile(s.f, p)
	if err == nil || !errors.Is(err, syscall.EEXIST) {
		return err
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(s.d.tmp, "put-"+hex.EncodeToString(rnd[:]))
	if err := linkFile(s.f, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Close implements blob.Staged.
func (s *staged) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	// The bytes were fsynced before Publish: a close error loses nothing.
	_ = s.f.Close()
	if !s.published && s.name != "" {
		os.Remove(s.name)
	}
	return nil
}

// probeTmpfile reports whether unnamed files can be made in root/.tmp and
// linked into it (O_TMPFILE support depends on the kernel and the file
// system, and linking through /proc/self/fd on /proc being mounted).
func (d *Driver) probeTmpfile() bool {
	if !tmpfileSupported {
		return false
	}
	f, err := openTmpfile(d.tmp)
	if err != nil {
		return false
	}
	defer f.Close()
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	name := filepath.Join(d.tmp, "probe-"+hex.EncodeToString(rnd[:]))
	if err := linkFile(f, name); err != nil {
		return false
	}
	os.Remove(name)
	return true
}
