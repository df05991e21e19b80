package disk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

var _ blob.Linker = (*Driver)(nil)

// Link implements blob.Linker: it makes the regular file src (an absolute
// path) the object key without copying its bytes, as a hard link. The
// file's data is fsynced first, then the link is made under root/.tmp,
// renamed to key (replacing it) and key's directory fsynced, so key is
// atomic and durable as after Put. The object and src are then the same
// file: a later change made to src in place changes the object too.
// Errors: errs.Invalid for a bad key, a relative src or one that is not a
// regular file, and wrapping blob.ErrCrossDevice when src is on another
// file system than root (the caller copies instead); errs.NotExist when src
// is absent.
func (d *Driver) Link(ctx context.Context, src, key string) (err error) {
	const op = "blob/disk.Link"
	p, err := d.path(op, key)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(src) {
		return errs.E(op, errs.Invalid, "link source %q is not an absolute path", src)
	}
	if err := ctx.Err(); err != nil {
		return classify(op, err)
	}
	f, err := os.Open(src)
	if err != nil {
		return classify(op, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errs.E(op, errs.Invalid, "link source %s is not a regular file", src)
	}
	if err == nil {
		if err = f.Sync(); err == nil {
			d.synced(src, false)
		} else {
			err = classify(op, err)
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(d.tmp, "link-"+hex.EncodeToString(rnd[:]))
	if err := os.Link(src, tmp); err != nil {
		if errors.Is(err, syscall.EXDEV) {
			return &errs.Error{Op: op, Kind: errs.Invalid, Msg: src + " is on another file system than " + d.root, Err: blob.ErrCrossDevice}
		}
		return classify(op, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	dir := filepath.Dir(p)
	if err := d.mkdirs(dir); err != nil {
		return classifyWrite(op, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return classifyWrite(op, err)
	}
	if err := d.syncNew(dir); err != nil {
		return classify(op, err)
	}
	return nil
}
