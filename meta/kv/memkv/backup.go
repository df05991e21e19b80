package memkv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/tusk-data/tusk/meta/kv"
)

// dumpState records which keys each commit wrote, so that Dump can answer
// incremental dumps (deletions included). It is guarded by Store.wmu.
type dumpState struct {
	epoch   string
	seq     uint64   // commits so far
	log     []change // commits after base, in order
	base    uint64   // the log holds the commits numbered base+1..seq
	pin     uint64   // mark of the latest tracked Dump, when tracked
	tracked bool
}

type change struct {
	seq  uint64
	keys []string
}

// noteCommit records a write transaction's keys (wmu held).
func (s *Store) noteCommit(pending map[string]*[]byte) {
	d := &s.dump
	d.seq++
	keys := make([]string, 0, len(pending))
	for k := range pending {
		keys = append(keys, k)
	}
	d.log = append(d.log, change{seq: d.seq, keys: keys})
	// Nobody can ask for changes before the tracked mark any more.
	if !d.tracked {
		d.log, d.base = nil, d.seq
	}
}

// Dump implements kv.Dumper. Marks are "<epoch>:<commit count>".
func (s *Store) Dump(ctx context.Context, w io.Writer, o kv.DumpOptions) (kv.Mark, error) {
	s.wmu.Lock()
	d := &s.dump
	if d.epoch == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		d.epoch = hex.EncodeToString(b)
	}
	snap, seq, epoch := s.cur.Load(), d.seq, d.epoch
	var since uint64
	if o.Since != "" {
		e, ts, ok := strings.Cut(string(o.Since), ":")
		n, err := strconv.ParseUint(ts, 10, 64)
		if !ok || err != nil || e != d.epoch || n > seq || (n != seq && (!d.tracked || n != d.pin || n < d.base)) {
			s.wmu.Unlock()
			return "", kv.ErrMarkLost
		}
		since = n
	}
	var changed []string
	if o.Since != "" {
		seen := map[string]bool{}
		for _, c := range d.log {
			if c.seq > since {
				for _, k := range c.keys {
					if !seen[k] {
						seen[k] = true
						changed = append(changed, k)
					}
				}
			}
		}
		sort.Strings(changed)
	}
	if o.Track {
		// Drop what no tracked mark needs any more.
		i := sort.Search(len(d.log), func(i int) bool { return d.log[i].seq > seq })
		d.log, d.base, d.pin, d.tracked = append([]change(nil), d.log[i:]...), seq, seq, true
	}
	s.wmu.Unlock()

	dw := o.Writer(w)
	var err error
	if o.Since == "" {
		for _, c := range snap.chunks {
			for _, e := range c {
				if err = dw.Set(e.key, e.val); err != nil {
					return "", err
				}
			}
		}
	} else {
		for _, k := range changed {
			if v, ok := snap.get([]byte(k)); ok {
				err = dw.Set([]byte(k), v)
			} else {
				err = dw.Delete([]byte(k))
			}
			if err != nil {
				return "", err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	mark := kv.Mark(epoch + ":" + strconv.FormatUint(seq, 10))
	return mark, dw.Close(mark)
}
