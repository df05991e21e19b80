package meta

import (
	"context"
	"io"
	"os"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/meta/kv/badgerkv"
)

// Dump writes every record of the store (o.Since empty) or those changed
// since an earlier Dump's mark, as of one consistent snapshot, in the kv
// dump format (kv.Dumper): every write acknowledged before Dump was called
// is in it. It fails with kind Invalid when the store cannot dump.
func (s *Store) Dump(ctx context.Context, w io.Writer, o kv.DumpOptions) (kv.Mark, error) {
	d, ok := s.db.(kv.Dumper)
	if !ok {
		return "", errs.E("meta.Dump", errs.Invalid, "this metadata store cannot dump its records")
	}
	return d.Dump(ctx, w, o)
}

// Restore creates a Badger store in dir, which must not exist or be empty,
// runs load on it (which applies dumps with kv.Load), syncs and closes it.
// On any error dir is removed again: a restore is whole or absent.
func Restore(ctx context.Context, dir string, load func(db kv.Store) error) (err error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return errs.E("meta.Restore", errs.Exist, "%s is not empty: restore into an empty directory", dir)
	} else if err != nil && !os.IsNotExist(err) {
		return errs.Wrap("meta.Restore", errs.Internal, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errs.Wrap("meta.Restore", errs.Internal, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	db, err := badgerkv.Open(badgerkv.Options{Dir: dir})
	if err != nil {
		return err
	}
	if err = load(db); err == nil {
		err = db.Sync(ctx)
	}
	if e := db.Close(); err == nil {
		err = e
	}
	if err == nil {
		// The restored store must open as a metadata store.
		var s *Store
		if s, err = Open(dir, Options{}); err == nil {
			err = s.Close()
		}
	}
	return err
}
