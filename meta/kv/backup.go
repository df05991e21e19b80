package kv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tusk-data/tusk/internal/errs"
)

// Dumper is an optional capability of a Store (found by type assertion):
// consistent, incremental dumps of its contents, the basis of backups and
// of the metadata mirror (docs/operations.md).
type Dumper interface {
	// Dump writes to w, in the dump format (DumpWriter), the store as of
	// one consistent snapshot: with o.Since empty, every key and value;
	// with o.Since a mark an earlier Dump of this store returned, only the
	// keys whose value changed after that mark's snapshot, each with its
	// value at the new snapshot or as a deletion. Applying the dumps in
	// order to an empty store (Load) gives the store as of the last one.
	// It returns the new snapshot's mark.
	//
	// An incremental dump must carry every deletion since o.Since: the
	// store keeps what that needs only for the mark of its latest Dump
	// with o.Track (one tracked chain at a time; a tracked Dump releases
	// the previous one). Dump fails with ErrMarkLost, writing nothing,
	// when it cannot answer o.Since exactly (a mark of another store, of
	// an untracked Dump, older than the latest tracked one, or from before
	// a restart after which writes came): the caller then takes a full
	// dump.
	Dump(ctx context.Context, w io.Writer, o DumpOptions) (Mark, error)
}

// DumpOptions select a Dump.
type DumpOptions struct {
	// Since is the mark of an earlier Dump ("" = a full dump).
	Since Mark
	// Track keeps what a later Dump since this one's mark needs.
	Track bool
	// Seal and AEAD, when both set, write the entries whose key Seal
	// selects sealed (see DumpWriter).
	Seal func(key []byte) bool
	AEAD cipher.AEAD
}

// Writer starts a dump on w with o's sealing.
func (o DumpOptions) Writer(w io.Writer) *DumpWriter {
	d := NewDumpWriter(w)
	d.Seal, d.AEAD = o.Seal, o.AEAD
	return d
}

// Mark names the snapshot of a Dump. It is opaque outside the store that
// made it, which compares it only with its own marks.
type Mark string

// ErrMarkLost is Dump's answer when an incremental dump since the given
// mark cannot be exact. Match it with errors.Is.
var ErrMarkLost = errs.E("kv.Dump", errs.Conflict, "incremental dump impossible since this mark: take a full dump")

// The dump format: the magic line, then records, each an op byte followed
// by uvarint-length-prefixed fields, and one end record:
//
//	'S' key value     set key = value
//	'D' key           delete key
//	'X' sealed        an entry sealed with AES-GCM (nonce || ciphertext of
//	                  the inner record: 'S' key value or 'D' key)
//	'E' count mark    the end: the number of records before it, the mark
//
// Nothing may follow the end record: a dump without one, or with a wrong
// count, is truncated or corrupt and DumpReader refuses it.
const dumpMagic = "TUSKDUMP1\n"

// DumpWriter writes the dump format.
type DumpWriter struct {
	w *bufio.Writer
	n uint64
	// Seal, when set with AEAD, decides which keys are written sealed.
	Seal func(key []byte) bool
	AEAD cipher.AEAD
	buf  []byte
	err  error
}

// NewDumpWriter starts a dump on w (it writes the magic line at once).
func NewDumpWriter(w io.Writer) *DumpWriter {
	d := &DumpWriter{w: bufio.NewWriterSize(w, 64<<10)}
	_, d.err = d.w.WriteString(dumpMagic)
	return d
}

func appendField(b, f []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	return append(b, f...)
}

func (d *DumpWriter) record(op byte, key, value []byte) error {
	if d.err != nil {
		return d.err
	}
	d.buf = append(d.buf[:0], op)
	d.buf = appendField(d.buf, key)
	if op == 'S' {
		d.buf = appendField(d.buf, value)
	}
	if d.Seal != nil && d.AEAD != nil && d.Seal(key) {
		nonce := make([]byte, d.AEAD.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			d.err = err
			return err
		}
		sealed := d.AEAD.Seal(nonce, nonce, d.buf, []byte(dumpMagic))
		d.buf = appendField(append(d.buf[:0], 'X'), sealed)
	}
	d.n++
	_, d.err = d.w.Write(d.buf)
	return d.err
}

// Set writes key = value.
func (d *DumpWriter) Set(key, value []byte) error { return d.record('S', key, value) }

// Delete writes a deletion of key.
func (d *DumpWriter) Delete(key []byte) error { return d.record('D', key, nil) }

// Count is the number of records written so far.
func (d *DumpWriter) Count() uint64 { return d.n }

// Close writes the end record with mark and flushes (it does not close the
// underlying writer).
func (d *DumpWriter) Close(mark Mark) error {
	if d.err != nil {
		return d.err
	}
	b := binary.AppendUvarint([]byte{'E'}, d.n)
	b = appendField(b, []byte(mark))
	if _, d.err = d.w.Write(b); d.err != nil {
		return d.err
	}
	d.err = d.w.Flush()
	return d.err
}

// Entry is one record of a dump.
type Entry struct {
	Key, Value []byte
	Delete     bool
}

// DumpReader reads the dump format.
type DumpReader struct {
	r *bufio.Reader
	n uint64
	// AEAD opens sealed records; without it a sealed record fails Next
	// with ErrSealed unless SkipSealed is set.
	AEAD       cipher.AEAD
	SkipSealed bool
	// Sealed counts the sealed records read (opened or skipped).
	Sealed uint64
	mark   Mark
	done   bool
}

// ErrSealed is Next's error on a sealed record it cannot open.
var ErrSealed = errs.E("kv.DumpReader", errs.Permission, "the dump holds sealed entries and the key to open them was not given or is wrong")

// NewDumpReader checks the magic line of r.
func NewDumpReader(r io.Reader) (*DumpReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(dumpMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != dumpMagic {
		return nil, errs.E("kv.DumpReader", errs.Invalid, "not a Tusk metadata dump (no %q header)", dumpMagic[:len(dumpMagic)-1])
	}
	return &DumpReader{r: br}, nil
}

func corrupt(format string, a ...any) error {
	return errs.E("kv.DumpReader", errs.Invalid, "corrupt or truncated dump: "+format, a...)
}

// maxField bounds one key or value (Badger's value limit).
const maxField = 1 << 30

func readField(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxField {
		return nil, fmt.Errorf("field of %d bytes", n)
	}
	if n <= 64<<10 {
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return b, err
	}
	// Grow with what arrives: a corrupt length allocates no more than the
	// bytes really there.
	b, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err == nil && uint64(len(b)) != n {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// Next returns the next entry, or io.EOF after a valid end record (then
// Mark is the dump's mark).
func (d *DumpReader) Next() (Entry, error) {
	for {
		if d.done {
			return Entry{}, io.EOF
		}
		op, err := d.r.ReadByte()
		if err != nil {
			return Entry{}, corrupt("no end record after %d records", d.n)
		}
		switch op {
		case 'E':
			count, err := binary.ReadUvarint(d.r)
			if err != nil {
				return Entry{}, corrupt("bad end record")
			}
			mark, err := readField(d.r)
			if err != nil {
				return Entry{}, corrupt("bad end record")
			}
			if count != d.n {
				return Entry{}, corrupt("end record counts %d records, read %d", count, d.n)
			}
			if _, err := d.r.ReadByte(); err != io.EOF {
				return Entry{}, corrupt("data after the end record")
			}
			d.mark, d.done = Mark(mark), true
			return Entry{}, io.EOF
		case 'S', 'D':
			e, err := d.inner(op, d.r)
			d.n++
			return e, err
		case 'X':
			sealed, err := readField(d.r)
			if err != nil {
				return Entry{}, corrupt("record %d: %v", d.n, err)
			}
			d.n++
			d.Sealed++
			if d.AEAD == nil {
				if d.SkipSealed {
					continue
				}
				return Entry{}, ErrSealed
			}
			ns := d.AEAD.NonceSize()
			if len(sealed) < ns {
				return Entry{}, corrupt("record %d: short sealed record", d.n)
			}
			plain, err := d.AEAD.Open(nil, sealed[:ns], sealed[ns:], []byte(dumpMagic))
			if err != nil {
				return Entry{}, ErrSealed
			}
			br := bufio.NewReader(bytes.NewReader(plain[1:]))
			if plain[0] != 'S' && plain[0] != 'D' {
				return Entry{}, corrupt("record %d: bad sealed op", d.n)
			}
			return d.inner(plain[0], br)
		default:
			return Entry{}, corrupt("record %d: unknown op %q", d.n, op)
		}
	}
}

func (d *DumpReader) inner(op byte, r *bufio.Reader) (Entry, error) {
	key, err := readField(r)
	if err != nil || len(key) == 0 {
		return Entry{}, corrupt("record %d: bad key", d.n)
	}
	if op == 'D' {
		return Entry{Key: key, Delete: true}, nil
	}
	v, err := readField(r)
	if err != nil {
		return Entry{}, corrupt("record %d: bad value", d.n)
	}
	return Entry{Key: key, Value: v}, nil
}

// Mark is the dump's mark, known once Next returned io.EOF.
func (d *DumpReader) Mark() Mark { return d.mark }

// Count is the number of records read so far.
func (d *DumpReader) Count() uint64 { return d.n }

// LoadStats count what Load applied.
type LoadStats struct {
	Sets, Deletes, Skipped uint64
	Mark                   Mark
}

// Load applies the dump read from r to s, in transactions as large as s
// allows, and syncs. Within one dump every key appears at most once, so a
// failure part-way leaves s holding a prefix of the dump: callers load
// into a store they discard on error. Sealed entries are opened with
// aead; with skipSealed and no aead they are left out.
func Load(ctx context.Context, s Store, r io.Reader, aead cipher.AEAD, skipSealed bool) (LoadStats, error) {
	var st LoadStats
	dr, err := NewDumpReader(r)
	if err != nil {
		return st, err
	}
	dr.AEAD, dr.SkipSealed = aead, skipSealed
	tx, err := s.Begin(true)
	if err != nil {
		return st, err
	}
	defer func() { tx.Discard() }()
	apply := func(e Entry) error {
		if e.Delete {
			return tx.Delete(e.Key)
		}
		return tx.Set(e.Key, e.Value)
	}
	for {
		e, err := dr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := apply(e); errors.Is(err, ErrTxnTooBig) {
			if err := tx.Commit(); err != nil {
				return st, err
			}
			if tx, err = s.Begin(true); err != nil {
				return st, err
			}
			err = apply(e)
		}
		if err != nil {
			return st, err
		}
		if e.Delete {
			st.Deletes++
		} else {
			st.Sets++
		}
	}
	st.Skipped = dr.Sealed
	if aead != nil {
		st.Skipped = 0
	}
	if err := tx.Commit(); err != nil {
		return st, err
	}
	st.Mark = dr.Mark()
	return st, s.Sync(ctx)
}
