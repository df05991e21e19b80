package badgerkv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// EpochFile, in the database directory, names this database: marks of
// Dump carry it, so that a mark of another database (a restored or
// replaced directory) is never taken for one of this one. Badger ignores
// files it does not know.
const EpochFile = "TUSK-EPOCH"

// dumpState is what Dump keeps between calls.
type dumpState struct {
	mu    sync.Mutex
	epoch string
	// pin is the read transaction of the latest tracked Dump, held open:
	// while it is, Badger's compactions keep every version newer than its
	// read timestamp (they discard only at or below the oldest open read
	// timestamp), so the deletions the next incremental dump must carry
	// are still there as tombstones.
	pin *badger.Txn
}

// epochID returns the database's epoch, creating EpochFile on first use
// (in-memory databases get a random one).
func (s *Store) epochID() (string, error) {
	if s.dump.epoch != "" {
		return s.dump.epoch, nil
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	fresh := hex.EncodeToString(b)
	if s.db.Opts().InMemory {
		s.dump.epoch = fresh
		return fresh, nil
	}
	path := filepath.Join(s.db.Opts().Dir, EpochFile)
	if old, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(old))) > 0 {
		s.dump.epoch = strings.TrimSpace(string(old))
		return s.dump.epoch, nil
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(fresh + "\n")
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return "", err
	}
	s.dump.epoch = fresh
	return fresh, nil
}

// Dump implements kv.Dumper with one read transaction and an iterator
// over every version newer than the mark (Badger's SinceTs skips tables
// holding only older ones): for each key, its newest version is written,
// a tombstone as a deletion. Marks are "<epoch>:<read timestamp>".
func (s *Store) Dump(ctx context.Context, w io.Writer, o kv.DumpOptions) (kv.Mark, error) {
	// Tracked and incremental dumps read and move the pin: one at a time.
	// An untracked full dump (a backup) needs only the epoch, so a long
	// backup does not hold up the mirror.
	s.dump.mu.Lock()
	epoch, err := s.epochID()
	if o.Track || o.Since != "" {
		defer s.dump.mu.Unlock()
	} else {
		s.dump.mu.Unlock()
	}
	if err != nil {
		return "", errs.Wrap("badgerkv.Dump", errs.Internal, err)
	}
	var since uint64 // the mark's read timestamp (0 is a mark of an empty store)
	incremental := o.Since != ""
	if incremental {
		e, ts, ok := strings.Cut(string(o.Since), ":")
		n, perr := strconv.ParseUint(ts, 10, 64)
		if !ok || perr != nil || e != epoch {
			return "", kv.ErrMarkLost
		}
		since = n
	}
	txn := s.db.NewTransaction(false)
	keep := false
	defer func() {
		if !keep {
			txn.Discard()
		}
	}()
	readTs := txn.ReadTs()
	// An incremental dump is exact when the tombstones since the mark are
	// pinned (the mark is the tracked one), or when nothing was written
	// since it (the read timestamp did not move: after a clean restart).
	if incremental && readTs != since && (s.dump.pin == nil || s.dump.pin.ReadTs() != since) {
		return "", kv.ErrMarkLost
	}
	if since > readTs {
		return "", kv.ErrMarkLost
	}
	it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, SinceTs: since, PrefetchValues: false})
	defer it.Close()
	dw := o.Writer(w)
	var last []byte
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if last != nil && bytes.Equal(item.Key(), last) {
			continue // an older version of the key just written
		}
		last = item.KeyCopy(last[:0])
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return "", ctx.Err()
		}
		if item.IsDeletedOrExpired() {
			if incremental {
				err = dw.Delete(last)
			}
		} else {
			var v []byte
			if v, err = item.ValueCopy(nil); err == nil {
				err = dw.Set(last, v)
			}
		}
		if err != nil {
			return "", mapDumpErr(err)
		}
	}
	mark := kv.Mark(epoch + ":" + strconv.FormatUint(readTs, 10))
	if err := dw.Close(mark); err != nil {
		return "", mapDumpErr(err)
	}
	if o.Track {
		if s.dump.pin != nil {
			s.dump.pin.Discard()
		}
		s.dump.pin, keep = txn, true
	}
	return mark, nil
}

func mapDumpErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return mapErr("badgerkv.Dump", err)
}
