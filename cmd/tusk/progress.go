package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar on a terminal (stderr) while
// files move; it draws nothing when w is not a terminal.
type progress struct {
	w          io.Writer
	verb       string
	files      int
	total      int64
	doneFiles  atomic.Int64
	doneBytes  atomic.Int64
	start      time.Time
	stop, done chan struct{}
	once       sync.Once
}

func newProgress(w io.Writer, verb string, files int, total int64) *progress {
	p := &progress{w: w, verb: verb, files: files, total: total, start: time.Now()}
	if !isTerminal(w) {
		return p
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.draw(true)
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

func (p *progress) add(n int64) { p.doneBytes.Add(n) }
func (p *progress) fileDone()   { p.doneFiles.Add(1) }

// finish stops drawing (the last frame stays, followed by a newline).
func (p *progress) finish() {
	p.once.Do(func() {
		if p.stop != nil {
			close(p.stop)
			<-p.done
		}
	})
}

func (p *progress) draw(last bool) {
	const width = 30
	b, f := p.doneBytes.Load(), p.doneFiles.Load()
	frac := 1.0
	if p.total > 0 {
		frac = float64(b) / float64(p.total)
	} else if p.files > 0 {
		frac = float64(f) / float64(p.files)
	}
	if frac > 1 {
		frac = 1
	}
	n := int(frac * width)
	bar := strings.Repeat("#", n) + strings.Repeat("-", width-n)
	rate := float64(b) / time.Since(p.start).Seconds()
	line := fmt.Sprintf("\r%s [%s] %3.0f%%  %d/%d files  %s/%s  %s/s ", p.verb, bar, frac*100, f, p.files,
		fsize(b), fsize(p.total), fsize(int64(rate)))
	if last {
		line += "\n"
	}
	fmt.Fprint(p.w, line)
}

// countingReadSeeker reports bytes to a progress bar once each: a reader
// that is read, rewound and read again (an SDK hashing the payload before
// sending it) counts the file's bytes once.
type countingReadSeeker struct {
	rs       io.ReadSeeker
	p        *progress
	pos, max int64
}

func (c *countingReadSeeker) Read(b []byte) (int, error) {
	n, err := c.rs.Read(b)
	c.pos += int64(n)
	if c.pos > c.max {
		c.p.add(c.pos - c.max)
		c.max = c.pos
	}
	return n, err
}

func (c *countingReadSeeker) Seek(off int64, whence int) (int64, error) {
	pos, err := c.rs.Seek(off, whence)
	if err == nil {
		c.pos = pos
	}
	return pos, err
}
