package backup

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/kv"
)

// Keys of the mirror in the backing store.
const (
	// Prefix is reserved for the mirror: content keys never start with it.
	Prefix      = "meta/"
	SegPrefix   = Prefix + "seg/"
	ManifestKey = Prefix + "manifest.json"
)

// Objects is the part of a blob.Driver the mirror uses.
type Objects interface {
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}

// Dumper is what the mirror reads: meta.Store.
type Dumper interface {
	Dump(ctx context.Context, w io.Writer, o kv.DumpOptions) (kv.Mark, error)
}

var _ Dumper = (*meta.Store)(nil)

// Manifest lists the segments that rebuild the store.
type Manifest struct {
	Format int `json:"format"`
	// Mark is the kv mark of the last segment's snapshot.
	Mark kv.Mark `json:"mark"`
	// Through: every write acknowledged before this time is in the
	// segments (the time the last segment's snapshot was taken).
	Through  time.Time `json:"through"`
	Segments []Segment `json:"segments"`
}

// Segment is one dump in the backing store.
type Segment struct {
	Key     string    `json:"key"`
	SHA256  string    `json:"sha256"`
	Size    int64     `json:"size"`
	Full    bool      `json:"full,omitempty"`
	Through time.Time `json:"through"`
}

// Sealed reports the keys the mirror writes sealed: auth's users and
// access keys, and meta's composition secret.
func Sealed(key []byte) bool {
	return bytes.HasPrefix(key, []byte("gw/")) || bytes.Equal(key, []byte("K/compose"))
}

// SealKey derives the mirror's AEAD from the server key (32 bytes).
func SealKey(serverKey []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, serverKey)
	m.Write([]byte("tusk metadata mirror v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Status is what a Mirror reports.
type Status struct {
	Through      time.Time // every write acknowledged before it is in the backing store (zero: nothing yet)
	Mark         kv.Mark
	Segments     int
	Bytes        int64 // of the segments the manifest names
	LastFull     time.Time
	Steps        int64
	LastStep     time.Time
	LastDuration time.Duration
	LastError    string
	LastErrorAt  time.Time
}

// Mirror writes the store's records to the backing store, step by step.
type Mirror struct {
	Store   Dumper
	Objects Objects
	AEAD    cipher.AEAD // seals Sealed keys; nil writes them in the clear
	TempDir string      // where a segment is staged before upload ("" = os.TempDir())
	// FullEvery bounds the incremental segments after a checkpoint
	// (default 1000); a checkpoint is also written when they hold more
	// bytes than the last one and than MinIncrementalBytes.
	FullEvery int
	Now       func() time.Time

	mu      sync.Mutex // one step at a time
	man     *Manifest
	pending *staged // a segment whose upload failed
	smu     sync.Mutex
	status  Status
}

// Status returns the mirror's state.
func (m *Mirror) Status() Status {
	m.smu.Lock()
	defer m.smu.Unlock()
	return m.status
}

func (m *Mirror) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// ReadManifest reads the manifest (errs.NotExist when there is none).
func ReadManifest(ctx context.Context, o Objects) (*Manifest, error) {
	rc, err := o.Get(ctx, ManifestKey, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var man Manifest
	if err := json.NewDecoder(io.LimitReader(rc, 64<<20)).Decode(&man); err != nil {
		return nil, errs.E("backup.ReadManifest", errs.Invalid, "%s is corrupt: %v", ManifestKey, err)
	}
	if man.Format != 1 {
		return nil, errs.E("backup.ReadManifest", errs.Invalid, "%s has format %d; this tusk reads format 1", ManifestKey, man.Format)
	}
	return &man, nil
}

// Step mirrors what changed since the previous step. It returns after the
// segment and the manifest naming it are durable in the backing store.
// A segment whose upload failed is kept and uploaded first by the next
// step, so that a backing store that fails for a while does not break the
// incremental chain (the store's tracked mark has moved past it already).
func (m *Mirror) Step(ctx context.Context) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := m.now()
	defer func() {
		m.smu.Lock()
		m.status.Steps++
		m.status.LastStep, m.status.LastDuration = start, m.now().Sub(start)
		if err != nil {
			m.status.LastError, m.status.LastErrorAt = err.Error(), m.now()
		} else {
			m.status.LastError = ""
		}
		m.smu.Unlock()
	}()
	if m.man == nil {
		man, err := ReadManifest(ctx, m.Objects)
		if errs.Is(err, errs.NotExist) {
			man, err = &Manifest{Format: 1}, nil
		}
		if err != nil {
			return err
		}
		m.man = man
	}
	if m.pending != nil {
		if err := m.publish(ctx, m.pending); err != nil {
			return err
		}
		m.pending = nil
	}
	since := m.man.Mark
	if m.needFull() {
		since = ""
	}
	through := m.now() // before the snapshot: every write acknowledged earlier is in it
	seg, err := m.dump(ctx, since)
	if errors.Is(err, kv.ErrMarkLost) && since != "" {
		since, through = "", m.now()
		seg, err = m.dump(ctx, "")
	}
	if err != nil {
		return err
	}
	seg.Full, seg.Through = since == "", through
	if since != "" && seg.mark == m.man.Mark {
		// Nothing was written since the last step.
		os.Remove(seg.path)
		m.man.Through = through
		m.setStatus(m.man)
		return nil
	}
	if err := m.publish(ctx, seg); err != nil {
		m.pending = seg
		return err
	}
	return nil
}

// publish uploads a staged segment, then the manifest naming it; after a
// checkpoint it deletes the segments of the replaced chain. The staged
// file is removed once the manifest is written.
func (m *Mirror) publish(ctx context.Context, seg *staged) error {
	f, err := os.Open(seg.path)
	if err != nil {
		return err
	}
	err = m.Objects.Put(ctx, seg.Key, f, seg.Size)
	f.Close()
	if err != nil {
		return err
	}
	next := *m.man
	next.Mark, next.Through = seg.mark, seg.Through
	if seg.Full {
		next.Segments = []Segment{seg.Segment}
	} else {
		next.Segments = append(append([]Segment(nil), m.man.Segments...), seg.Segment)
	}
	b, err := json.MarshalIndent(&next, "", "  ")
	if err != nil {
		return err
	}
	if err := m.Objects.Put(ctx, ManifestKey, bytes.NewReader(b), int64(len(b))); err != nil {
		return err
	}
	os.Remove(seg.path)
	old := m.man.Segments
	m.man = &next
	m.setStatus(&next)
	if seg.Full {
		for _, s := range old {
			if s.Key != seg.Key {
				// Unreferenced now; one left behind only costs space.
				_ = m.Objects.Delete(ctx, s.Key)
			}
		}
	}
	return nil
}

// needFull reports whether the next step should write a checkpoint.
func (m *Mirror) needFull() bool {
	segs := m.man.Segments
	if len(segs) == 0 || m.man.Mark == "" {
		return true
	}
	every := m.FullEvery
	if every <= 0 {
		every = 1000
	}
	var inc int64
	for _, s := range segs[1:] {
		inc += s.Size
	}
	return len(segs)-1 >= every || inc > max(segs[0].Size, MinIncrementalBytes)
}

// MinIncrementalBytes: incremental segments may hold this much (or as
// much as the checkpoint, when larger) before a new checkpoint is taken,
// so a restore reads at most about twice the store or the checkpoint plus
// this much.
const MinIncrementalBytes = 16 << 20

func (m *Mirror) setStatus(man *Manifest) {
	m.smu.Lock()
	defer m.smu.Unlock()
	m.status.Through, m.status.Mark, m.status.Segments = man.Through, man.Mark, len(man.Segments)
	m.status.Bytes = 0
	for _, s := range man.Segments {
		m.status.Bytes += s.Size
		if s.Full {
			m.status.LastFull = s.Through
		}
	}
}

type staged struct {
	Segment
	path string
	mark kv.Mark
}

// StagePattern names the files a step stages segments in (in TempDir).
const StagePattern = "tusk-meta-segment-*"

// dump stages a dump in a temp file, hashing it.
func (m *Mirror) dump(ctx context.Context, since kv.Mark) (*staged, error) {
	f, err := os.CreateTemp(m.TempDir, StagePattern)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	mark, err := m.Store.Dump(ctx, io.MultiWriter(f, h), kv.DumpOptions{Since: since, Track: true, Seal: Sealed, AEAD: m.AEAD})
	var size int64
	if err == nil {
		size, err = f.Seek(0, io.SeekCurrent)
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return &staged{Segment: Segment{Key: SegPrefix + sum, SHA256: sum, Size: size}, path: f.Name(), mark: mark}, nil
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// AEAD opens the sealed entries (SealKey of the server key).
	AEAD cipher.AEAD
	// NoUsers restores without the sealed entries (users, access keys):
	// the gateway then creates its admin as at a first start.
	NoUsers bool
}

// RestoreReport says what Restore did.
type RestoreReport struct {
	Segments int
	Bytes    int64
	Records  uint64 // sets and deletions applied
	Skipped  uint64 // sealed entries left out (NoUsers)
	Through  time.Time
}

// Restore rebuilds a metadata store in dir (which must not exist or be
// empty) from the mirror in o: the manifest's segments in order, each
// checked against its SHA-256. On error dir is left absent.
func Restore(ctx context.Context, o Objects, dir string, opt RestoreOptions) (*RestoreReport, error) {
	man, err := ReadManifest(ctx, o)
	if errs.Is(err, errs.NotExist) {
		return nil, errs.E("backup.Restore", errs.NotExist, "the backing store holds no metadata mirror (%s): was the gateway run with the mirror on?", ManifestKey)
	}
	if err != nil {
		return nil, err
	}
	if len(man.Segments) == 0 || !man.Segments[0].Full {
		return nil, errs.E("backup.Restore", errs.Invalid, "%s names no full checkpoint first", ManifestKey)
	}
	rep := &RestoreReport{Segments: len(man.Segments), Through: man.Through}
	aead := opt.AEAD
	if opt.NoUsers {
		aead = nil
	}
	err = meta.Restore(ctx, dir, func(db kv.Store) error {
		for i, s := range man.Segments {
			if err := restoreSegment(ctx, o, db, s, aead, opt.NoUsers, rep); err != nil {
				return fmt.Errorf("segment %d of %d (%s): %w", i+1, len(man.Segments), s.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func restoreSegment(ctx context.Context, o Objects, db kv.Store, s Segment, aead cipher.AEAD, skip bool, rep *RestoreReport) error {
	rc, err := o.Get(ctx, s.Key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(rc, h)}
	st, err := kv.Load(ctx, db, cr, aead, skip)
	if errors.Is(err, kv.ErrSealed) {
		return errs.E("backup.Restore", errs.Permission, "users and access keys are sealed with the server key: give the gateway's server key (--server-key-file), or restore without them (--no-users)")
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 || cr.n != s.Size {
		return errs.E("backup.Restore", errs.Invalid, "content does not match the manifest (sha256 %s, %d bytes; want %s, %d bytes)", got, cr.n, s.SHA256, s.Size)
	}
	rep.Bytes += cr.n
	rep.Records += st.Sets + st.Deletes
	rep.Skipped += st.Skipped
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
