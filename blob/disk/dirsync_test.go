package disk

import (
	"errors"
	"sync"
	"testing"
)

// fakeFsync is an fsync that reports each call on started and returns
// the error sent on release.
type fakeFsync struct {
	started chan int
	release chan error
	mu      sync.Mutex
	calls   int
}

func (f *fakeFsync) fsync() error {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	f.started <- n
	return <-f.release
}

// TestDirSyncsShareTheNextFsync: callers arriving while a directory's
// fsync runs are not answered by it (it may have started before their
// entries existed) but share the next one, with its error; a caller
// arriving when none runs starts its own at once.
func TestDirSyncsShareTheNextFsync(t *testing.T) {
	boom := errors.New("fsync failed")
	for _, tc := range []struct {
		name             string
		first, second    error
		joiners          int
		wantFirst, wantJ error
	}{
		{"both succeed", nil, nil, 3, nil, nil},
		{"first fails", boom, nil, 3, boom, nil},
		{"second fails", nil, boom, 5, nil, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFsync{started: make(chan int), release: make(chan error)}
			joined := make(chan string)
			ds := &dirSyncs{onJoin: func(dir string) { joined <- dir }}

			firstDone := make(chan error, 1)
			go func() { firstDone <- ds.sync("d", f.fsync) }()
			if n := <-f.started; n != 1 {
				t.Fatalf("first caller started fsync %d", n)
			}
			// Joiners arrive while fsync 1 runs.
			answers := make(chan error, tc.joiners)
			for i := 0; i < tc.joiners; i++ {
				go func() { answers <- ds.sync("d", f.fsync) }()
				<-joined
			}
			// Another directory is not held up by d's fsync.
			o := &fakeFsync{started: make(chan int), release: make(chan error)}
			otherDone := make(chan error, 1)
			go func() { otherDone <- ds.sync("other", o.fsync) }()
			<-o.started
			o.release <- nil
			if err := <-otherDone; err != nil {
				t.Fatalf("other directory: %v", err)
			}

			f.release <- tc.first
			if err := <-firstDone; err != tc.wantFirst {
				t.Fatalf("first caller got %v, want %v", err, tc.wantFirst)
			}
			// The joiners' round starts now; none is answered before it ends.
			<-f.started
			select {
			case err := <-answers:
				t.Fatalf("a joiner was answered (%v) before its own fsync ended", err)
			default:
			}
			f.release <- tc.second
			for i := 0; i < tc.joiners; i++ {
				if err := <-answers; err != tc.wantJ {
					t.Fatalf("joiner got %v, want %v", err, tc.wantJ)
				}
			}
			f.mu.Lock()
			calls := f.calls
			f.mu.Unlock()
			if calls != 2 {
				t.Fatalf("%d fsyncs of d for 1 + %d callers, want 2", calls, tc.joiners)
			}
			// Idle again: the next caller starts its own fsync at once.
			go func() { firstDone <- ds.sync("d", f.fsync) }()
			<-f.started
			f.release <- nil
			if err := <-firstDone; err != nil {
				t.Fatal(err)
			}
		})
	}
}
