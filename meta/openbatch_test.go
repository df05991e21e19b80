package meta

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// batchGate holds the committer's syncer inside OnSync while closed, so
// that the writes queued meanwhile are all applied into one transaction;
// applied counts the ops applied so far.
type batchGate struct {
	mu      sync.Mutex
	hold    chan struct{} // non-nil: OnSync waits for it to close
	entered chan struct{} // signalled when OnSync starts waiting
	applied atomic.Int64
}

func (g *batchGate) onSync() {
	g.mu.Lock()
	h := g.hold
	g.mu.Unlock()
	if h != nil {
		g.entered <- struct{}{}
		<-h
	}
}

// openGatedStore opens a store on a writeCounter whose syncer g can hold.
func openGatedStore(t *testing.T) (*Store, *writeCounter, *batchGate) {
	t.Helper()
	g := &batchGate{entered: make(chan struct{}, 1)}
	wc := newWriteCounter()
	s, err := OpenStore(wc, Options{OnSync: g.onSync})
	if err != nil {
		t.Fatal(err)
	}
	s.afterApply = func() { g.applied.Add(1) }
	t.Cleanup(func() { s.Close() })
	return s, wc, g
}

// inOneBatch runs writes so that they all land in one group commit, in
// the order given: it holds the syncer with a first write (warm, a
// one-key write into the open commit oc), queues each of writes after the
// previous one was applied, then releases the syncer. It returns each
// write's error.
func inOneBatch(t *testing.T, s *Store, g *batchGate, wc *writeCounter, oc *OpenCommit, writes []func() error) []error {
	t.Helper()
	ctx := context.Background()
	g.mu.Lock()
	g.hold = make(chan struct{})
	hold := g.hold
	g.mu.Unlock()
	warm := make(chan error, 1)
	go func() {
		_, err := s.Write(ctx, WriteRequest{Repo: oc.Repo, Open: oc.ID, Changes: []Change{{Key: "warm", Entry: &Entry{ETag: "w"}}}})
		warm <- err
	}()
	<-g.entered // the warm write's batch is sealed; its sync is held
	wc.take()
	errsOut := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		n := g.applied.Load()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errsOut[i] = w()
		}()
		for g.applied.Load() == n {
			// The committer applies each op as it arrives while the
			// syncer is held: wait for it, so that queue order is ours.
			runtime.Gosched()
		}
	}
	g.mu.Lock()
	g.hold = nil
	g.mu.Unlock()
	close(hold)
	if err := <-warm; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return errsOut
}

// TestOpenWritesOfOneBatchShareOneTreeUpdate: writes into one open commit
// that land in the same group commit update its tree once: the nodes
// written are those of the paths to the leaves they touch (at most levels x
// distinct leaves), not one root-to-leaf path per write; none is written
// before the batch is sealed; and every write reads back.
func TestOpenWritesOfOneBatchShareOneTreeUpdate(t *testing.T) {
	ctx := context.Background()
	s, wc, g := openGatedStore(t)
	if _, err := s.CreateRepo(ctx, "obatch", "t"); err != nil {
		t.Fatal(err)
	}
	oc, err := s.StartCommit(ctx, "obatch", "main", "t", "m", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{Content: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 100, ETag: "0123456789abcdef0123456789abcdef"}
	var cs []Change
	for i := 0; i < 4000; i += 2 {
		cs = append(cs, Change{Key: fmt.Sprintf("out/d%03d/f%05d.txt", i/500, i), Entry: e})
	}
	if _, err := s.Write(ctx, WriteRequest{Repo: "obatch", Open: oc.ID, Changes: cs}); err != nil {
		t.Fatal(err)
	}
	const n = 128 // consecutive new keys, as an upload of a tree sends them
	var writes []func() error
	var keys []string
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("out/d%03d/f%05d.txt", (1001+2*i)/500, 1001+2*i)
		keys = append(keys, key)
		writes = append(writes, func() error {
			res, err := s.Write(ctx, WriteRequest{Repo: "obatch", Open: oc.ID, Changes: []Change{{Key: key, Entry: e}}})
			if err == nil && (res.Version != oc.ID || !res.Changed[0]) {
				err = fmt.Errorf("result %+v", res)
			}
			return err
		})
	}
	var before int
	wrote := 0
	writes[n-1] = func(last func() error) func() error {
		return func() error {
			// Every write before this one was applied: nothing of theirs
			// may be written yet (their tree update waits for the seal).
			before, _ = wc.take()
			return last()
		}
	}(writes[n-1])
	for i, err := range inOneBatch(t, s, g, wc, oc, writes) {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	wrote, _ = wc.take()
	wrote += before
	if before != 0 {
		t.Errorf("%d nodes were written before the batch was sealed", before)
	}
	ref, err := s.Resolve(ctx, "obatch", oc.ID)
	if err != nil {
		t.Fatal(err)
	}
	src := txnNodes{s, nil}
	levels, err := treeLevels(src, ref.Open.Root)
	if err != nil {
		t.Fatal(err)
	}
	leaves := map[Hash]bool{}
	for _, k := range keys {
		e2, err := s.Get(ctx, ref.Open.Root, k)
		if err != nil || e2.Version != oc.ID {
			t.Fatalf("%s after the batch: %+v, %v", k, e2, err)
		}
		leaves[leafOf(t, src, ref.Open.Root, []byte(k))] = true
	}
	if count, err := verifyTree(src, ref.Open.Root); err != nil || count != len(cs)+n+1 {
		t.Fatalf("tree: %d keys, %v; want %d", count, err, len(cs)+n+1)
	}
	t.Logf("%d writes in one batch: %d nodes written; %d levels, %d leaves touched (one path per write: about %d nodes)",
		n, wrote, levels, len(leaves), n*levels)
	if wrote > levels*len(leaves) {
		t.Errorf("%d writes wrote %d nodes, more than %d levels x %d leaves touched", n, wrote, levels, len(leaves))
	}
	if wrote >= n {
		t.Errorf("%d writes wrote %d nodes: not one tree update", n, wrote)
	}
}

// leafOf is the hash of the leaf that holds (or would hold) key.
func leafOf(t *testing.T, src nodeSource, root Hash, key []byte) Hash {
	t.Helper()
	h := root
	for {
		nd, err := src.getNode(h)
		if err != nil {
			t.Fatal(err)
		}
		if nd.leaf {
			return h
		}
		h = nd.kids[childFor(nd, key)]
	}
}

// TestOpenWritesOfOneBatchSeeEachOther: within one group commit, each
// write into an open commit sees the writes queued before it (conditions,
// deletes of keys written earlier in the batch), and an op that is not a
// write into the open commit (finishing it) sees them all: the outcome is
// that of applying the ops one by one.
func TestOpenWritesOfOneBatchSeeEachOther(t *testing.T) {
	ctx := context.Background()
	s, wc, g := openGatedStore(t)
	if _, err := s.CreateRepo(ctx, "obatch", "t"); err != nil {
		t.Fatal(err)
	}
	oc, err := s.StartCommit(ctx, "obatch", "main", "t", "m", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, etag string, c Change) func() error {
		return func() error {
			c.Key, c.Entry = key, &Entry{ETag: etag}
			_, err := s.Write(ctx, WriteRequest{Repo: "obatch", Open: oc.ID, Changes: []Change{c}})
			return err
		}
	}
	del := func(key string) func() error {
		return func() error {
			res, err := s.Write(ctx, WriteRequest{Repo: "obatch", Open: oc.ID, Changes: []Change{{Key: key}}})
			if err == nil && !res.Changed[0] {
				return fmt.Errorf("delete of %s changed nothing", key)
			}
			return err
		}
	}
	var fin *Commit
	errsOut := inOneBatch(t, s, g, wc, oc, []func() error{
		put("a", "a1", Change{}),
		put("a", "a2", Change{IfNoneMatch: "*"}), // a exists: refused
		put("a", "a3", Change{IfMatch: "a1"}),
		put("b", "b1", Change{}),
		del("b"),
		put("c", "c1", Change{IfMatch: "*"}), // c absent: refused
		put("d", "d1", Change{}),
		func() error {
			var err error
			fin, err = s.FinishCommit(ctx, "obatch", oc.ID, "")
			return err
		},
		put("e", "e1", Change{}), // after the finish: no such open commit
	})
	want := []errs.Kind{0, errs.Conflict, 0, 0, 0, errs.NotExist, 0, 0, errs.NotExist}
	for i, err := range errsOut {
		if want[i] == 0 && err != nil || want[i] != 0 && !errs.Is(err, want[i]) {
			t.Errorf("op %d: %v, want kind %v", i, err, want[i])
		}
	}
	if fin == nil {
		t.Fatal("no commit")
	}
	got := map[string]string{}
	page, err := s.List(ctx, fin.Root, "", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page.Entries {
		got[o.Key] = o.Entry.ETag
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]string{"a": "a3", "d": "d1", "warm": "w"}) {
		t.Errorf("finished commit holds %v", got)
	}
}
