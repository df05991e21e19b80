package blob

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"

	"github.com/tusk-data/tusk/internal/errs"
)

// Composer is an optional Driver capability: joining stored keys into a new
// key without sending their bytes through the caller. blob/disk
// concatenates files (copy_file_range where the kernel has it); blob/s3
// uses the backend's own multipart upload with server-side part copies.
type Composer interface {
	// Compose stores at dst the concatenation of srcs, in order. Like Put it
	// replaces dst atomically (dst is its old value or complete, never
	// partial) and is durable when it returns nil. srcs are left as they
	// are. Errors: errs.Invalid for a bad key or an empty srcs;
	// errs.NotExist when a source is absent; otherwise the classified
	// backend error. Drivers over S3 need every source but the last to be
	// at least 5 MiB (S3's part rule), which S3's own multipart rules
	// guarantee for the parts Tusk composes.
	Compose(ctx context.Context, dst string, srcs []string) error
}

// SetComposeKey sets the secret that keys the content addresses of
// composed blobs (see ComposeAddress). Tusk keeps one per installation, in
// its metadata store. A Store without a key uses the empty key.
func (s *Store) SetComposeKey(key []byte) {
	k := append([]byte(nil), key...)
	s.composeKey.Store(&k)
}

// HasComposeKey reports whether SetComposeKey was called.
func (s *Store) HasComposeKey() bool { return s.composeKey.Load() != nil }

// ComposeAddress returns the content address of the blob that concatenates
// the blobs partHashes, in order: HMAC-SHA-256, keyed with key, over the
// concatenated binary (32-byte) SHA-256s of the parts followed by the
// decimal part count. It depends only on the parts (so composing the same
// parts again finds the blob already stored) and is computed without
// reading the content. The key separates composed addresses from plain
// content addresses (the SHA-256 of the bytes): without it, anyone who
// knows the parts could store the preimage as an ordinary blob and collide
// with the composed one. A malformed hash is errs.Invalid.
func ComposeAddress(key []byte, partHashes []string) (string, error) {
	m := hmac.New(sha256.New, key)
	for _, h := range partHashes {
		if err := CheckHash(h); err != nil {
			return "", err
		}
		b, _ := hex.DecodeString(h)
		m.Write(b)
	}
	m.Write([]byte(strconv.Itoa(len(partHashes))))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// Compose stores the concatenation of the blobs partHashes (whose sizes are
// sizes) as one blob at ComposeAddress and returns its Info (MD5 is nil:
// the content is never read back whole to compute it). When that blob is
// already stored with the right size, nothing is written. Drivers that
// implement Composer join the parts themselves; for the others the parts
// are streamed, in order and with bounded memory, through a temporary key
// as Put does. The parts stay stored. Errors: errs.Invalid for no parts,
// a malformed hash, a negative size or mismatched lengths; errs.NotExist
// when a part is absent; errs.Internal when the result does not have the
// sum of sizes; otherwise the driver's error. Nothing partial is left at
// the content address.
func (s *Store) Compose(ctx context.Context, partHashes []string, sizes []int64) (Info, error) {
	const op = "blob.Compose"
	if len(partHashes) == 0 {
		return Info{}, errs.E(op, errs.Invalid, "no parts to compose")
	}
	if len(sizes) != len(partHashes) {
		return Info{}, errs.E(op, errs.Invalid, "%d parts but %d sizes", len(partHashes), len(sizes))
	}
	var total int64
	for i, n := range sizes {
		if n < 0 {
			return Info{}, errs.E(op, errs.Invalid, "part %d has negative size %d", i+1, n)
		}
		total += n
	}
	var key []byte
	if k := s.composeKey.Load(); k != nil {
		key = *k
	}
	addr, err := ComposeAddress(key, partHashes)
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, &errs.Error{Op: op, Msg: "compose interrupted", Err: err}
	}
	info := Info{Hash: addr, Size: total}
	final := Key(addr)
	switch a, err := s.d.Stat(ctx, final); {
	case err == nil && a.Size == total:
		return info, nil // already composed
	case err != nil && !errs.Is(err, errs.NotExist):
		return Info{}, err
	}
	srcs := make([]string, len(partHashes))
	for i, h := range partHashes {
		srcs[i] = Key(h)
	}
	if c, ok := s.d.(Composer); ok {
		if err := c.Compose(ctx, final, srcs); err != nil {
			return Info{}, err
		}
	} else if err := s.composeByCopy(ctx, final, srcs, total); err != nil {
		return Info{}, err
	}
	a, err := s.d.Stat(ctx, final)
	if err != nil {
		return Info{}, err
	}
	if a.Size != total {
		return Info{}, errs.E(op, errs.Internal, "composed blob %s has %d bytes, want %d (a part is not the size recorded)", addr, a.Size, total)
	}
	return info, nil
}

// composeByCopy streams srcs through a temporary key to dst.
func (s *Store) composeByCopy(ctx context.Context, dst string, srcs []string, total int64) error {
	tmp := TempPrefix + randomName()
	r := &concatReader{ctx: ctx, d: s.d, keys: srcs}
	err := s.d.Put(ctx, tmp, r, total)
	if cerr := r.close(); err == nil && r.err != nil {
		err = r.err
	} else if err == nil {
		err = cerr
	}
	if err == nil {
		err = s.d.Move(ctx, tmp, dst)
	}
	if err != nil {
		s.discard(ctx, tmp)
	}
	return err
}

// concatReader reads keys one after the other, opening each only when the
// previous one is done.
type concatReader struct {
	ctx  context.Context
	d    Driver
	keys []string
	cur  io.ReadCloser
	err  error // first error of opening or reading a source
}

func (c *concatReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if c.cur == nil {
			if len(c.keys) == 0 {
				return 0, io.EOF
			}
			rc, err := c.d.Get(c.ctx, c.keys[0], 0, -1)
			if err != nil {
				c.err = err
				return 0, err
			}
			c.cur, c.keys = rc, c.keys[1:]
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur.Close()
			c.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			c.err = err
		}
		return n, err
	}
}

func (c *concatReader) close() error {
	if c.cur != nil {
		err := c.cur.Close()
		c.cur = nil
		return err
	}
	return nil
}
