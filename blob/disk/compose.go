package disk

import (
	"context"
	"io"
	"os"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

var _ blob.Composer = (*Driver)(nil)

// Compose implements blob.Composer: it concatenates the source files, in
// order, into a temporary file in root/.tmp (with copy_file_range where the
// kernel offers it, so the bytes never reach user space; otherwise through
// one pooled 256 KiB buffer), fsyncs it, renames it to dst and fsyncs dst's
// directory, exactly as Put does. Memory stays bounded whatever the sizes.
// Errors: errs.Invalid for a bad key or no source; errs.NotExist when a
// source is absent; errs.NoSpace below the free-space floor (checked with
// the total size) or when the disk fills. On error dst is left as it was
// and no temporary file remains.
func (d *Driver) Compose(ctx context.Context, dst string, srcs []string) (err error) {
	const op = "blob/disk.Compose"
	p, err := d.path(op, dst)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return errs.E(op, errs.Invalid, "no source to compose")
	}
	files := make([]*os.File, 0, len(srcs))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	// Open every source first: a missing one fails before anything is
	// written, and a source deleted meanwhile stays readable.
	var total int64
	for _, src := range srcs {
		sp, err := d.path(op, src)
		if err != nil {
			return err
		}
		f, err := os.Open(sp)
		if err != nil {
			return classify(op, err)
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil {
			return classify(op, err)
		}
		if !fi.Mode().IsRegular() {
			return errs.E(op, errs.NotExist, "no object %q", src)
		}
		total += fi.Size()
	}
	if err := ctx.Err(); err != nil {
		return classify(op, err)
	}
	if err := d.checkFree(op, total); err != nil {
		return err
	}
	return d.install(ctx, op, "compose-*", p, true, func(out *os.File) error {
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return classify(op, err)
			}
			// *os.File to *os.File: io.Copy uses copy_file_range(2) on Linux
			// and falls back to a 32 KiB buffer elsewhere.
			if _, err := io.Copy(out, f); err != nil {
				return classify(op, err)
			}
		}
		return nil
	})
}
