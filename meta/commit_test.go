package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/meta/kv/memkv"
)

// syncProbe is a kv.Store that numbers committed write transactions and
// knows which of them a successful Sync covered (those committed before
// the Sync began), and in which transaction each commit record was
// written. failSync says whether the nth Sync (from 1) fails.
type syncProbe struct {
	kv.Store
	failSync func(n int) bool

	mu       sync.Mutex
	commits  int64            // write transactions committed
	durable  int64            // transactions covered by a successful Sync
	syncs    int              // Sync calls
	commitOf map[string]int64 // commit id -> transaction that wrote its record
}

func newSyncProbe(failSync func(n int) bool) *syncProbe {
	return &syncProbe{Store: memkv.New(kv.Limits{}), failSync: failSync, commitOf: map[string]int64{}}
}

func (p *syncProbe) Begin(write bool) (kv.Txn, error) {
	txn, err := p.Store.Begin(write)
	if err != nil || !write {
		return txn, err
	}
	return &probeTxn{Txn: txn, p: p}, nil
}

func (p *syncProbe) Sync(ctx context.Context) error {
	p.mu.Lock()
	p.syncs++
	n, covered := p.syncs, p.commits
	p.mu.Unlock()
	if p.failSync != nil && p.failSync(n) {
		return errors.New("injected sync failure")
	}
	if err := p.Store.Sync(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	p.durable = max(p.durable, covered)
	p.mu.Unlock()
	return nil
}

// covered reports whether commit id's record is durable.
func (p *syncProbe) covered(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	seq, ok := p.commitOf[id]
	return ok && seq <= p.durable
}

type probeTxn struct {
	kv.Txn
	p   *syncProbe
	ids []string
}

func (t *probeTxn) Set(k, v []byte) error {
	if err := t.Txn.Set(k, v); err != nil {
		return err
	}
	if bytes.HasPrefix(k, []byte(pCommit)) {
		t.ids = append(t.ids, string(k[bytes.LastIndexByte(k, '/')+1:]))
	}
	return nil
}

func (t *probeTxn) Commit() error {
	if err := t.Txn.Commit(); err != nil {
		return err
	}
	t.p.mu.Lock()
	t.p.commits++
	for _, id := range t.ids {
		t.p.commitOf[id] = t.p.commits
	}
	t.p.mu.Unlock()
	return nil
}

// TestPipelinedCommitAnswersAfterItsSync runs many concurrent writers on
// a few branches through the pipelined committer, with and without failing
// syncs, and checks that every answer and every branch event comes after a
// successful Sync that covered its commit, that a failed Sync fails the
// writes it covered, and that each branch's history holds every writer's
// commits in the order the writer made them, reported to watchers in that
// order.
func TestPipelinedCommitAnswersAfterItsSync(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failSync func(n int) bool
	}{
		{"syncs succeed", nil},
		{"every 5th sync fails", func(n int) bool { return n%5 == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			probe := newSyncProbe(tc.failSync)
			s, err := OpenStore(probe, Options{MaxBatch: 8})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const repo, branches, writers, writes = "pipe", 3, 12, 40
			if _, err := s.CreateRepo(ctx, repo, "t"); err != nil {
				t.Fatal(err)
			}
			for b := 1; b < branches; b++ {
				if _, err := s.CreateBranch(ctx, repo, fmt.Sprint("b", b), "main"); err != nil {
					t.Fatal(err)
				}
			}
			branch := func(w int) string {
				if w%branches == 0 {
					return "main"
				}
				return fmt.Sprint("b", w%branches)
			}

			var mu sync.Mutex
			events := map[string][]string{} // branch -> commits reported, in order
			var late []string
			s.Watch(func(ev HeadEvent) {
				if ev.Kind != "commit" {
					return
				}
				mu.Lock()
				if !probe.covered(ev.Commit) {
					late = append(late, ev.Commit)
				}
				events[ev.Branch] = append(events[ev.Branch], ev.Commit)
				mu.Unlock()
			})

			ok := make([][]string, writers) // per writer, its acknowledged commits in order
			var failed, early int
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < writes; i++ {
						res, err := s.Write(ctx, WriteRequest{Repo: repo, Branch: branch(w),
							Changes: []Change{{Key: fmt.Sprintf("w%02d/%03d", w, i), Entry: &Entry{ETag: fmt.Sprint(i)}}}})
						mu.Lock()
						switch {
						case err != nil && errs.Is(err, errs.Internal) && tc.failSync != nil:
							failed++
						case err != nil:
							t.Errorf("writer %d write %d: %v", w, i, err)
						case !probe.covered(res.Version):
							early++
						default:
							ok[w] = append(ok[w], res.Version)
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if early > 0 || len(late) > 0 {
				t.Fatalf("%d answers and %d events came before a sync covered them", early, len(late))
			}
			if tc.failSync != nil && failed == 0 {
				t.Fatalf("no write failed although syncs failed (%d syncs)", probe.syncs)
			}

			// Each branch's first-parent history, oldest first.
			hist := map[string][]string{}
			for b := 0; b < branches; b++ {
				ref, err := s.Resolve(ctx, repo, branch(b))
				if err != nil {
					t.Fatal(err)
				}
				log, err := s.Log(ctx, ref.Commit, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range slices.Backward(log) {
					hist[branch(b)] = append(hist[branch(b)], c.ID)
				}
			}
			pos := func(list []string, id string) int { return slices.Index(list, id) }
			for w := 0; w < writers; w++ {
				h, ev := hist[branch(w)], events[branch(w)]
				for i := 1; i < len(ok[w]); i++ {
					if pos(h, ok[w][i-1]) >= pos(h, ok[w][i]) || pos(h, ok[w][i]) < 0 {
						t.Fatalf("writer %d: commit %d is not after commit %d in the history of %s", w, i, i-1, branch(w))
					}
					if pos(ev, ok[w][i-1]) >= pos(ev, ok[w][i]) || pos(ev, ok[w][i]) < 0 {
						t.Fatalf("writer %d: commit %d was not reported after commit %d", w, i, i-1)
					}
				}
			}
			// Events follow each branch's history (failed writes are in
			// the history but never reported).
			for b, ev := range events {
				last := -1
				for _, id := range ev {
					p := pos(hist[b], id)
					if p <= last {
						t.Fatalf("branch %s: events out of history order", b)
					}
					last = p
				}
			}
			acked := 0
			for _, l := range ok {
				acked += len(l)
			}
			if acked+failed != writers*writes {
				t.Fatalf("%d acknowledged + %d failed, want %d writes", acked, failed, writers*writes)
			}
			t.Logf("%d writes: %d acknowledged, %d failed, %d syncs", writers*writes, acked, failed, probe.syncs)
		})
	}
}
