package blob

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tusk-data/tusk/internal/errs"
)

// The upload pipeline. A source reads the caller's stream into 1 MiB chunks
// taken from a pool and hands each chunk both to the driver (through Read or
// WriteTo) and to two hashing goroutines (MD5 and SHA-256), so that writing
// and the two digests run side by side instead of one after the other. A
// chunk goes back to the pool when all three consumers are done with it.
// Hash channels hold at most hashQueue chunks, so one upload pins at most
// about hashQueue+3 chunks, whatever the object's size.

const (
	chunkSize = 1 << 20
	hashQueue = 3
)

type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, chunkSize)} }}

func getChunk() *chunk {
	c := chunkPool.Get().(*chunk)
	c.n = 0
	c.refs.Store(1)
	return c
}

// release drops one reference; the last one returns c to the pool.
func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		chunkPool.Put(c)
	}
}

// hasher computes MD5 and SHA-256 of the chunks sent to it, each digest in
// its own goroutine.
type hasher struct {
	md5, sha hash.Hash
	chs      [2]chan *chunk
	wg       sync.WaitGroup
	done     bool
}

func newHasher() *hasher {
	h := &hasher{md5: md5.New(), sha: sha256.New()}
	for i, d := range [2]hash.Hash{h.md5, h.sha} {
		ch := make(chan *chunk, hashQueue)
		h.chs[i] = ch
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for c := range ch {
				d.Write(c.buf[:c.n])
				c.release()
			}
		}()
	}
	return h
}

// send queues c for both digests; it blocks while the slower digest is
// hashQueue chunks behind.
func (h *hasher) send(c *chunk) {
	c.refs.Add(int32(len(h.chs)))
	for _, ch := range h.chs {
		ch <- c
	}
}

// finish stops the goroutines and returns the digests of everything sent.
// It may be called more than once.
func (h *hasher) finish() (md5sum, sha []byte) {
	if !h.done {
		h.done = true
		for _, ch := range h.chs {
			close(ch)
		}
		h.wg.Wait()
	}
	return h.md5.Sum(nil), h.sha.Sum(nil)
}

// source is the reader a Store hands to Driver.Put. It enforces the declared
// size and the context, and remembers the first error it returned so that
// the Store can report it unchanged whatever the driver wraps it in.
type source struct {
	ctx  context.Context
	r    io.Reader
	want int64 // declared size, -1 when unknown
	h    *hasher

	// mu fences the source: a driver may leave a goroutine reading it after
	// Put returns (net/http writes request bodies from its own goroutine);
	// once close has run, such reads fail and touch nothing.
	mu     sync.Mutex
	closed bool

	cur *chunk // chunk being handed to the driver
	off int    // bytes of cur already handed over
	n   int64  // bytes read from r so far
	eof bool   // r returned io.EOF
	err error  // sticky error, already classified
}

var errClosed = errs.E("blob.Put", errs.Internal, "body read after the driver's Put returned")

// fill reads the next chunk from r. It returns io.EOF at the end of a stream
// of acceptable length, or the sticky error.
func (s *source) fill() error {
	if s.err != nil {
		return s.err
	}
	if s.eof {
		return io.EOF
	}
	if err := s.ctx.Err(); err != nil {
		s.err = &errs.Error{Op: "blob.Put", Msg: "upload interrupted", Err: err}
		return s.err
	}
	c := getChunk()
	n, err := io.ReadFull(s.r, c.buf)
	c.n = n
	s.n += int64(n)
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		s.eof = true
	default:
		c.release()
		s.err = &errs.Error{Op: "blob.Put", Msg: "reading body", Err: err}
		return s.err
	}
	if s.want >= 0 && s.n > s.want {
		c.release()
		s.err = errs.E("blob.Put", errs.Invalid, "body is longer than its declared size %d", s.want).Because(errs.IncompleteBody)
		return s.err
	}
	if s.eof && s.want >= 0 && s.n < s.want {
		c.release()
		s.err = errs.E("blob.Put", errs.Invalid, "body is %d bytes, shorter than its declared size %d", s.n, s.want).Because(errs.IncompleteBody)
		return s.err
	}
	if n == 0 {
		c.release()
		return io.EOF
	}
	s.h.send(c)
	s.cur, s.off = c, 0
	return nil
}

// next makes sure cur has unread bytes, filling when needed.
func (s *source) next() error {
	for s.cur == nil || s.off == s.cur.n {
		if s.cur != nil {
			s.cur.release()
			s.cur = nil
		}
		if err := s.fill(); err != nil {
			return err
		}
	}
	return nil
}

func (s *source) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.next(); err != nil {
		return 0, err
	}
	n := copy(p, s.cur.buf[s.off:s.cur.n])
	s.off += n
	return n, nil
}

// WriteTo lets io.Copy write whole chunks to the driver without a copy.
func (s *source) WriteTo(w io.Writer) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	var total int64
	for {
		if err := s.next(); err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
		n, err := w.Write(s.cur.buf[s.off:s.cur.n])
		s.off += n
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// done checks, after the driver accepted the stream, that it consumed all
// of it and that the stream ended where it should.
func (s *source) done() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.off < s.cur.n {
		return errs.E("blob.Put", errs.Internal, "driver stopped reading at byte %d of the body", s.n-int64(s.cur.n-s.off))
	}
	switch err := s.next(); err {
	case io.EOF:
		return nil
	case nil:
		return errs.E("blob.Put", errs.Internal, "driver stopped reading before the end of the body")
	default:
		return err
	}
}

// close releases the chunk still held and fences off later reads. After
// close, the hasher receives nothing more and may be finished. It returns
// the sticky error, if any.
func (s *source) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cur != nil {
		s.cur.release()
		s.cur = nil
	}
	return s.err
}
