package disk

import "sync"

// dirSyncs shares directory fsyncs among concurrent callers. A caller
// needs the entries it made in a directory (renames, new subdirectories)
// durable: it waits for the first fsync of that directory that starts after
// its call, which covers them. Callers that arrive while an fsync of the
// directory runs share the next one, so N writers into one directory cost
// about two fsyncs, not N; a caller arriving when none runs starts one at
// once (no added latency).
type dirSyncs struct {
	mu   sync.Mutex
	dirs map[string]*dirSync // directories with an fsync running
	// onJoin, set by tests, is called when a caller joins a pending round.
	onJoin func(dir string)
}

// dirSync is one directory's state while an fsync of it runs.
type dirSync struct {
	// next is the round that callers arriving now join; it starts when
	// the running one ends (nil: no caller waits).
	next *syncRound
}

// syncRound is one fsync of a directory and its outcome.
type syncRound struct {
	done chan struct{} // closed when err is set
	err  error
}

// sync returns once an fsync of dir (done by fsync) that started after
// the call has returned, with that fsync's error.
func (ds *dirSyncs) sync(dir string, fsync func() error) error {
	r := &syncRound{done: make(chan struct{})}
	ds.mu.Lock()
	if ds.dirs == nil {
		ds.dirs = map[string]*dirSync{}
	}
	st, running := ds.dirs[dir]
	if running {
		if st.next == nil {
			st.next = r
		}
		r = st.next
		ds.mu.Unlock()
		if ds.onJoin != nil {
			ds.onJoin(dir)
		}
		<-r.done
		return r.err
	}
	st = &dirSync{}
	ds.dirs[dir] = st
	ds.mu.Unlock()
	ds.run(dir, st, r, fsync)
	return r.err
}

// run does round r, then hands the next round (if callers joined one) to
// a new goroutine, so that r's caller returns after its own fsync only.
func (ds *dirSyncs) run(dir string, st *dirSync, r *syncRound, fsync func() error) {
	r.err = fsync()
	close(r.done)
	ds.mu.Lock()
	next := st.next
	st.next = nil
	if next == nil {
		delete(ds.dirs, dir)
	}
	ds.mu.Unlock()
	if next != nil {
		go ds.run(dir, st, next, fsync)
	}
}
